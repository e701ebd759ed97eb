"""`kubectl apply --server-side` against the sandbox (simplified server-side apply).

What the real server does for a PATCH of type application/apply-patch+yaml
(staging/src/k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager and
sigs.k8s.io/structured-merge-diff): create when absent (201), merge otherwise, record
the applier's fields in `metadata.managedFields` (operation Apply, FieldsV1), drop the
fields the same manager stopped applying, and refuse with 409 "Apply failed with 1
conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas" when another applier
owns a field with another value, unless forced (`--force-conflicts`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from support.kubectl import kubectl

from adapter.sandbox.store import ClusterState


def _deployment(replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "test", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            },
        },
    }


async def _apply(kubeconfig: Path, directory: Path, obj: dict[str, Any], *flags: str) -> Any:
    manifest = directory / "manifest.json"
    manifest.write_bytes(orjson.dumps(obj))
    return await kubectl(kubeconfig, "apply", "--server-side", "-f", str(manifest), *flags)


async def _get(kubeconfig: Path) -> Any:
    return (
        await kubectl(
            kubeconfig,
            "get",
            "deployment",
            "web",
            "-n",
            "test",
            "-o",
            "json",
            "--show-managed-fields",
        )
    ).json()


async def test_server_side_apply_creates_then_merges_with_managed_fields(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.ensure_namespace("test")
    first = await _apply(
        sandbox_kubeconfig, tmp_path, _deployment(2, {"app": "web", "tier": "front"})
    )
    assert first.check().stdout.strip() == "deployment.apps/web serverside-applied"
    live = await _get(sandbox_kubeconfig)
    assert live["spec"]["replicas"] == 2
    (entry,) = live["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsType"]) == (
        "kubectl",
        "Apply",
        "apps/v1",
        "FieldsV1",
    )
    assert entry["fieldsV1"]["f:spec"]["f:replicas"] == {}
    assert entry["fieldsV1"]["f:metadata"]["f:labels"] == {"f:app": {}, "f:tier": {}}
    containers = entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {'k:{"name":"app"}': {".": {}, "f:name": {}, "f:image": {}}}
    # defaults the server added are kept, and what the applier dropped goes
    assert live["spec"]["strategy"]["type"] == "RollingUpdate"
    await _apply(sandbox_kubeconfig, tmp_path, _deployment(3, {"app": "web"}))
    live = await _get(sandbox_kubeconfig)
    assert live["spec"]["replicas"] == 3
    assert live["metadata"]["labels"] == {"app": "web"}
    assert live["metadata"]["generation"] == 2


async def test_another_appliers_field_is_a_conflict_unless_forced(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.ensure_namespace("test")
    (await _apply(sandbox_kubeconfig, tmp_path, _deployment(2, {"app": "web"}))).check()
    refused = await _apply(
        sandbox_kubeconfig, tmp_path, _deployment(5, {"app": "web"}), "--field-manager=ops"
    )
    assert refused.returncode != 0
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas'
        in refused.stderr
    )
    assert (await _get(sandbox_kubeconfig))["spec"]["replicas"] == 2
    (
        await _apply(
            sandbox_kubeconfig,
            tmp_path,
            _deployment(5, {"app": "web"}),
            "--field-manager=ops",
            "--force-conflicts",
        )
    ).check()
    live = await _get(sandbox_kubeconfig)
    assert live["spec"]["replicas"] == 5
    owners = {e["manager"]: e["fieldsV1"] for e in live["metadata"]["managedFields"]}
    assert "f:replicas" in owners["ops"]["f:spec"]
    assert "f:replicas" not in owners["kubectl"]["f:spec"]


async def test_server_side_apply_of_an_hpa(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.ensure_namespace("test")
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "myblog", "namespace": "test"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "myblog"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        },
    }
    out = (await _apply(sandbox_kubeconfig, tmp_path, hpa)).check().stdout
    assert out.strip() == "horizontalpodautoscaler.autoscaling/myblog serverside-applied"
    stored = cluster_state.get("horizontalpodautoscalers", "myblog", "test") or {}
    assert stored["spec"]["metrics"][0]["resource"]["name"] == "memory"
    assert stored["status"] == {"desiredReplicas": 0, "currentMetrics": None}
