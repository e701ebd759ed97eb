"""Decision records: what the loop writes replays to the same decision, in a bounded dir.

A record is an HPA snapshot (contracts/hpa-snapshot.md) of one live sync. Each case
below runs the loop's own sync path (probe, answer from fetched responses, decide,
finish) and checks that `evaluate_document` on the record gives the same desired
count, status and controller memory - the contract's promise that `hpa evaluate` on a
record reproduces the decision. The pods go through the loop's reduced form and back
(`pod_to_wire`), so what the calculator read is exactly what the record holds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapter.hpa import objects
from adapter.hpa.behavior import TimestampedRecommendation
from adapter.hpa.fetching import (
    ExternalRequest,
    Fetched,
    FetchedMetricsSource,
    ObjectRequest,
    PodsRequest,
    ProbeSource,
    ResourceRequest,
    record_metrics,
)
from adapter.hpa.records import DecisionRecorder, snapshot_document
from adapter.hpa.snapshot import evaluate_document, render_result
from adapter.hpa.sync import ControllerMemory, decide, finish, scale_from_api
from adapter.settings.hpa import ControllerConfig, RecordSettings

NOW = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
STAMP = "2026-11-22T09:59:30Z"


def hpa(metrics: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": metrics,
            **spec,
        },
    }


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "500m"}}}]},
        "status": {
            "phase": "Running",
            "startTime": "2026-11-22T08:00:00Z",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-22T08:01:00Z"}
            ],
        },
    }


def pod_metrics(usage: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "PodMetricsList",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": name, "namespace": "shop", "labels": {"app": "web"}},
                "timestamp": STAMP,
                "window": "30s",
                "containers": [{"name": "app", "usage": {"cpu": cpu}}],
            }
            for name, cpu in usage.items()
        ],
    }


def custom_list(items: list[tuple[str, str, str]], metric: str) -> dict[str, Any]:
    return {
        "kind": "MetricValueList",
        "apiVersion": "custom.metrics.k8s.io/v1beta2",
        "metadata": {},
        "items": [
            {
                "describedObject": {
                    "kind": kind,
                    "namespace": "shop",
                    "name": name,
                    "apiVersion": "/v1" if kind == "Pod" else "apps/v1",
                },
                "metric": {"name": metric, "selector": None},
                "timestamp": STAMP,
                "value": value,
            }
            for kind, name, value in items
        ],
    }


def external_list(metric: str, value: str) -> dict[str, Any]:
    return {
        "kind": "ExternalMetricValueList",
        "apiVersion": "external.metrics.k8s.io/v1beta1",
        "metadata": {},
        "items": [
            {"metricName": metric, "metricLabels": {"queue": "orders"}, "timestamp": STAMP,
             "value": value}
        ],
    }  # fmt: skip


PODS = ["web-0", "web-1", "web-2"]

CASES: dict[str, tuple[dict[str, Any], dict[type, dict[str, Any] | str]]] = {
    # cpu at 90% of request on each pod, target 50%: 3 * 1.8 -> 6 (the no-behavior limit).
    "resource utilization scales up": (
        hpa([{"type": "Resource", "resource": {"name": "cpu",
              "target": {"type": "Utilization", "averageUtilization": 50}}}]),
        {ResourceRequest: pod_metrics(dict.fromkeys(PODS, "450m"))},
    ),
    "pods metric below target is held by the stabilization window": (
        hpa([{"type": "Pods", "pods": {"metric": {"name": "rps"},
              "target": {"type": "AverageValue", "averageValue": "10"}}}]),
        {PodsRequest: custom_list([("Pod", p, "2") for p in PODS], "rps")},
    ),
    "external metric with a behavior": (
        hpa([{"type": "External", "external": {"metric": {"name": "queue_depth"},
              "target": {"type": "AverageValue", "averageValue": "5"}}}],
            behavior={"scaleUp": {"policies": [{"type": "Pods", "value": 2,
                                                "periodSeconds": 60}]}}),
        {ExternalRequest: external_list("queue_depth", "40")},
    ),
    "object metric": (
        hpa([{"type": "Object", "object": {"metric": {"name": "rps"},
              "describedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
              "target": {"type": "Value", "value": "100"}}}]),
        {ObjectRequest: custom_list([("Deployment", "web", "150")], "rps")},
    ),
    "a failed fetch never becomes a scale-down": (
        hpa([{"type": "Pods", "pods": {"metric": {"name": "rps"},
              "target": {"type": "AverageValue", "averageValue": "10"}}},
             {"type": "External", "external": {"metric": {"name": "queue_depth"},
              "target": {"type": "Value", "value": "5"}}}]),
        {PodsRequest: custom_list([("Pod", p, "1") for p in PODS], "rps"),
         ExternalRequest: "the server could not find the metric queue_depth"},
    ),
}  # fmt: skip


def live_sync(
    raw_hpa: dict[str, Any], answers: dict[type, dict[str, Any] | str], memory: ControllerMemory
) -> tuple[Any, dict[str, Any]]:
    """The loop's sync, as HorizontalController._reconcile runs it, minus the network."""
    config = ControllerConfig()
    model = objects.parse_hpa(raw_hpa, config.feature_gates)
    scale_raw = {"spec": {"replicas": 3}, "status": {"replicas": 3, "selector": "app=web"}}
    scale = scale_from_api(3, 3, "app=web")
    pods = [objects.parse_pod(pod(name)) for name in PODS]
    probe = ProbeSource()
    decide(model, scale, pods, probe, memory, NOW, config)
    fetched = {}
    for request in probe.requests:
        answer = answers[type(request)]
        if isinstance(answer, str):
            fetched[request] = Fetched(request, None, answer, 0.0)
        else:
            fetched[request] = Fetched(request, answer, None, 0.0)
    decision = decide(model, scale, pods, FetchedMetricsSource(fetched), memory, NOW, config)
    result = finish(decision)
    document = snapshot_document(
        now=NOW,
        config=config,
        hpa=raw_hpa,
        scale=scale_raw,
        pods=[objects.pod_to_wire(p, NOW) for p in pods],
        metrics=record_metrics(fetched),
        memory=memory,
    )
    return result, document


