"""The sandbox cluster's bootstrap RBAC: who may do what once authorization is enforced.

Owns the roles a fresh cluster comes with and the bindings the one-machine cluster
needs, so the stand-in can enforce RBAC (`ClusterState.enable_rbac`) the way a real
cluster does instead of allowing everything - which is what makes the walkthrough's
token steps mean something: a service account's token reads pod metrics only when a
Role allows it, through the API server and straight at the adapter alike.

- The admin kubeconfig's user is in `system:masters` (allowed everything, as
  kube-apiserver's authorizer allows that group).
- The roles kube-apiserver's bootstrap policy creates and the adapter's manifests refer
  to: `system:auth-delegator` (create TokenReviews and SubjectAccessReviews),
  kube-system's `extension-apiserver-authentication-reader`, and
  `system:controller:horizontal-pod-autoscaler` (the HPA controller's: HPAs and their
  status, `*/scale`, pods, the metrics APIs, events).
- The adapter runs as the service account `kube-system/metrics-adapter` with the
  bindings of `deploy/base/rbac.yaml` (read unchanged but for the namespace: the
  sandbox runs the adapter in kube-system), and, because `serve --hpa` runs the HPA
  loop inside the adapter, also bound to the HPA controller's role and to leases in
  kube-system (kube-controller-manager's leader election).

Role contents follow kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy
(policy.go, controller_policy.go, namespace_policy.go), written out here in our words.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from adapter.k8s import yamlsafe
from adapter.sandbox.access import service_account_user
from adapter.sandbox.store import ClusterState

__all__ = ["ADAPTER_ACCOUNT", "ADAPTER_NAMESPACE", "bootstrap_rbac"]

ADAPTER_NAMESPACE = "kube-system"
ADAPTER_ACCOUNT = "metrics-adapter"
DEPLOY_RBAC = Path(__file__).resolve().parents[2] / "deploy" / "base" / "rbac.yaml"
_RBAC = "rbac.authorization.k8s.io/v1"


def _rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> Any:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


_READ = ["get", "list", "watch"]

BOOTSTRAP_ROLES: tuple[dict[str, Any], ...] = (
    {
        "apiVersion": _RBAC,
        "kind": "ClusterRole",
        "metadata": {"name": "cluster-admin"},
        "rules": [
            _rule(["*"], ["*"], ["*"]),
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ],
    },
    {
        "apiVersion": _RBAC,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "cluster-admin"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}
        ],
    },
    {
        "apiVersion": _RBAC,
        "kind": "ClusterRole",
        "metadata": {"name": "system:auth-delegator"},
        "rules": [
            _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
            _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
        ],
    },
    {
        "apiVersion": _RBAC,
        "kind": "Role",
        "metadata": {
            "name": "extension-apiserver-authentication-reader",
            "namespace": "kube-system",
        },
        "rules": [
            _rule(
                [""], ["configmaps"], _READ, resourceNames=["extension-apiserver-authentication"]
            ),
        ],
    },
    {
        "apiVersion": _RBAC,
        "kind": "ClusterRole",
        "metadata": {"name": "system:controller:horizontal-pod-autoscaler"},
        "rules": [
            _rule(["autoscaling"], ["horizontalpodautoscalers"], _READ),
            _rule(["autoscaling"], ["horizontalpodautoscalers/status"], ["update"]),
            _rule(["*"], ["*/scale"], ["get", "update"]),
            _rule([""], ["pods"], ["list"]),
            _rule(["metrics.k8s.io"], ["pods"], ["list"]),
            _rule(["custom.metrics.k8s.io"], ["*"], ["get", "list"]),
            _rule(["external.metrics.k8s.io"], ["*"], ["get", "list"]),
            _rule(["", "events.k8s.io"], ["events"], ["create", "update", "patch"]),
        ],
    },
)
"""Roles of kube-apiserver's bootstrap policy the sandbox's parts refer to."""


def _adapter_bindings() -> Iterator[dict[str, Any]]:
    """deploy/base/rbac.yaml with its subjects moved to the sandbox's namespace, then the
    bindings the embedded HPA loop needs (kube-controller-manager's own, elsewhere)."""
    subject = {"kind": "ServiceAccount", "name": ADAPTER_ACCOUNT, "namespace": ADAPTER_NAMESPACE}
    for document in yaml.safe_load_all(yamlsafe.read_file(DEPLOY_RBAC)):
        if not isinstance(document, dict):
            continue
        for item in document.get("subjects") or []:
            if item.get("kind") == "ServiceAccount" and item.get("name") == ADAPTER_ACCOUNT:
                item["namespace"] = ADAPTER_NAMESPACE
        yield document
    yield {
        "apiVersion": _RBAC,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "metrics-adapter:embedded-hpa-controller"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:controller:horizontal-pod-autoscaler"},
        "subjects": [subject],
    }  # fmt: skip
    yield {
        "apiVersion": _RBAC,
        "kind": "Role",
        "metadata": {"name": "metrics-adapter:leader-election", "namespace": "kube-system"},
        "rules": [_rule(["coordination.k8s.io"], ["leases"], ["get", "create", "update"])],
    }
    yield {
        "apiVersion": _RBAC,
        "kind": "RoleBinding",
        "metadata": {"name": "metrics-adapter:leader-election", "namespace": "kube-system"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "metrics-adapter:leader-election"},
        "subjects": [subject],
    }  # fmt: skip


def bootstrap_rbac(state: ClusterState, adapter_token: str) -> None:
    """Store the bootstrap roles and the adapter's service account and bindings, give
    the account `adapter_token`, and turn RBAC enforcement on."""
    for obj in BOOTSTRAP_ROLES:
        state.apply(obj)
    state.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": ADAPTER_ACCOUNT, "namespace": ADAPTER_NAMESPACE},
        }
    )
    for obj in _adapter_bindings():
        state.apply(obj)
    user = service_account_user(ADAPTER_NAMESPACE, ADAPTER_ACCOUNT)
    account = state.get("serviceaccounts", ADAPTER_ACCOUNT, ADAPTER_NAMESPACE) or {}
    uid = str((account.get("metadata") or {}).get("uid", ""))
    groups = [group for group in user.groups if group != "system:authenticated"]
    state.authenticator.add_token(adapter_token, user.name, groups, uid)
    state.enable_rbac()
