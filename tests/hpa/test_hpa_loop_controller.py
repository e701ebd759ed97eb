"""The HPA loop's syncs against the API server stand-in: bad input, safety, what is written.

Each test runs the real controller (watch caches, /scale, status and Event writes to
the stand-in) and triggers syncs directly with `controller.sync(key)` instead of
waiting for the period, so nothing depends on timing. Metric values come from
`CannedMetrics`, a stand-in for the metrics APIs' answers (the end-to-end tests in
tests/integration read them from the real Prometheus through the adapter).

Upstream behaviour pinned (pkg/controller/podautoscaler/horizontal.go, v1.36):
reconcileAutoscaler's FailedGetScale path, validateAndParseSelector (SelectorRequired,
InvalidSelector, AmbiguousSelector), computeReplicasForMetrics refusing to scale down
while a metric is invalid, updateStatusIfNeeded writing only a changed status, and
reconcileKey forgetting a deleted HPA.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from support.apiserver import deployment, pod

from adapter.cluster import connection
from adapter.cluster import discovery as cluster_discovery
from adapter.hpa import running
from adapter.hpa.controller import HorizontalController
from adapter.hpa.fetching import (
    ExternalRequest,
    MetricsFetchError,
    ObjectRequest,
    PodsRequest,
    ResourceRequest,
)
from adapter.k8s.resources import RestMapper
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState, ScaleSubresource
from adapter.settings.hpa import HPASettings, LeaderElectionSettings, Mode

HPAS = "horizontalpodautoscalers.autoscaling"


class CannedMetrics:
    """The metrics APIs' answers, fixed by the test: per-pod values of a custom metric,
    external values, or the error text an API answered with."""

    def __init__(self) -> None:
        self.mapper: RestMapper | None = None
        self.pod_values: dict[str, str] = {}
        self.external_values: dict[str, str] = {}
        self.requests: list[object] = []

    async def resource(self, request: ResourceRequest) -> dict[str, Any]:
        raise MetricsFetchError("the server could not find the requested resource")

    async def pods(self, request: PodsRequest) -> dict[str, Any]:
        self.requests.append(request)
        if request.metric not in ("rps",):
            raise MetricsFetchError(
                f"the server could not find the metric {request.metric} for pods"
            )
        items = [
            {
                "describedObject": {"kind": "Pod", "namespace": request.namespace,
                                    "name": name, "apiVersion": "/v1"},
                "metric": {"name": request.metric, "selector": None},
                "timestamp": "2026-01-01T00:00:00Z",
                "value": value,
            }
            for name, value in self.pod_values.items()
        ]  # fmt: skip
        return {"kind": "MetricValueList", "apiVersion": "custom.metrics.k8s.io/v1beta2",
                "metadata": {}, "items": items}  # fmt: skip

    async def object(self, request: ObjectRequest) -> dict[str, Any]:
        raise MetricsFetchError("not served")

    async def external(self, request: ExternalRequest) -> dict[str, Any]:
        self.requests.append(request)
        if request.metric not in self.external_values:
            raise MetricsFetchError(
                f"the server could not find the requested resource (get {request.metric}"
                ".external.metrics.k8s.io)"
            )
        return {"kind": "ExternalMetricValueList", "apiVersion":
                "external.metrics.k8s.io/v1beta1", "metadata": {}, "items": [
                {"metricName": request.metric, "metricLabels": {}, "timestamp":
                 "2026-01-01T00:00:00Z", "value": self.external_values[request.metric]}]}  # fmt: skip


def pods_metric(name: str = "rps", average: str = "10") -> dict[str, Any]:
    return {
        "type": "Pods",
        "pods": {"metric": {"name": name}, "target": {"type": "AverageValue",
                                                      "averageValue": average}},
    }  # fmt: skip


def hpa(
    name: str,
    target: dict[str, str],
    metrics: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": "shop", "uid": f"uid-{name}"},
        "spec": {
            "scaleTargetRef": target,
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": metrics if metrics is not None else [pods_metric()],
            **spec,
        },
    }


def deployment_ref(name: str) -> dict[str, str]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}


def workload(state: ClusterState, name: str, replicas: int, labels: dict[str, str]) -> None:
    state.create(deployment(name, "shop", replicas=replicas, match_labels=labels))
    for index in range(replicas):
        state.create(pod(f"{name}-{index}", "shop", labels))


Start = Callable[..., Any]


@pytest.fixture
def metrics() -> CannedMetrics:
    return CannedMetrics()


@pytest.fixture
def start(
    apiserver: RunningApiServer, cluster_state: ClusterState, metrics: CannedMetrics, tmp_path: Path
) -> Start:
    """Run a controller (leader election off, no periodic syncs) while the block runs."""

    @asynccontextmanager
    async def started(**settings: Any) -> AsyncIterator[tuple[HorizontalController, Any]]:
        kubeconfig = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
        async with connection.connect(str(kubeconfig), qps=0) as cluster:
            mapper = await cluster_discovery.fetch_rest_mapper(cluster)
            registry = CollectorRegistry()
            loop = running.build_loop(
                HPASettings(
                    sync_period=3600.0,
                    leader_election=LeaderElectionSettings(enabled=False),
                    **settings,
                ),
                cluster,
                mapper,
                metrics,
                registry,
            )
            task = asyncio.ensure_future(loop.controller.run())
            try:
                await asyncio.wait_for(loop.controller.synced.wait(), 30)
                yield loop.controller, registry
                await loop.events.flush()
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    return started


def condition(state: ClusterState, name: str, kind: str) -> dict[str, Any]:
    stored = state.get(HPAS, name, "shop")
    assert stored is not None, name
    for item in stored.get("status", {}).get("conditions", []):
        if item["type"] == kind:
            return dict(item)
    raise AssertionError(f"{name} has no {kind} condition: {stored.get('status')}")


def events(state: ClusterState, name: str) -> list[tuple[str, str, str]]:
    return [
        (e["type"], e["reason"], e["message"])
        for e in state.list("events", "shop")
        if e["involvedObject"]["name"] == name
    ]


def replicas(state: ClusterState, name: str) -> int:
    stored = state.get("deployments.apps", name, "shop")
    assert stored is not None
    return int(stored["spec"]["replicas"])


async def test_a_missing_target_is_a_condition_and_the_loop_goes_on(
    start: Start, cluster_state: ClusterState, metrics: CannedMetrics
) -> None:
    workload(cluster_state, "web", 2, {"app": "web"})
    metrics.pod_values = {"web-0": "30", "web-1": "30"}
    cluster_state.create(hpa("orphan", deployment_ref("gone")))
    cluster_state.create(hpa("web", deployment_ref("web")))
    async with start() as (controller, _):
        assert await controller.sync("shop/orphan") is not None
        await controller.sync("shop/web")
        await controller.events.flush()
    able = condition(cluster_state, "orphan", "AbleToScale")
    assert (able["status"], able["reason"]) == ("False", "FailedGetScale")
    assert able["message"] == (
        "the HPA controller was unable to get the target's current scale: "
        'deployments.apps "gone" not found'
    )
    assert events(cluster_state, "orphan") == [
        ("Warning", "FailedGetScale", 'deployments.apps "gone" not found')
    ]
    # 30/10 * 2 = 6 wanted, max(2 * 2, 4) allowed at once: the good HPA still scaled.
    assert replicas(cluster_state, "web") == 4
    assert events(cluster_state, "web") == [
        ("Normal", "SuccessfulRescale", "New size: 4; reason: pods metric rps above target")
    ]


async def test_a_target_without_a_selector_cannot_be_autoscaled(
    start: Start, cluster_state: ClusterState
) -> None:
    cluster_state.register_custom_resource(
        "example.com", "Worker", "workers", scale=ScaleSubresource(".spec.count", ".status.count")
    )
    cluster_state.create({"apiVersion": "example.com/v1", "kind": "Worker", "metadata": {
        "name": "queue", "namespace": "shop"}, "spec": {"count": 2}, "status": {"count": 2}})  # fmt: skip
    cluster_state.create(hpa("queue", {"apiVersion": "example.com/v1", "kind": "Worker",
                                       "name": "queue"}))  # fmt: skip
    async with start() as (controller, _):
        await controller.sync("shop/queue")
    active = condition(cluster_state, "queue", "ScalingActive")
    assert (active["status"], active["reason"], active["message"]) == (
        "False",
        "InvalidSelector",
        "the HPA target's scale is missing a selector",
    )
    assert events(cluster_state, "queue") == [
        ("Warning", "SelectorRequired", "selector is required"),
        ("Warning", "FailedComputeMetricsReplicas", "selector is required"),
    ]


async def test_a_selector_the_scale_client_cannot_convert_fails_the_scale_read(
    start: Start, cluster_state: ClusterState
) -> None:
    cluster_state.register_custom_resource(
        "example.com",
        "Worker",
        "workers",
        scale=ScaleSubresource(".spec.count", ".status.count", ".status.selector"),
    )
    cluster_state.create({"apiVersion": "example.com/v1", "kind": "Worker", "metadata": {
        "name": "queue", "namespace": "shop"}, "spec": {"count": 2},
        "status": {"count": 2, "selector": "app in (web"}})  # fmt: skip
    cluster_state.create(hpa("queue", {"apiVersion": "example.com/v1", "kind": "Worker",
                                       "name": "queue"}))  # fmt: skip
    async with start() as (controller, _):
        await controller.sync("shop/queue")
    able = condition(cluster_state, "queue", "AbleToScale")
    assert (able["status"], able["reason"]) == ("False", "FailedGetScale")
    [(kind, reason, message)] = events(cluster_state, "queue")
    assert (kind, reason) == ("Warning", "FailedGetScale")
    assert message in able["message"]


async def test_two_hpas_on_the_same_pods_are_ambiguous(
    start: Start, cluster_state: ClusterState, metrics: CannedMetrics
) -> None:
    workload(cluster_state, "web", 2, {"app": "web"})
    metrics.pod_values = {"web-0": "10", "web-1": "10"}
    cluster_state.create(hpa("first", deployment_ref("web")))
    cluster_state.create(hpa("second", deployment_ref("web")))
    async with start() as (controller, _):
        await controller.sync("shop/first")  # the other one's selector is not known yet
        await controller.sync("shop/second")
        await controller.sync("shop/first")
    message = "pods by selector app=web are controlled by multiple HPAs: [shop/first shop/second]"
    for name in ("first", "second"):
        active = condition(cluster_state, name, "ScalingActive")
        assert (active["status"], active["reason"], active["message"]) == (
            "False",
            "AmbiguousSelector",
            message,
        )
        assert ("Warning", "AmbiguousSelector", message) in events(cluster_state, name)
    assert replicas(cluster_state, "web") == 2


async def test_a_metric_that_cannot_be_read_never_becomes_a_scale_down(
    start: Start, cluster_state: ClusterState, metrics: CannedMetrics
) -> None:
    """The readable metric asks for 1 replica; the unreadable one keeps 3 (PR #99514)."""
    workload(cluster_state, "web", 3, {"app": "web"})
    metrics.pod_values = {"web-0": "1", "web-1": "1", "web-2": "1"}
    queue = {"type": "External", "external": {"metric": {"name": "queue_depth"},
             "target": {"type": "AverageValue", "averageValue": "5"}}}  # fmt: skip
    cluster_state.create(hpa("web", deployment_ref("web"), [pods_metric(), queue]))
    async with start() as (controller, _):
        outcome = await controller.sync("shop/web")
    assert outcome is not None and not outcome.decision.rescale
    assert replicas(cluster_state, "web") == 3
    active = condition(cluster_state, "web", "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetExternalMetric")
    assert active["message"] == (
        "the HPA was unable to compute the replica count: unable to get external metric "
        "shop/queue_depth/nil: unable to fetch metrics from external metrics API: the "
        "server could not find the requested resource (get queue_depth.external.metrics.k8s.io)"
    )
    reasons = [reason for _, reason, _ in events(cluster_state, "web")]
    assert reasons == ["FailedGetExternalMetric", "FailedComputeMetricsReplicas"]


async def test_shadow_mode_decides_and_exports_but_writes_nothing(
    start: Start, cluster_state: ClusterState, metrics: CannedMetrics
) -> None:
    workload(cluster_state, "web", 2, {"app": "web"})
    metrics.pod_values = {"web-0": "30", "web-1": "30"}
    cluster_state.create(hpa("web", deployment_ref("web")))
    before = cluster_state.get(HPAS, "web", "shop")
    assert cluster_state.audit_log is not None
    async with start(mode=Mode.SHADOW) as (controller, registry):
        cluster_state.audit_log.clear()
        outcome = await controller.sync("shop/web")
        await controller.sync("shop/web")
    assert outcome is not None
    assert (outcome.decision.rescale, outcome.result.desired_replicas) == (True, 4)
    writes = [r for r in cluster_state.audit_log if r.method not in ("GET",)]
    assert writes == []
    assert cluster_state.get(HPAS, "web", "shop") == before
    assert replicas(cluster_state, "web") == 2
    assert cluster_state.list("events", "shop") == []
    text = generate_latest(registry).decode()
    assert (
        'horizontal_pod_autoscaler_controller_desired_replicas{hpa_name="web",namespace="shop"} 4.0'
        in text
    )
    assert 'horizontal_pod_autoscaler_controller_info{mode="shadow"} 1.0' in text
    assert (
        'horizontal_pod_autoscaler_controller_reconciliations_total{action="scale_up",error="none"}'
        " 2.0" in text
    )


async def test_the_status_is_written_only_when_it_changes(
    start: Start, cluster_state: ClusterState, metrics: CannedMetrics
) -> None:
    workload(cluster_state, "web", 2, {"app": "web"})
    metrics.pod_values = {"web-0": "10", "web-1": "10"}
    cluster_state.create(hpa("web", deployment_ref("web")))
    assert cluster_state.audit_log is not None
    async with start() as (controller, _):
        cluster_state.audit_log.clear()
        loop = asyncio.get_running_loop()
        for _ in range(3):
            await controller.sync("shop/web")
            deadline = loop.time() + 30
            # Let the watch bring our own write back before the next sync reads the cache.
            while (
                controller._hpas is not None
                and "status" not in (controller._hpas.store["shop/web"])
            ):
                assert loop.time() < deadline
                await asyncio.sleep(0.01)
    status_writes = [r for r in cluster_state.audit_log if r.path.endswith("/status")]
    assert len(status_writes) == 1
    stored = cluster_state.get(HPAS, "web", "shop")
    assert stored is not None
    assert stored["status"]["currentReplicas"] == 2
    assert stored["status"]["currentMetrics"] == [
        {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "10"}}}
    ]


