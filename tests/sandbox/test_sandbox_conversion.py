"""autoscaling/v1 <-> v2 conversion of HorizontalPodAutoscalers, through the real kubectl.

What kube-apiserver does (pkg/apis/autoscaling/v1/conversion.go: the v2-only parts of
an HPA travel in the `autoscaling.alpha.kubernetes.io/metrics`, `.../current-metrics`,
`.../conditions` and `.../behavior` annotations of the v1 object, in v1's own MetricSpec
and MetricStatus shapes, the behavior as the internal Go type marshals; the CPU
utilization metric becomes `targetCPUUtilizationPercentage`, and a v1 HPA with none gets
the 80% CPU default when read through v2). Reads, lists, watch events and writes through
v1 convert; a v2 HPA written back through v1 keeps every metric and its behavior (CPU
last, as upstream appends it after the annotation's metrics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from support.apiserver import deployment
from support.kubectl import kubectl

from adapter.sandbox.store import ClusterState

_BEHAVIOR = {
    "scaleDown": {
        "stabilizationWindowSeconds": 60,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}],
    },
}


def _hpa_v2() -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "myblog", "namespace": "test", "annotations": {"team": "blog"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "myblog"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "http_requests_per_second"},
                        "target": {"type": "AverageValue", "averageValue": "10"},
                    },
                },
            ],
            "behavior": _BEHAVIOR,
        },
        "status": {
            "currentReplicas": 2,
            "desiredReplicas": 2,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": 27, "averageValue": "27m"},
                    },
                },
            ],
            "conditions": [
                {
                    "type": "AbleToScale",
                    "status": "True",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                    "reason": "ReadyForNewScale",
                    "message": "recommended size matches current size",
                }
            ],
        },
    }


async def test_v2_hpa_read_through_v1_carries_the_rest_in_annotations(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    cluster_state.create(_hpa_v2())
    got = (
        await kubectl(
            sandbox_kubeconfig,
            "get",
            "horizontalpodautoscalers.v1.autoscaling",
            "myblog",
            "-n",
            "test",
            "-o",
            "json",
        )
    ).json()
    assert got["apiVersion"] == "autoscaling/v1"
    assert got["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "myblog"},
        "minReplicas": 1,
        "maxReplicas": 3,
        "targetCPUUtilizationPercentage": 80,
    }
    assert got["status"] == {
        "currentReplicas": 2,
        "desiredReplicas": 2,
        "currentCPUUtilizationPercentage": 27,
    }
    annotations = got["metadata"]["annotations"]
    assert annotations["team"] == "blog"
    assert orjson.loads(annotations["autoscaling.alpha.kubernetes.io/metrics"]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageUtilization": 70}},
        {
            "type": "Pods",
            "pods": {"metricName": "http_requests_per_second", "targetAverageValue": "10"},
        },
    ]
    assert orjson.loads(annotations["autoscaling.alpha.kubernetes.io/current-metrics"]) == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "currentAverageUtilization": 27,
                "currentAverageValue": "27m",
            },
        }
    ]
    conditions = orjson.loads(annotations["autoscaling.alpha.kubernetes.io/conditions"])
    assert [c["reason"] for c in conditions] == ["ReadyForNewScale"]
    # the internal Go type, marshalled without JSON tags: capitalised keys, nulls kept
    assert orjson.loads(annotations["autoscaling.alpha.kubernetes.io/behavior"]) == {
        "ScaleUp": None,
        "ScaleDown": {
            "StabilizationWindowSeconds": 60,
            "SelectPolicy": "Max",
            "Policies": [{"Type": "Pods", "Value": 1, "PeriodSeconds": 30}],
            "Tolerance": None,
        },
    }


async def test_kubectl_autoscale_v1_hpa_reads_through_v2_with_the_cpu_metric(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    cluster_state.create(deployment("myblog", "test", replicas=1))
    (
        await kubectl(
            sandbox_kubeconfig,
            "autoscale",
            "deployment",
            "myblog",
            "-n",
            "test",
            "--cpu-percent=70",
            "--min=1",
            "--max=3",
        )
    ).check()
    got = (
        await kubectl(
            sandbox_kubeconfig,
            "get",
            "horizontalpodautoscalers.v2.autoscaling",
            "myblog",
            "-n",
            "test",
            "-o",
            "json",
        )
    ).json()
    assert got["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    assert got["status"] == {"desiredReplicas": 0, "currentMetrics": None}
    assert "annotations" not in got["metadata"]


async def test_v1_without_a_target_gets_the_default_cpu_metric_in_v2(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.ensure_namespace("test")
    manifest = tmp_path / "hpa-v1.json"
    manifest.write_bytes(
        orjson.dumps(
            {
                "apiVersion": "autoscaling/v1",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "plain", "namespace": "test"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
                    "maxReplicas": 4,
                },
            }
        )
    )
    (await kubectl(sandbox_kubeconfig, "create", "-f", str(manifest))).check()
    got = (
        await kubectl(
            sandbox_kubeconfig,
            "get",
            "horizontalpodautoscalers.v2.autoscaling",
            "plain",
            "-n",
            "test",
            "-o",
            "json",
        )
    ).json()
    assert got["spec"]["minReplicas"] == 1
    assert got["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80


async def test_a_v2_hpa_written_back_through_v1_loses_nothing(
    sandbox_kubeconfig: Path, cluster_state: ClusterState, tmp_path: Path
) -> None:
    cluster_state.create(_hpa_v2())
    as_v1 = (
        await kubectl(
            sandbox_kubeconfig,
            "get",
            "horizontalpodautoscalers.v1.autoscaling",
            "myblog",
            "-n",
            "test",
            "-o",
            "json",
        )
    ).json()
    as_v1["spec"]["maxReplicas"] = 5  # an edit a v1 client makes
    manifest = tmp_path / "edited.json"
    manifest.write_bytes(orjson.dumps(as_v1))
    (await kubectl(sandbox_kubeconfig, "replace", "-f", str(manifest))).check()
    got = (
        await kubectl(
            sandbox_kubeconfig,
            "get",
            "horizontalpodautoscalers.v2.autoscaling",
            "myblog",
            "-n",
            "test",
            "-o",
            "json",
        )
    ).json()
    original = _hpa_v2()["spec"]
    assert got["spec"]["maxReplicas"] == 5
    metrics = got["spec"]["metrics"]
    assert sorted(orjson.dumps(m, option=orjson.OPT_SORT_KEYS) for m in metrics) == sorted(
        orjson.dumps(m, option=orjson.OPT_SORT_KEYS) for m in original["metrics"]
    )
    assert metrics[-1]["resource"]["name"] == "cpu"  # upstream appends the v1 CPU target
    assert got["spec"]["behavior"]["scaleDown"] == _BEHAVIOR["scaleDown"]
    assert got["metadata"]["annotations"] == {"team": "blog"}
    assert got["status"]["currentMetrics"] == _hpa_v2()["status"]["currentMetrics"]
    assert got["status"]["conditions"][0]["reason"] == "ReadyForNewScale"


async def test_lists_and_watch_events_through_v1_convert(
    sandbox_kubeconfig: Path, cluster_state: ClusterState
) -> None:
    cluster_state.create(_hpa_v2())
    listed = (
        await kubectl(
            sandbox_kubeconfig,
            "get",
            "horizontalpodautoscalers.v1.autoscaling",
            "-n",
            "test",
            "-o",
            "json",
        )
    ).json()
    assert [item["spec"].get("targetCPUUtilizationPercentage") for item in listed["items"]] == [80]
    assert "metrics" not in listed["items"][0]["spec"]
    raw = (
        await kubectl(
            sandbox_kubeconfig,
            "get",
            "--raw",
            "/apis/autoscaling/v1/namespaces/test/horizontalpodautoscalers"
            "?watch=true&timeoutSeconds=1",
        )
    ).check()
    events = [orjson.loads(line) for line in raw.stdout.splitlines() if line.strip()]
    assert [event["type"] for event in events] == ["ADDED"]
    watched = events[0]["object"]
    assert watched["apiVersion"] == "autoscaling/v1"
    assert watched["spec"]["targetCPUUtilizationPercentage"] == 80
    assert "autoscaling.alpha.kubernetes.io/metrics" in watched["metadata"]["annotations"]
