"""Who is asking and for what: `user.Info`, `authorizer.Attributes`, and the wording
of a refusal, as k8s.io/apiserver has them.

Owns the pure half of delegated authorization: reading a request path the way the
apiserver's RequestInfoFactory reads it (`/apis/<group>/<version>/namespaces/<ns>/
<resource>/<name>/<subresource>` is a resource request; `/apis/<group>/<version>` and
shorter, `/healthz`, `/openapi/v2` are not), so the SubjectAccessReview a caller's
request turns into names the same resource, subresource and verb a kube-apiserver would
(`GET .../pods/*/http_requests` is `get` on `pods/http_requests`, a metric of pods, in
the metrics API's group), and the Forbidden message of responsewriters.Forbidden. Asking
the cluster is `adapter.cluster.reviews`'; the HTTP side is `adapter.server.authz`'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from adapter.k8s import gostrings, status

__all__ = [
    "ALL_AUTHENTICATED",
    "ALL_UNAUTHENTICATED",
    "ANONYMOUS",
    "ANONYMOUS_USER",
    "Attributes",
    "UserInfo",
    "extra_from",
    "forbidden_error",
    "forbidden_message",
    "request_attributes",
    "with_authenticated_group",
]

ANONYMOUS: Final = "system:anonymous"
ALL_AUTHENTICATED: Final = "system:authenticated"
ALL_UNAUTHENTICATED: Final = "system:unauthenticated"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated (or anonymous) caller, as user.DefaultInfo."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Sorted (key, values) pairs: hashable, so decisions can be cached by user."""

    @property
    def extra_dict(self) -> dict[str, list[str]]:
        return {key: list(values) for key, values in self.extra}


ANONYMOUS_USER: Final = UserInfo(ANONYMOUS, (ALL_UNAUTHENTICATED,))


def with_authenticated_group(user: UserInfo) -> UserInfo:
    """group.AuthenticatedGroupAdder: every authenticated user is in
    system:authenticated, unless it already names either catch-all group."""
    if ALL_AUTHENTICATED in user.groups or ALL_UNAUTHENTICATED in user.groups:
        return user
    return UserInfo(user.name, (*user.groups, ALL_AUTHENTICATED), user.uid, user.extra)


def extra_from(mapping: Mapping[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((key, tuple(values)) for key, values in mapping.items()))


@dataclass(frozen=True, slots=True)
class Attributes:
    """What one request asks to do: the authorizer.Attributes of the apiserver."""

    user: UserInfo
    verb: str
    resource_request: bool
    path: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


_SPECIAL_VERBS: Final = frozenset({"proxy", "watch"})
_SPECIAL_VERBS_NO_SUBRESOURCES: Final = frozenset({"proxy"})
_NAMESPACE_SUBRESOURCES: Final = frozenset({"status", "finalize"})
_METHOD_VERBS: Final = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_GO_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def request_attributes(
    user: UserInfo, method: str, path: str, query: Mapping[str, str] | None = None
) -> Attributes:
    """RequestInfoFactory.NewRequestInfo for the `/api` and `/apis` prefixes.

    `path` is the decoded path (`*`, not `%2A`). Paths shorter than
    `/apis/<group>/<version>/<something>` are non-resource requests whose verb is the
    lower-cased method, as upstream.
    """
    parts = [part for part in path.strip("/").split("/") if part] if path.strip("/") else []
    non_resource = Attributes(user, method.lower(), False, path=path)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    prefix, rest = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(rest) < 3:
            return non_resource
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    if rest and rest[0] in _SPECIAL_VERBS and len(rest) >= 2:
        verb, rest = rest[0], rest[1:]
    else:
        verb = _METHOD_VERBS.get(method.upper(), "")
    namespace = ""
    if len(rest) > 1 and rest[0] == "namespaces":
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = name = subresource = ""
    if len(rest) >= 3 and verb not in _SPECIAL_VERBS_NO_SUBRESOURCES:
        subresource = rest[2]
    if len(rest) >= 2:
        name = rest[1]
    if len(rest) >= 1:
        resource = rest[0]
    query = query or {}
    if not name and verb == "get":
        verb = "list"
    if verb == "list":
        if query.get("watch", "") in _GO_TRUE:
            verb = "watch"
        selector = query.get("fieldSelector", "")
        if selector.startswith("metadata.name=") and "," not in selector:
            name = selector.removeprefix("metadata.name=")
    if verb == "delete" and not name:
        verb = "deletecollection"
    return Attributes(
        user,
        verb,
        True,
        path=path,
        group=group,
        version=version,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
    )


def forbidden_message(attributes: Attributes) -> str:
    """responsewriters.forbiddenMessage, with its HTML sanitising."""
    user = gostrings.quote(attributes.user.name)
    if not attributes.resource_request:
        text = f"User {user} cannot {attributes.verb} path {gostrings.quote(attributes.path)}"
    else:
        resource = attributes.resource
        if attributes.subresource:
            resource = f"{resource}/{attributes.subresource}"
        text = (
            f"User {user} cannot {attributes.verb} resource {gostrings.quote(resource)} "
            f"in API group {gostrings.quote(attributes.group)}"
        )
        if attributes.namespace:
            text += f" in the namespace {gostrings.quote(attributes.namespace)}"
        else:
            text += " at the cluster scope"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def forbidden_error(attributes: Attributes, reason: str = "") -> status.StatusError:
    """responsewriters.Forbidden: NewForbidden over the attributes' group and resource,
    the message naming the user and what was asked, then the authorizer's reason."""
    message = forbidden_message(attributes)
    if reason:
        message = f"{message}: {reason}"
    if not attributes.resource_request:
        return status.forbidden("", "", "", message)
    return status.forbidden(attributes.group, attributes.resource, attributes.name, message)
