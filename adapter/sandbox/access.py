"""Who may do what in the sandbox cluster: bearer tokens, users, and a small RBAC.

Owns the sandbox API server's authentication (static bearer tokens, anonymous requests)
and authorization (rules in the shape of RBAC PolicyRules bound to users and groups,
`system:masters` allowed everything), and impersonation. The caller, the request's
attributes and the Forbidden wording the real server uses are `adapter.k8s.access`'s,
shared with the adapter's own authorization, so a client denied `list pods` here reads
the same error it would read from a cluster.
Turning a request into attributes is `adapter.sandbox.apiserver`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapter.k8s import gostrings, status
from adapter.k8s.access import Attributes, UserInfo

ANONYMOUS = "system:anonymous"
MASTERS = "system:masters"


ANONYMOUS_USER = UserInfo(ANONYMOUS, ("system:unauthenticated",))


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


# -- RBAC from the cluster's own Role/ClusterRole/RoleBinding/ClusterRoleBinding --------

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def service_account_user(namespace: str, name: str) -> UserInfo:
    """The identity a service account's token stands for (serviceaccount.UserInfo)."""
    return UserInfo(
        f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )


ObjectLister = Callable[[str], Iterable[Mapping[str, Any]]]
"""Lists the stored objects of one RBAC kind: "roles", "clusterroles", "rolebindings",
"clusterrolebindings" (all namespaces)."""

_SELF_REVIEWS = frozenset(
    {"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}
)


def _subject_matches(subject: Mapping[str, Any], user: UserInfo, binding_ns: str) -> bool:
    kind = subject.get("kind")
    name = str(subject.get("name", ""))
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or binding_ns)
        return user.name == f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"
    return False


def _rule_allows(rule: Mapping[str, Any], attributes: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attributes.verb not in verbs:
        return False
    if not attributes.resource_request:
        urls = rule.get("nonResourceURLs") or []
        return any(
            url == "*"
            or url == attributes.path
            or (url.endswith("*") and attributes.path.startswith(url[:-1]))
            for url in urls
        )
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attributes.group not in groups:
        return False
    resource = attributes.resource
    if attributes.subresource:
        resource = f"{resource}/{attributes.subresource}"
    resources = rule.get("resources") or []
    if (
        "*" not in resources
        and resource not in resources
        and (f"*/{attributes.subresource}" not in resources or not attributes.subresource)
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or attributes.name in names


@dataclass(slots=True)
class RbacAuthorizer:
    """kube-apiserver's RBAC authorizer over the cluster's own RBAC objects: a request
    is allowed when a ClusterRoleBinding, or a RoleBinding in the request's namespace,
    binds the user (or one of its groups, or its service account) to a role with a rule
    that covers it. system:masters is allowed everything; discovery and health paths,
    and the self reviews, are open to everyone, as the default system:discovery,
    system:public-info-viewer and system:basic-user bindings make them."""

    lister: ObjectLister
    extra: RuleAuthorizer = field(default_factory=RuleAuthorizer)
    """Rules tests add from Python, on top of the stored objects."""

    def authorize(self, attributes: Attributes) -> Decision:
        user = attributes.user
        if MASTERS in user.groups:
            return Decision(True)
        if not attributes.resource_request:
            return Decision(True)
        if attributes.resource in _SELF_REVIEWS and attributes.verb == "create":
            return Decision(True)
        if self.extra.authorize(attributes).allowed:
            return Decision(True)
        roles = {
            (str((r.get("metadata") or {}).get("namespace", "")), str(r["metadata"]["name"])): r
            for r in self.lister("roles")
        }
        cluster_roles = {str(r["metadata"]["name"]): r for r in self.lister("clusterroles")}
        for binding in self.lister("clusterrolebindings"):
            if self._binding_allows(binding, "", attributes, roles, cluster_roles):
                return Decision(True)
        if attributes.namespace:
            for binding in self.lister("rolebindings"):
                namespace = str((binding.get("metadata") or {}).get("namespace", ""))
                if namespace != attributes.namespace:
                    continue
                if self._binding_allows(binding, namespace, attributes, roles, cluster_roles):
                    return Decision(True)
        return Decision(False)

    @staticmethod
    def _binding_allows(
        binding: Mapping[str, Any],
        namespace: str,
        attributes: Attributes,
        roles: Mapping[tuple[str, str], Mapping[str, Any]],
        cluster_roles: Mapping[str, Mapping[str, Any]],
    ) -> bool:
        if not any(
            _subject_matches(s, attributes.user, namespace) for s in binding.get("subjects") or []
        ):
            return False
        ref = binding.get("roleRef") or {}
        role = (
            cluster_roles.get(str(ref.get("name")))
            if ref.get("kind") == "ClusterRole"
            else roles.get((namespace, str(ref.get("name"))))
        )
        if role is None:
            return False
        return any(_rule_allows(rule, attributes) for rule in role.get("rules") or [])


# -- impersonation ---------------------------------------------------------------------


def _impersonation(caller: UserInfo, resource: str, name: str, namespace: str = "") -> Attributes:
    """What impersonating one user, group or service account asks the authorizer."""
    return Attributes(
        user=caller,
        verb="impersonate",
        resource_request=True,
        resource=resource,
        namespace=namespace,
        name=name,
    )


def impersonate(
    authorizer: Authorizer, caller: UserInfo, user: str | None, groups: Sequence[str]
) -> UserInfo:
    """The identity of a request with Impersonate-User/-Group headers, after checking
    that the caller may `impersonate` each (k8s.io/apiserver WithImpersonation); 403
    with the real wording when not."""
    if not user:
        if groups:
            raise status.StatusError(
                500, "InternalError", "requested impersonation of groups without a user"
            )
        return caller
    checks: list[Attributes] = []
    if user.startswith(SERVICE_ACCOUNT_PREFIX) and user.count(":") == 3:
        namespace, name = user[len(SERVICE_ACCOUNT_PREFIX) :].split(":")
        checks.append(_impersonation(caller, "serviceaccounts", name, namespace))
        target = service_account_user(namespace, name)
        target_groups = list(target.groups) if not groups else [*groups, "system:authenticated"]
    else:
        checks.append(_impersonation(caller, "users", user))
        target_groups = [*groups, "system:authenticated"]
    for group in groups:
        checks.append(_impersonation(caller, "groups", group))
    for attributes in checks:
        if not authorizer.authorize(attributes).allowed:
            where = (
                f" in the namespace {gostrings.quote(attributes.namespace)}"
                if attributes.namespace
                else " at the cluster scope"
            )
            raise status.forbidden(
                "",
                attributes.resource,
                attributes.name,
                f"User {gostrings.quote(caller.name)} cannot impersonate resource "
                f'{gostrings.quote(attributes.resource)} in API group ""{where}',
            )
    return UserInfo(user, tuple(dict.fromkeys(target_groups)))
