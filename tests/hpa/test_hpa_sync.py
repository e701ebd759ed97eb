"""`decide` + `finish`: the halves of a sync around the scale write, for the controller loop.

`hpa evaluate` always assumes the write succeeded; the loop must report a failed write as
kube-controller-manager does (horizontal.go reconcileAutoscaler, pinned by
horizontal_test.go TestConditionFailedUpdateScale), and may hand the sync metric types the
API server would have rejected (TestInvalidMetricSourceType).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from adapter.hpa.model import MetricSpec
from adapter.hpa.snapshot import Snapshot, parse_snapshot
from adapter.hpa.sync import decide, finish, sync

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _snapshot(name: str) -> Snapshot:
    return parse_snapshot(yaml.safe_load((SNAPSHOTS / name).read_text(encoding="utf-8")))


def test_failed_scale_write_is_reported_like_upstream() -> None:
    snap = _snapshot("resource/01-scale-up.yaml")
    decision = decide(
        snap.hpa, snap.scale, snap.pods, snap.metrics, snap.memory, snap.now, snap.config
    )
    assert (decision.rescale, decision.desired_replicas) == (True, 5)
    result = finish(decision, "Operation cannot be fulfilled: conflict")

    assert result.rescale is False
    assert result.desired_replicas == 3
    assert result.status.desired_replicas == 3
    assert result.status.last_scale_time is None
    assert [(c.type, c.status, c.reason) for c in result.status.conditions] == [
        ("AbleToScale", "False", "FailedUpdateScale"),
        ("ScalingActive", "True", "ValidMetricFound"),
        ("ScalingLimited", "False", "DesiredWithinRange"),
    ]
    assert result.status.conditions[0].message == (
        "the HPA controller was unable to update the target scale: "
        "Operation cannot be fulfilled: conflict"
    )
    assert [(e.type, e.reason, e.message) for e in result.events] == [
        (
            "Warning",
            "FailedRescale",
            "New size: 5; reason: cpu resource utilization (percentage of request) above "
            "target; error: Operation cannot be fulfilled: conflict",
        )
    ]
    # The recommendation was made before the write; no scale event is remembered.
    assert result.memory.recommendations is not None
    assert [r.recommendation for r in result.memory.recommendations] == [3, 5]
    assert result.memory.scale_up_events == ()


def test_successful_write_equals_sync() -> None:
    snap = _snapshot("behavior/01-default-scale-up.yaml")
    args = (snap.hpa, snap.scale, snap.pods, snap.metrics, snap.memory, snap.now, snap.config)
    assert finish(decide(*args)) == sync(*args)


def test_unknown_metric_source_type() -> None:
    snap = _snapshot("resource/01-scale-up.yaml")
    hpa = replace(snap.hpa, spec=replace(snap.hpa.spec, metrics=(MetricSpec("CheddarCheese"),)))
    result = sync(hpa, snap.scale, snap.pods, snap.metrics, snap.memory, snap.now, snap.config)
    assert result.desired_replicas == 3
    assert [(c.type, c.status, c.reason, c.message) for c in result.status.conditions] == [
        (
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        ),
        (
            "ScalingActive",
            "False",
            "InvalidMetricSourceType",
            'the HPA was unable to compute the replica count: unknown metric source type "CheddarCheese"',
        ),
    ]
    assert [e.reason for e in result.events] == [
        "InvalidMetricSourceType",
        "FailedComputeMetricsReplicas",
    ]
