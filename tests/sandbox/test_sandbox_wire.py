"""Small wire differences against a real kube-apiserver, through the real kubectl.

`metadata.generation` is set only by the registry strategies that track spec changes
(PrepareForCreate in pkg/registry/apps/deployment/strategy.go and its siblings for
ReplicaSets, StatefulSets, Jobs, ...); the Service, Namespace and HorizontalPodAutoscaler
strategies set none. autoscaling/v2's HorizontalPodAutoscalerStatus declares
`currentMetrics` without omitempty (staging/src/k8s.io/api/autoscaling/v2/types.go), so
an HPA the controller has not measured yet prints `currentMetrics: null`, and
`currentReplicas` (omitempty) is left out while it is 0.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import yaml
from support.kubectl import kubectl

from adapter.sandbox.store import ClusterState

_HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "test"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "maxReplicas": 3,
    },
}


async def test_generation_only_on_resources_whose_strategy_sets_it(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, tmp_path: Path
) -> None:
    (await kubectl(sandbox_kubeconfig, "create", "namespace", "test")).check()
    (
        await kubectl(
            sandbox_kubeconfig, "create", "deployment", "web", "-n", "test", "--image=app:1"
        )
    ).check()
    (
        await kubectl(
            sandbox_kubeconfig,
            "create",
            "service",
            "clusterip",
            "web",
            "-n",
            "test",
            "--tcp=80:8080",
        )
    ).check()
    manifest = tmp_path / "hpa.json"
    manifest.write_bytes(orjson.dumps(_HPA))
    (await kubectl(sandbox_kubeconfig, "apply", "-f", str(manifest))).check()

    async def metadata(*target: str) -> dict[str, object]:
        doc = (await kubectl(sandbox_kubeconfig, "get", *target, "-o", "json")).json()
        result: dict[str, object] = doc["metadata"]
        return result

    assert "generation" not in await metadata("namespace", "test")
    assert "generation" not in await metadata("service", "web", "-n", "test")
    assert "generation" not in await metadata("hpa", "web", "-n", "test")
    assert (await metadata("deployment", "web", "-n", "test"))["generation"] == 1
    (
        await kubectl(
            sandbox_kubeconfig, "scale", "deployment", "web", "-n", "test", "--replicas=2"
        )
    ).check()
    assert (await metadata("deployment", "web", "-n", "test"))["generation"] == 2
    (
        await kubectl(
            sandbox_kubeconfig,
            "patch",
            "hpa",
            "web",
            "-n",
            "test",
            "-p",
            '{"spec":{"maxReplicas":4}}',
        )
    ).check()
    assert "generation" not in await metadata("hpa", "web", "-n", "test")


async def test_hpa_yaml_shows_current_metrics_null(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.ensure_namespace("test")
    manifest = tmp_path / "hpa.json"
    manifest.write_bytes(orjson.dumps(_HPA))
    (await kubectl(sandbox_kubeconfig, "apply", "-f", str(manifest))).check()
    text = (
        await kubectl(sandbox_kubeconfig, "get", "hpa", "web", "-n", "test", "-o", "yaml")
    ).check()
    assert "  currentMetrics: null\n" in text.stdout
    status = yaml.safe_load(text.stdout)["status"]
    assert status == {"currentMetrics": None, "desiredReplicas": 0}
    # a status write that leaves the metrics out keeps the field, as null
    cluster_state.patch(
        "horizontalpodautoscalers",
        "web",
        {"status": {"currentReplicas": 1, "desiredReplicas": 1, "currentMetrics": []}},
        "test",
    )
    status = (
        await kubectl(sandbox_kubeconfig, "get", "hpa", "web", "-n", "test", "-o", "json")
    ).json()["status"]
    assert status == {"currentReplicas": 1, "desiredReplicas": 1, "currentMetrics": None}
