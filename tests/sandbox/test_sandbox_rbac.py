"""RBAC objects in the cluster decide, impersonation is checked, tokens are issued.

The walkthrough's token steps: `kubectl -n test create token test-pods-admin`, then the
token is used and checked with a TokenReview; `kubectl auth can-i ... --as=...` answers
from the Roles and bindings stored in the cluster (k8s.io/apiserver's impersonation
filter and plugin/pkg/auth/authorizer/rbac), over HTTPS where kubectl sends tokens.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from support.kubectl import kubectl

from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState

SA = "system:serviceaccount:test:test-pods-admin"


async def test_can_i_follows_stored_bindings_for_an_impersonated_service_account(
    tls_apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.enable_rbac()
    admin = tls_apiserver.write_kubeconfig(tmp_path / "admin" / "kubeconfig")

    async def can_i(*args: str) -> str:
        result = await kubectl(admin, "auth", "can-i", *args)
        return result.stdout.strip()

    (await kubectl(admin, "create", "namespace", "test")).check()
    (await kubectl(admin, "-n", "test", "create", "serviceaccount", "test-pods-admin")).check()
    assert await can_i("list", "deployments", "-n", "test", f"--as={SA}") == "no"
    (
        await kubectl(
            admin,
            "-n",
            "test",
            "create",
            "role",
            "deploy-reader",
            "--verb=get,list",
            "--resource=deployments.apps",
        )
    ).check()
    (
        await kubectl(
            admin,
            "-n",
            "test",
            "create",
            "rolebinding",
            "deploy-reader",
            "--role=deploy-reader",
            "--serviceaccount=test:test-pods-admin",
        )
    ).check()
    assert await can_i("list", "deployments", "-n", "test", f"--as={SA}") == "yes"
    assert await can_i("delete", "deployments", "-n", "test", f"--as={SA}") == "no"
    assert await can_i("list", "deployments", "-n", "default", f"--as={SA}") == "no"
    # the impersonated identity is what the server acts as
    denied = await kubectl(admin, "get", "pods", "-n", "test", f"--as={SA}")
    assert denied.returncode == 1
    assert denied.stderr.strip() == (
        'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:test:'
        'test-pods-admin" cannot list resource "pods" in API group "" in the namespace "test"'
    )
    whoami = (await kubectl(admin, "auth", "whoami", f"--as={SA}", "-o", "json")).json()
    assert whoami["status"]["userInfo"] == {
        "username": SA,
        "groups": ["system:serviceaccounts", "system:serviceaccounts:test", "system:authenticated"],
    }


async def test_impersonation_needs_the_impersonate_verb(
    tls_apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.enable_rbac()
    cluster_state.authenticator.add_token("bob-token", "bob")
    bob = tls_apiserver.write_kubeconfig(tmp_path / "bob" / "kubeconfig", token="bob-token")
    result = await kubectl(bob, "get", "--raw", "/api/v1/namespaces/default/pods", "--as=alice")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        'Error from server (Forbidden): users "alice" is forbidden: User "bob" cannot '
        'impersonate resource "users" in API group "" at the cluster scope'
    )


async def test_created_token_authenticates_as_the_service_account(
    tls_apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    admin = tls_apiserver.write_kubeconfig(tmp_path / "admin" / "kubeconfig")
    (await kubectl(admin, "create", "namespace", "test")).check()
    (await kubectl(admin, "-n", "test", "create", "serviceaccount", "test-pods-admin")).check()
    token = (await kubectl(admin, "-n", "test", "create", "token", "test-pods-admin")).check()
    value = token.stdout.strip()
    assert value
    as_sa = tls_apiserver.write_kubeconfig(tmp_path / "sa" / "kubeconfig", token=value)
    whoami = (await kubectl(as_sa, "auth", "whoami", "-o", "json")).json()
    assert whoami["status"]["userInfo"]["username"] == SA
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": value},
    }
    (tmp_path / "review.json").write_bytes(orjson.dumps(review))
    reviewed = (
        await kubectl(
            admin, "create", "--validate=false", "-f", str(tmp_path / "review.json"), "-o", "json"
        )
    ).json()
    assert reviewed["status"]["authenticated"] is True
    assert reviewed["status"]["user"]["username"] == SA
    assert reviewed["status"]["user"]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:test",
        "system:authenticated",
    ]
    missing = await kubectl(admin, "-n", "test", "create", "token", "nobody")
    assert missing.returncode == 1
    assert 'serviceaccounts "nobody" not found' in missing.stderr