@pytest.mark.parametrize("case", list(CASES))
def test_a_record_replays_to_the_live_decision(case: str) -> None:
    raw_hpa, answers = CASES[case]
    earlier = NOW - timedelta(seconds=60)
    memory = ControllerMemory((TimestampedRecommendation(3, earlier),))
    result, document = live_sync(raw_hpa, answers, memory)
    replayed = evaluate_document(document)
    expected = render_result(result)
    assert replayed["desiredReplicas"] == expected["desiredReplicas"]
    assert replayed["history"] == expected["history"]
    live_conditions = expected["status"].get("conditions", [])
    replay_conditions = replayed["status"].get("conditions", [])
    assert [(c["type"], c["status"], c["reason"]) for c in replay_conditions] == [
        (c["type"], c["status"], c["reason"]) for c in live_conditions
    ]
    if case != "a failed fetch never becomes a scale-down":
        # The fetch error's text is not part of the snapshot format (a failed read is an
        # absent response), so only then may a message differ.
        assert replayed["status"] == expected["status"]


def test_expected_decisions() -> None:
    """The cases decide what upstream would (so the replay test compares real work)."""
    memory = ControllerMemory((TimestampedRecommendation(3, NOW - timedelta(seconds=60)),))
    desired = {case: live_sync(*CASES[case], memory)[0].desired_replicas for case in CASES}
    assert desired == {
        "resource utilization scales up": 6,
        "pods metric below target is held by the stabilization window": 3,
        "external metric with a behavior": 5,  # 40/5 = 8 wanted, 3 + 2 pods allowed
        "object metric": 5,  # 150/100 * 3 = 4.5 -> 5
        "a failed fetch never becomes a scale-down": 3,
    }
    result, _ = live_sync(*CASES["a failed fetch never becomes a scale-down"], memory)
    active = result.status.condition("ScalingActive")
    assert active is not None and active.reason == "FailedGetExternalMetric"
    assert "queue_depth" in active.message
    assert "unable to fetch metrics from external metrics API: the server could not find" in (
        active.message
    )


def test_a_pod_survives_the_trip_through_the_loop_and_back() -> None:
    raw = pod("web-0")
    raw["spec"]["initContainers"] = [
        {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}}
    ]
    raw["spec"]["resources"] = {"requests": {"memory": "64Mi"}}
    raw["metadata"]["deletionTimestamp"] = "2026-11-22T09:00:00Z"
    reduced = objects.parse_pod(raw)
    assert objects.parse_pod(objects.pod_to_wire(reduced, NOW)) == reduced


def test_the_directory_stays_within_its_budget(tmp_path: Path) -> None:
    recorder = DecisionRecorder(RecordSettings(str(tmp_path), max_bytes=3000))
    document = {"apiVersion": "hpa-snapshot/v1", "kind": "HPASnapshot", "pad": "x" * 900}
    paths = [recorder.write(document, NOW + timedelta(seconds=i), "shop", "web") for i in range(6)]
    kept = sorted(tmp_path.glob("*.json"))
    assert kept == paths[-len(kept) :]  # the newest survive, oldest go first
    assert sum(p.stat().st_size for p in kept) <= 3000
    assert recorder.pruned == 6 - len(kept) > 0
    # A new recorder on the same directory counts what is already there.
    again = DecisionRecorder(RecordSettings(str(tmp_path), max_bytes=3000))
    assert again.total_bytes == sum(p.stat().st_size for p in kept)


@pytest.mark.parametrize(
    ("record_all", "scaled", "failed", "wanted"),
    [
        (False, False, False, False),
        (False, True, False, True),
        (False, False, True, True),
        (True, False, False, True),
    ],
)
def test_which_syncs_are_recorded(
    tmp_path: Path, record_all: bool, scaled: bool, failed: bool, wanted: bool
) -> None:
    recorder = DecisionRecorder(RecordSettings(str(tmp_path), record_all=record_all))
    assert recorder.wants(scaled=scaled, failed=failed) is wanted