async def test_an_hpa_the_loop_cannot_read_is_skipped_not_fatal(
    start: Start, cluster_state: ClusterState
) -> None:
    """minReplicas 0 without the HPAScaleToZero gate: the API server accepted it (its
    gates differ), this loop cannot validate it; it says so once and carries on."""
    cluster_state.create(hpa("zero", deployment_ref("web"), minReplicas=0))
    async with start() as (controller, registry):
        assert await controller.sync("shop/zero") is None
    assert "status" not in (cluster_state.get(HPAS, "zero", "shop") or {})
    assert (
        'reconciliations_total{action="none",error="spec"} 1.0'
        in generate_latest(registry).decode()
    )


async def test_a_deleted_hpa_is_forgotten(
    start: Start, cluster_state: ClusterState, metrics: CannedMetrics
) -> None:
    workload(cluster_state, "web", 2, {"app": "web"})
    metrics.pod_values = {"web-0": "10", "web-1": "10"}
    cluster_state.create(hpa("web", deployment_ref("web")))
    async with start() as (controller, _):
        await controller.sync("shop/web")
        assert "shop/web" in controller.memory
        cluster_state.delete(HPAS, "web", "shop")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not await controller.reconcile_key("shop/web"):
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        assert "shop/web" not in controller.memory


async def test_the_hpa_selector_chooses_the_hpas_the_loop_manages(
    start: Start, cluster_state: ClusterState
) -> None:
    """`--hpa-selector` filters on the server (a labelSelector on the list and watch), so
    HPAs left to the in-tree controller are never seen, let alone written."""
    ours = hpa("ours", deployment_ref("web"))
    ours["metadata"]["labels"] = {"autoscaler": "metrics-adapter"}
    cluster_state.create(ours)
    cluster_state.create(hpa("theirs", deployment_ref("web")))
    async with start(selector="autoscaler=metrics-adapter") as (controller, _):
        assert controller.cached_hpa("shop/ours") is not None
        assert controller.cached_hpa("shop/theirs") is None
        assert await controller.sync("shop/theirs") is None
