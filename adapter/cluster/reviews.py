"""Asking the cluster who a caller is and what it may do: TokenReview,
SubjectAccessReview, and the front proxy's trust settings.

Owns the three API calls delegated authentication and authorization make, as an
aggregated API server's library makes them: `POST
/apis/authentication.k8s.io/v1/tokenreviews` for a bearer token, `POST
/apis/authorization.k8s.io/v1/subjectaccessreviews` for one request's attributes, and
`GET` (or watch) of ConfigMap kube-system/extension-apiserver-authentication, where
kube-apiserver publishes the client CA and the request-header (front proxy) settings.
Caching the answers and deciding what they mean for a request is
`adapter.server.authn`'s and `adapter.server.authz`'s.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from adapter.cluster import watching
from adapter.cluster.connection import Cluster
from adapter.k8s.access import Attributes, UserInfo, extra_from

__all__ = [
    "AUTHENTICATION_CONFIGMAP",
    "AccessDecision",
    "AuthenticationConfig",
    "TokenRejected",
    "list_authentication_config",
    "review_access",
    "review_token",
    "watch_authentication_config",
]

AUTHENTICATION_CONFIGMAP: Final = ("kube-system", "extension-apiserver-authentication")
_CONFIGMAP_PATH: Final = "/api/v1/namespaces/kube-system/configmaps"


class TokenRejected(Exception):
    """The TokenReview said the token authenticates nobody."""


async def review_token(cluster: Cluster, token: str) -> UserInfo:
    """The user a bearer token belongs to; TokenRejected when it belongs to nobody.

    Transport failures come out as the connection's ClusterError: not an answer, so
    callers must not cache them."""
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token},
    }
    answer = await cluster.request_json(
        "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body=body
    )
    state = (answer or {}).get("status") or {}
    if not state.get("authenticated"):
        raise TokenRejected(str(state.get("error") or "token not authenticated"))
    user = state.get("user") or {}
    extra = user.get("extra") or {}
    return UserInfo(
        name=str(user.get("username", "")),
        groups=tuple(str(group) for group in user.get("groups") or ()),
        uid=str(user.get("uid", "")),
        extra=extra_from({str(k): [str(v) for v in vs] for k, vs in extra.items()}),
    )


@dataclass(frozen=True, slots=True)
class AccessDecision:
    allowed: bool
    reason: str = ""
    denied: bool = False
    """An explicit deny (as opposed to no opinion); both refuse the request here."""


async def review_access(cluster: Cluster, attributes: Attributes) -> AccessDecision:
    """One SubjectAccessReview (authorization.k8s.io/v1) for `attributes`."""
    user = attributes.user
    spec: dict[str, Any] = {"user": user.name, "groups": list(user.groups)}
    if user.uid:
        spec["uid"] = user.uid
    if user.extra:
        spec["extra"] = user.extra_dict
    if attributes.resource_request:
        spec["resourceAttributes"] = {
            key: value
            for key, value in (
                ("namespace", attributes.namespace),
                ("verb", attributes.verb),
                ("group", attributes.group),
                ("version", attributes.version),
                ("resource", attributes.resource),
                ("subresource", attributes.subresource),
                ("name", attributes.name),
            )
            if value
        }
    else:
        spec["nonResourceAttributes"] = {"path": attributes.path, "verb": attributes.verb}
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": spec,
    }
    answer = await cluster.request_json(
        "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body=body
    )
    state = (answer or {}).get("status") or {}
    return AccessDecision(
        allowed=bool(state.get("allowed")),
        reason=str(state.get("reason") or ""),
        denied=bool(state.get("denied")),
    )


@dataclass(frozen=True, slots=True)
class AuthenticationConfig:
    """What extension-apiserver-authentication says; None/() where a key is absent."""

    client_ca: str | None = None
    requestheader_client_ca: str | None = None
    requestheader_allowed_names: tuple[str, ...] = ()
    requestheader_username_headers: tuple[str, ...] = ()
    requestheader_group_headers: tuple[str, ...] = ()
    requestheader_extra_headers_prefix: tuple[str, ...] = ()

    @classmethod
    def from_configmap(cls, obj: Mapping[str, Any]) -> AuthenticationConfig:
        data = obj.get("data") or {}

        def strings(key: str) -> tuple[str, ...]:
            raw = data.get(key)
            if not raw:
                return ()
            try:
                values = json.loads(raw)
            except ValueError:
                return ()
            return tuple(str(v) for v in values) if isinstance(values, list) else ()

        return cls(
            client_ca=data.get("client-ca-file") or None,
            requestheader_client_ca=data.get("requestheader-client-ca-file") or None,
            requestheader_allowed_names=strings("requestheader-allowed-names"),
            requestheader_username_headers=strings("requestheader-username-headers"),
            requestheader_group_headers=strings("requestheader-group-headers"),
            requestheader_extra_headers_prefix=strings("requestheader-extra-headers-prefix"),
        )


async def list_authentication_config(
    cluster: Cluster,
) -> tuple[AuthenticationConfig | None, str]:
    """The ConfigMap's settings (None when it does not exist) and the resourceVersion to
    watch it from. Refusals (403: the RoleBinding to extension-apiserver-authentication-
    reader is missing) and transport errors are raised as the connection's errors."""
    _, name = AUTHENTICATION_CONFIGMAP
    body = await cluster.request_json(
        "GET", _CONFIGMAP_PATH, query=[("fieldSelector", f"metadata.name={name}")]
    )
    body = body if isinstance(body, Mapping) else {}
    version = str((body.get("metadata") or {}).get("resourceVersion") or "")
    for item in body.get("items") or ():
        if (item.get("metadata") or {}).get("name") == name:
            return AuthenticationConfig.from_configmap(item), version
    return None, version


async def watch_authentication_config(
    cluster: Cluster, resource_version: str
) -> AsyncIterator[AuthenticationConfig | None]:
    """The ConfigMap's settings after every change seen by one watch from
    `resource_version` (None when it is deleted), until the server ends the watch."""
    _, name = AUTHENTICATION_CONFIGMAP
    async for event in watching.watch_events(
        cluster,
        _CONFIGMAP_PATH,
        resource_version=resource_version,
        field_selector=f"metadata.name={name}",
    ):
        if event.type == "DELETED":
            yield None
        elif event.type in ("ADDED", "MODIFIED"):
            yield AuthenticationConfig.from_configmap(event.object)
