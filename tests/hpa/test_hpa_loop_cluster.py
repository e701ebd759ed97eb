"""The loop's cluster requests against the API server stand-in: Events, the Lease, /scale,
HPA status and the watch caches.

Pins client-go behaviour the loop reproduces: tools/record (event naming, count
patching, similar-event aggregation, the per-object spam filter), tools/leaderelection
(tryAcquireOrRenew, takeover after expiry with leaseTransitions+1, release), the scale
client's Get/Update of `/scale` tried over every version of the target's group
(horizontal.go scaleForResourceMappings), retry.RetryOnConflict for status updates, and
the reflector's relist after a 410.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.apiserver import deployment

from adapter.cluster import autoscaling, connection, watching
from adapter.cluster import discovery as cluster_discovery
from adapter.cluster.connection import Cluster, ClusterApiError
from adapter.cluster.events import EventRecorder, ObjectReference
from adapter.cluster.leaderelection import LeaderElectionConfig, LeaderElector
from adapter.k8s.resources import UnknownResourceError
from adapter.sandbox.apiserver import RunningApiServer, run_apiserver
from adapter.sandbox.store import ClusterState, ScaleSubresource

HPA_REF = ObjectReference(
    kind="HorizontalPodAutoscaler",
    namespace="shop",
    name="web",
    uid="1234",
    api_version="autoscaling/v2",
    resource_version="7",
)


@pytest.fixture
async def cluster(
    apiserver: RunningApiServer, cluster_state: ClusterState, tmp_path: Path
) -> AsyncIterator[Cluster]:
    cluster_state.ensure_namespace("shop")
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    async with connection.connect(str(kubeconfig), qps=0) as connected:
        yield connected


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- Events ----------------------------------------------------------------------------


async def test_an_event_is_written_as_client_go_writes_it(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    recorder = EventRecorder(cluster, "horizontal-pod-autoscaler")
    recorder.record(HPA_REF, "Normal", "SuccessfulRescale", "New size: 4; reason: cpu above")
    await recorder.flush()
    [event] = cluster_state.list("events", "shop")
    assert event["metadata"]["name"].startswith("web.")
    int(event["metadata"]["name"].removeprefix("web."), 16)  # hex unix nanoseconds
    assert event["involvedObject"] == {
        "kind": "HorizontalPodAutoscaler",
        "namespace": "shop",
        "name": "web",
        "uid": "1234",
        "apiVersion": "autoscaling/v2",
        "resourceVersion": "7",
    }
    assert event["source"] == {"component": "horizontal-pod-autoscaler"}
    assert event["reportingComponent"] == "horizontal-pod-autoscaler"
    assert (event["type"], event["reason"], event["count"]) == ("Normal", "SuccessfulRescale", 1)
    assert event["message"] == "New size: 4; reason: cpu above"
    assert event["firstTimestamp"] == event["lastTimestamp"]


async def test_a_repeated_event_counts_up_instead_of_piling_up(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    recorder = EventRecorder(cluster, "horizontal-pod-autoscaler")
    for _ in range(3):
        recorder.record(HPA_REF, "Warning", "FailedGetScale", 'deployments.apps "web" not found')
    await recorder.flush()
    [event] = cluster_state.list("events", "shop")
    assert event["count"] == 3


async def test_more_than_ten_similar_messages_are_combined(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    """EventAggregator: the tenth distinct message for one object+reason in ten minutes
    and later ones go to one "(combined from similar events)" Event."""
    recorder = EventRecorder(cluster, "horizontal-pod-autoscaler", monotonic=Monotonic())
    for size in range(2, 14):
        recorder.record(HPA_REF, "Normal", "SuccessfulRescale", f"New size: {size}; reason: x")
    await recorder.flush()
    events = cluster_state.list("events", "shop")
    plain = [e for e in events if not e["message"].startswith("(combined")]
    combined = [e for e in events if e["message"].startswith("(combined from similar events): ")]
    assert len(plain) == 9
    assert len(combined) == 1
    assert combined[0]["count"] == 3
    assert combined[0]["message"] == "(combined from similar events): New size: 13; reason: x"


async def test_the_spam_filter_lets_25_events_through_then_one_per_five_minutes(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    clock = Monotonic()
    recorder = EventRecorder(cluster, "horizontal-pod-autoscaler", monotonic=clock)
    for _ in range(30):
        recorder.record(HPA_REF, "Warning", "FailedGetScale", "boom")
    await recorder.flush()
    [event] = cluster_state.list("events", "shop")
    assert event["count"] == 25
    clock.now += 300
    recorder.record(HPA_REF, "Warning", "FailedGetScale", "boom")
    await recorder.flush()
    [event] = cluster_state.list("events", "shop")
    assert event["count"] == 26


# -- Leases ----------------------------------------------------------------------------


def elector(cluster: Cluster, identity: str, *, lease: float = 2.0) -> LeaderElector:
    return LeaderElector(
        cluster,
        LeaderElectionConfig(
            namespace="kube-system",
            name="hpa-test",
            identity=identity,
            lease_duration=lease,
            renew_deadline=lease / 2,
            retry_period=0.2,
        ),
    )


def lease_spec(cluster_state: ClusterState) -> dict[str, Any]:
    lease = cluster_state.get("leases.coordination.k8s.io", "hpa-test", "kube-system")
    assert lease is not None
    return dict(lease["spec"])


async def test_the_first_candidate_creates_the_lease(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    first, second = elector(cluster, "one"), elector(cluster, "two")
    assert await first.try_acquire_or_renew()
    spec = lease_spec(cluster_state)
    assert spec["holderIdentity"] == "one"
    assert spec["leaseDurationSeconds"] == 2
    assert spec["leaseTransitions"] == 0
    assert spec["acquireTime"] == spec["renewTime"]
    assert spec["renewTime"].endswith("Z") and len(spec["renewTime"]) == 27  # MicroTime
    assert not await second.try_acquire_or_renew()  # held and not expired
    assert await first.try_acquire_or_renew()  # the holder renews
    renewed = lease_spec(cluster_state)
    assert renewed["acquireTime"] == spec["acquireTime"]
    assert renewed["renewTime"] >= spec["renewTime"]


async def test_a_standby_takes_over_an_expired_lease(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    first, second = elector(cluster, "one"), elector(cluster, "two")
    assert await first.try_acquire_or_renew()
    assert not await second.try_acquire_or_renew()
    # Expiry is judged on the standby's own clock from when it saw the record change.
    deadline = asyncio.get_running_loop().time() + 30
    while not await second.try_acquire_or_renew():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.2)
    spec = lease_spec(cluster_state)
    assert spec["holderIdentity"] == "two"
    assert spec["leaseTransitions"] == 1
    assert not await first.try_acquire_or_renew()  # the old holder sees it lost


async def test_leading_runs_the_work_and_release_hands_over_at_once(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        await asyncio.Event().wait()

    first = elector(cluster, "one", lease=30.0)
    running = asyncio.ensure_future(first.run(work))
    await asyncio.wait_for(started.wait(), 30)
    assert first.is_leader
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    spec = lease_spec(cluster_state)
    assert spec["holderIdentity"] == ""  # released: nobody has to wait 30 s
    assert spec["leaseDurationSeconds"] == 1
    second = elector(cluster, "two", lease=30.0)
    assert await second.try_acquire_or_renew()
    assert lease_spec(cluster_state)["leaseTransitions"] == 1


async def test_work_failing_ends_the_election_with_its_error(cluster: Cluster) -> None:
    async def work() -> None:
        raise RuntimeError("controller broke")

    with pytest.raises(RuntimeError, match="controller broke"):
        await asyncio.wait_for(elector(cluster, "one").run(work), 30)


@pytest.mark.parametrize(
    ("duration", "deadline", "retry", "problem"),
    [(10, 10, 2, "leaseDuration"), (15, 2, 2, "renewDeadline"), (15, 10, 0, "retryPeriod")],
)
def test_leader_election_settings_are_checked(
    duration: float, deadline: float, retry: float, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        LeaderElectionConfig("ns", "name", "me", duration, deadline, retry)


# -- /scale and /status ----------------------------------------------------------------


async def test_the_scale_of_a_deployment_is_read_and_written(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    cluster_state.create(deployment("web", "shop", replicas=2))
    mapper = await cluster_discovery.fetch_rest_mapper(cluster)
    mappings = autoscaling.scale_mappings(mapper, "apps/v1", "Deployment")
    scale, info = await autoscaling.get_scale(cluster, mappings, "shop", "web")
    assert (scale["spec"]["replicas"], scale["status"]["selector"]) == (2, "app=web")
    await autoscaling.update_scale(cluster, info, "shop", "web", scale, 5)
    stored = cluster_state.get("deployments.apps", "web", "shop")
    assert stored is not None and stored["spec"]["replicas"] == 5
    # The Scale read before is stale now: writing it again is a conflict, not a lost update.
    with pytest.raises(ClusterApiError) as caught:
        await autoscaling.update_scale(cluster, info, "shop", "web", scale, 7)
    assert caught.value.code == 409


async def test_a_custom_resource_scales_through_its_scale_subresource(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    cluster_state.register_custom_resource(
        "example.com",
        "Worker",
        "workers",
        versions=("v1", "v1beta1"),
        scale=ScaleSubresource(".spec.count", ".status.count", ".status.selector"),
    )
    cluster_state.create(
        {
            "apiVersion": "example.com/v1",
            "kind": "Worker",
            "metadata": {"name": "queue", "namespace": "shop"},
            "spec": {"count": 3},
            "status": {"count": 3, "selector": "app=queue"},
        }
    )
    mapper = await cluster_discovery.fetch_rest_mapper(cluster)
    # The reference's version is not used: any version of the group serves the scale.
    mappings = autoscaling.scale_mappings(mapper, "example.com/v1beta1", "Worker")
    scale, info = await autoscaling.get_scale(cluster, mappings, "shop", "queue")
    assert (scale["spec"]["replicas"], scale["status"]["selector"]) == (3, "app=queue")
    await autoscaling.update_scale(cluster, info, "shop", "queue", scale, 1)
    stored = cluster_state.get("workers.example.com", "queue", "shop")
    assert stored is not None and stored["spec"]["count"] == 1


async def test_scale_read_errors_are_client_go_s(cluster: Cluster) -> None:
    mapper = await cluster_discovery.fetch_rest_mapper(cluster)
    mappings = autoscaling.scale_mappings(mapper, "apps/v1", "Deployment")
    with pytest.raises(ClusterApiError) as caught:
        await autoscaling.get_scale(cluster, mappings, "shop", "gone")
    assert autoscaling.error_text(caught.value) == 'deployments.apps "gone" not found'
    with pytest.raises(UnknownResourceError, match='no matches for kind "Nope" in group "apps"'):
        autoscaling.scale_mappings(mapper, "apps/v1", "Nope")
    with pytest.raises(autoscaling.InvalidGroupVersion, match="unexpected GroupVersion string"):
        autoscaling.scale_mappings(mapper, "a/b/c", "Deployment")


async def test_a_status_update_retries_on_conflict(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    hpa = cluster_state.create(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "maxReplicas": 5,
            },
        }
    )
    cluster_state.patch("horizontalpodautoscalers.autoscaling", "web", {"metadata": {
        "labels": {"changed": "meanwhile"}}}, "shop")  # fmt: skip
    mapper = await cluster_discovery.fetch_rest_mapper(cluster)
    info = mapper.for_version("autoscaling", "v2", "horizontalpodautoscalers")
    assert info is not None
    await autoscaling.update_status(cluster, info, hpa, {"desiredReplicas": 3})
    stored = cluster_state.get("horizontalpodautoscalers.autoscaling", "web", "shop")
    assert stored is not None
    # the stored v2 shape: currentMetrics has no omitempty (k8s.io/api autoscaling/v2)
    assert stored["status"] == {"desiredReplicas": 3, "currentMetrics": None}
    assert stored["metadata"]["labels"] == {"changed": "meanwhile"}  # not overwritten


# -- watch caches ----------------------------------------------------------------------


async def test_a_watch_from_a_forgotten_resource_version_is_expired(tmp_path: Path) -> None:
    state = ClusterState(history=2)
    for name in ("a", "b", "c", "d"):
        state.create(deployment(name, "shop"))
    async with run_apiserver(state) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        async with connection.connect(str(kubeconfig), qps=0) as cluster:
            with pytest.raises(watching.WatchExpired, match="too old resource version"):
                async for _ in watching.watch_events(
                    cluster, "/apis/apps/v1/deployments", resource_version="2", timeout=5
                ):
                    pass


async def test_an_informer_follows_the_watch_and_a_relist_reports_what_it_missed(
    cluster: Cluster, cluster_state: ClusterState
) -> None:
    seen: dict[str, int] = {}
    gone: list[str] = []
    mapper = await cluster_discovery.fetch_rest_mapper(cluster)
    info = mapper.for_version("apps", "v1", "deployments")
    assert info is not None
    cluster_state.create(deployment("a", "shop"))
    informer = watching.Informer(
        cluster,
        info,
        on_add=lambda key, obj: seen.__setitem__(key, obj["spec"]["replicas"]),
        on_update=lambda key, _old, obj: seen.__setitem__(key, obj["spec"]["replicas"]),
        on_delete=lambda key, _obj: gone.append(key),
    )
    task = asyncio.ensure_future(informer.run())
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(informer.synced.wait(), 30)
        assert seen == {"shop/a": 1}
        cluster_state.patch("deployments.apps", "a", {"spec": {"replicas": 4}}, "shop")
        deadline = loop.time() + 30
        while seen["shop/a"] != 4:  # an update arrives through the watch
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # While nobody watched: one object went, one came. A relist tells the handlers.
    cluster_state.delete("deployments.apps", "a", "shop")
    cluster_state.create(deployment("b", "shop", replicas=2))
    await informer.relist()
    assert gone == ["shop/a"]
    assert seen["shop/b"] == 2
    assert set(informer.store) == {"shop/b"}
