"""Who may do what in the sandbox cluster: bearer tokens, users, and a small RBAC.

Owns the sandbox API server's authentication (static bearer tokens, anonymous requests)
and authorization (rules in the shape of RBAC PolicyRules bound to users and groups,
`system:masters` allowed everything), and the Forbidden wording the real server uses,
so a client denied `list pods` here reads the same error it would read from a cluster.
Turning a request into attributes is `adapter.sandbox.apiserver`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from adapter.k8s import gostrings, status

ANONYMOUS = "system:anonymous"
MASTERS = "system:masters"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated (or anonymous) caller, as `user.Info`."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""

    @property
    def is_anonymous(self) -> bool:
        return self.name == ANONYMOUS


ANONYMOUS_USER = UserInfo(ANONYMOUS, ("system:unauthenticated",))


@dataclass(frozen=True, slots=True)
class Attributes:
    """What a request asks to do (the authorizer.Attributes the real server builds)."""

    user: UserInfo
    verb: str
    resource_request: bool
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


class Authorizer(Protocol):
    def authorize(self, attributes: Attributes) -> Decision: ...


class AllowAll:
    """Every request allowed: the sandbox's default, like a cluster-admin kubeconfig."""

    def authorize(self, attributes: Attributes) -> Decision:
        return Decision(True)


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One RBAC rule with its subjects folded in. "*" is a wildcard everywhere;
    `namespaces` None means every namespace and cluster scope (a ClusterRoleBinding),
    otherwise the rule applies inside those namespaces only (RoleBindings)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ("",)
    resources: tuple[str, ...] = ("*",)
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    namespaces: tuple[str, ...] | None = None
    resource_names: tuple[str, ...] = ()

    def applies_to(self, user: UserInfo) -> bool:
        return (
            "*" in self.users
            or user.name in self.users
            or any(group in self.groups for group in user.groups)
        )

    def allows(self, attributes: Attributes) -> bool:
        if not self.applies_to(attributes.user):
            return False
        if "*" not in self.verbs and attributes.verb not in self.verbs:
            return False
        if self.namespaces is not None and attributes.namespace not in self.namespaces:
            return False
        if "*" not in self.api_groups and attributes.group not in self.api_groups:
            return False
        resource = attributes.resource
        if attributes.subresource:
            resource = f"{resource}/{attributes.subresource}"
        if "*" not in self.resources and resource not in self.resources:
            return False
        return not self.resource_names or attributes.name in self.resource_names


@dataclass(slots=True)
class RuleAuthorizer:
    """RBAC-like: allowed when a rule allows it or the user is in system:masters.

    Non-resource requests (discovery, /version, health) are allowed for everyone, as
    the default `system:discovery` and `system:public-info-viewer` roles do.
    """

    rules: list[PolicyRule] = field(default_factory=list)

    def allow(self, rule: PolicyRule) -> None:
        self.rules.append(rule)

    def authorize(self, attributes: Attributes) -> Decision:
        if MASTERS in attributes.user.groups or not attributes.resource_request:
            return Decision(True)
        if any(rule.allows(attributes) for rule in self.rules):
            return Decision(True)
        return Decision(False)


class Authenticator:
    """Static bearer tokens (kube-apiserver's --token-auth-file, in memory)."""

    def __init__(self) -> None:
        self._tokens: dict[str, UserInfo] = {}
        self.allow_anonymous = True
        """Requests without credentials run as system:anonymous (kube-apiserver's
        default); False makes them 401, as `--anonymous-auth=false` does."""

    def add_token(self, token: str, user: str, groups: Iterable[str] = (), uid: str = "") -> None:
        self._tokens[token] = UserInfo(user, (*groups, "system:authenticated"), uid)

    def user_for_token(self, token: str) -> UserInfo | None:
        return self._tokens.get(token)

    def authenticate(self, authorization: str | None) -> UserInfo:
        """The caller behind an Authorization header; 401 for unknown credentials."""
        if not authorization:
            if self.allow_anonymous:
                return ANONYMOUS_USER
            raise status.unauthorized("Unauthorized")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise status.unauthorized("Unauthorized")
        user = self._tokens.get(token.strip())
        if user is None:
            raise status.unauthorized("Unauthorized")
        return user


def forbidden_error(attributes: Attributes, reason: str = "") -> status.StatusError:
    """The 403 the real server writes (responsewriters.forbiddenMessage + NewForbidden)."""
    user = gostrings.quote(attributes.user.name)
    if not attributes.resource_request:
        message = f"User {user} cannot {attributes.verb} path {gostrings.quote(attributes.path)}"
        if reason:
            message = f"{message}: {reason}"
        return status.forbidden("", "", "", message)
    resource = attributes.resource
    if attributes.subresource:
        resource = f"{resource}/{attributes.subresource}"
    message = (
        f"User {user} cannot {attributes.verb} resource {gostrings.quote(resource)} "
        f"in API group {gostrings.quote(attributes.group)}"
    )
    if attributes.namespace:
        message += f" in the namespace {gostrings.quote(attributes.namespace)}"
    else:
        message += " at the cluster scope"
    if reason:
        message = f"{message}: {reason}"
    return status.forbidden(attributes.group, attributes.resource, attributes.name, message)


def rules_for(
    user: str,
    verbs: Sequence[str],
    resources: Sequence[str],
    *,
    api_groups: Sequence[str] = ("",),
    namespaces: Sequence[str] | None = None,
) -> PolicyRule:
    """A rule for one user; reads like the Role it stands for."""
    return PolicyRule(
        verbs=tuple(verbs),
        api_groups=tuple(api_groups),
        resources=tuple(resources),
        users=(user,),
        namespaces=tuple(namespaces) if namespaces is not None else None,
    )
