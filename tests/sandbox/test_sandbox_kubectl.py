"""The real kubectl against the API server stand-in: proof that the wire format is real.

kubectl (client-go inside) does discovery, builds its REST mapping from it, negotiates
content, decodes lists, watch-free gets, Status errors (`Error from server (Reason):
message`), and writes with create/patch/label/scale/delete. If the stand-in's JSON or
paths were off, these commands would fail or print something else.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from support.apiserver import deployment, pod
from support.kubectl import kubectl

from adapter.sandbox.access import PolicyRule, RuleAuthorizer
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState


def _seed(state: ClusterState) -> None:
    for name, app in (("web-1", "web"), ("web-0", "web"), ("db-0", "db")):
        state.create(pod(name, labels={"app": app}))
    state.create(deployment("web", replicas=2))


async def test_get_pods_by_selector_as_json(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    _seed(cluster_state)
    result = await kubectl(
        sandbox_kubeconfig, "get", "pods", "-n", "shop", "-l", "app=web", "-o", "json"
    )
    body = result.json()
    assert body["kind"] == "List"
    assert [item["metadata"]["name"] for item in body["items"]] == ["web-0", "web-1"]
    assert all(item["kind"] == "Pod" and item["apiVersion"] == "v1" for item in body["items"])
    names = await kubectl(sandbox_kubeconfig, "get", "pods", "-A", "-o", "name")
    assert names.check().stdout.split() == ["pod/db-0", "pod/web-0", "pod/web-1"]


async def test_discovery_through_kubectl(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    cluster_state.register_custom_resource("example.com", "Widget", "widgets", short_names=["wd"])
    raw = (await kubectl(sandbox_kubeconfig, "get", "--raw", "/api/v1")).json()
    assert raw["groupVersion"] == "v1"
    table = (await kubectl(sandbox_kubeconfig, "api-resources", "--no-headers")).check().stdout
    rows = {tuple(line.split()) for line in table.splitlines()}
    assert ("deployments", "deploy", "apps/v1", "true", "Deployment") in rows
    assert ("widgets", "wd", "example.com/v1", "true", "Widget") in rows
    assert ("nodes", "no", "v1", "false", "Node") in rows
    versions = (await kubectl(sandbox_kubeconfig, "api-versions")).check().stdout.split()
    assert "autoscaling/v2" in versions and "example.com/v1" in versions


async def test_get_by_group_qualified_and_short_names(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    _seed(cluster_state)
    for resource in ("deployments.apps", "deployment", "deploy"):
        result = await kubectl(sandbox_kubeconfig, "get", resource, "-n", "shop", "-o", "name")
        assert result.check().stdout.split() == ["deployment.apps/web"], resource


async def test_errors_read_as_kubernetes_errors(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    _seed(cluster_state)
    missing = await kubectl(sandbox_kubeconfig, "get", "pod", "nope", "-n", "shop")
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    bad = await kubectl(sandbox_kubeconfig, "get", "pods", "-n", "shop", "-l", "app in")
    assert bad.returncode == 1
    assert "Error from server (BadRequest)" in bad.stderr
    assert "unable to parse requirement: found '' expected: '('" in bad.stderr
    unknown = await kubectl(sandbox_kubeconfig, "get", "--raw", "/apis/nope/v1/things")
    assert (
        unknown.stderr.strip()
        == "Error from server (NotFound): the server could not find the requested resource"
    )


async def test_forbidden_for_a_restricted_user(
    tls_apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    """Over HTTPS: client-go sends bearer tokens only on TLS connections."""
    _seed(cluster_state)
    cluster_state.authenticator.add_token("viewer-token", "viewer")
    authorizer = RuleAuthorizer()
    authorizer.allow(PolicyRule(verbs=("get",), resources=("pods",), users=("viewer",)))
    cluster_state.authorizer = authorizer
    config = tls_apiserver.write_kubeconfig(
        tmp_path / "viewer" / "kubeconfig", token="viewer-token", namespace="shop"
    )
    result = await kubectl(config, "get", "pods")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Error from server (Forbidden): pods is forbidden: User "viewer" cannot list resource "pods" '
        'in API group "" in the namespace "shop"'
    )
    assert (
        await kubectl(config, "get", "pod", "web-0", "-o", "name")
    ).check().stdout.strip() == "pod/web-0"


async def test_writes_through_kubectl(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, tmp_path: Path
) -> None:
    _seed(cluster_state)
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "shop", "labels": {"app": "web"}},
                "data": {"a": "1"},
            }
        )
    )
    (await kubectl(sandbox_kubeconfig, "create", "-f", str(manifest))).check()
    (
        await kubectl(
            sandbox_kubeconfig,
            "patch",
            "configmap",
            "settings",
            "-n",
            "shop",
            "-p",
            '{"data":{"b":"2"}}',
        )
    ).check()
    (
        await kubectl(
            sandbox_kubeconfig,
            "patch",
            "cm",
            "settings",
            "-n",
            "shop",
            "--type=json",
            "-p",
            '[{"op":"remove","path":"/data/a"}]',
        )
    ).check()
    (await kubectl(sandbox_kubeconfig, "label", "cm", "settings", "-n", "shop", "tier=fe")).check()
    stored = cluster_state.get("configmaps", "settings", "shop")
    assert stored is not None
    assert stored["data"] == {"b": "2"}
    assert stored["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    (await kubectl(sandbox_kubeconfig, "apply", "-f", str(manifest))).check()
    applied = cluster_state.get("configmaps", "settings", "shop")
    # no last-applied annotation yet: apply adds what the manifest has, keeps the rest
    assert applied is not None and applied["data"] == {"a": "1", "b": "2"}
    # kubectl scale goes through the /scale subresource
    (
        await kubectl(sandbox_kubeconfig, "scale", "deployment/web", "-n", "shop", "--replicas=5")
    ).check()
    scaled = cluster_state.get("deployments.apps", "web", "shop")
    assert scaled is not None and scaled["spec"]["replicas"] == 5
    (await kubectl(sandbox_kubeconfig, "delete", "configmap", "settings", "-n", "shop")).check()
    assert cluster_state.get("configmaps", "settings", "shop") is None


async def test_custom_resource_definition_via_kubectl(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, tmp_path: Path
) -> None:
    """Creating a CRD makes its resource served; a CR with a scale subresource scales."""
    cluster_state.ensure_namespace("shop")
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                }
            ],
        },
    }
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "shop"},
        "spec": {"replicas": 2},
    }
    (tmp_path / "crd.yaml").write_text(yaml.safe_dump(crd))
    (tmp_path / "widget.yaml").write_text(yaml.safe_dump(widget))
    (await kubectl(sandbox_kubeconfig, "create", "-f", str(tmp_path / "crd.yaml"))).check()
    (await kubectl(sandbox_kubeconfig, "create", "-f", str(tmp_path / "widget.yaml"))).check()
    listed = await kubectl(sandbox_kubeconfig, "get", "wd", "-n", "shop", "-o", "name")
    assert listed.check().stdout.split() == ["widget.example.com/w1"]
    (
        await kubectl(sandbox_kubeconfig, "scale", "widget", "w1", "-n", "shop", "--replicas=4")
    ).check()
    stored = cluster_state.get("widgets.example.com", "w1", "shop")
    assert stored is not None and stored["spec"]["replicas"] == 4


async def test_kubectl_over_tls_with_the_kubeconfig_ca(
    tls_apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> None:
    _seed(cluster_state)
    config = tls_apiserver.write_kubeconfig(tmp_path / "tls" / "kubeconfig")
    assert tls_apiserver.url.startswith("https://")
    result = await kubectl(config, "get", "pods", "-n", "shop", "-l", "app=db", "-o", "name")
    assert result.check().stdout.split() == ["pod/db-0"]
