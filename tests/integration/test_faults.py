"""Prometheus faults under a running HPA loop: never a scale-down, back within one relist.

The whole path is real: the real Prometheus (backfilled: 4 pods at 10 requests in flight
each, target 10 per pod, so the right answer is "stay at 4"), the fault proxy in front
of it, the adapter serving custom metrics with discovery relisting every second, the API
server stand-in aggregating it, and the HPA loop syncing every 0.2 s through that
aggregation with no scale-down stabilization window — a value misread as 0 would scale
4 -> 1 at the next sync. Each fault runs for several syncs and at least two relists (so
an emptied rule is confirmed, not just held), then ends; the loop must find a valid
metric again before a second relist has happened.

Faults: 500 from Prometheus, a garbage body, the connection cut before and in the middle
of the answer, a stall beyond the query timeout, Prometheus answering NaN for the pods
(a second real Prometheus holding NaN samples), and Prometheus having no series at all
(a real Prometheus without them). The proxy never invents a successful answer.

Counted per fault (printed with `-s`): syncs during the fault, scale-downs (must be 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from support.apiserver import deployment, pod
from support.faultproxy import Cut, Delay, FaultProxy, Mode, PassThrough, Reply
from support.prometheus import PrometheusProcess, SeriesData, default_dataset

from adapter.cluster import connection
from adapter.cluster import discovery as cluster_discovery
from adapter.hpa import running
from adapter.hpa.controller import SyncOutcome
from adapter.hpa.fetching import ApiMetricsBackend
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.settings import PrometheusSettings
from adapter.rules.config import parse_config
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import APIServiceBackend, ClusterState
from adapter.server.running import running as running_server
from adapter.serving import Components, build_components
from adapter.settings import AuthenticationSettings, ServingSettings, Settings
from adapter.settings.hpa import HPASettings, LeaderElectionSettings
from adapter.settings.serving import DiscoverySettings

pytestmark = pytest.mark.slow

NAMESPACE = "flt"
METRIC = "flt_inflight"
PODS = [f"web-{i}" for i in range(4)]
CONFIG = f"""
rules:
- seriesQuery: '{METRIC}{{namespace!="",pod!=""}}'
  resources: {{overrides: {{namespace: {{resource: namespace}}, pod: {{resource: pod}}}}}}
  metricsQuery: sum(<<.Series>>{{<<.LabelMatchers>>}}) by (<<.GroupBy>>)
"""
HPAS = "horizontalpodautoscalers.autoscaling"


def _write(data: SeriesData, value: float) -> None:
    for name in PODS:
        data.gauge(METRIC, {"namespace": NAMESPACE, "pod": name}, value)


default_dataset(lambda data: _write(data, 10.0))


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    mode: Mode = field(default_factory=PassThrough)
    upstream: str = ""
    """Another real Prometheus ("nan" or "empty") takes the place of the good one."""


FAULTS = [
    Fault("http-500", Reply(status=500, error_type="internal", error="injected")),
    Fault("garbage", Reply(status=200, body=b"<html>not json", content_type="text/html")),
    Fault("cut", Cut()),
    Fault("cut-mid-body", Cut(after_bytes=30)),
    Fault("stall", Delay(seconds=3.0)),
    Fault("nan", upstream="nan"),
    Fault("empty-series", upstream="empty"),
]


@contextlib.asynccontextmanager
async def adapter_with_discovery(
    apiserver: RunningApiServer, prometheus_url: str, tmp_path: Path
) -> AsyncIterator[tuple[str, Components]]:
    """The adapter as `serve` runs it, its discovery loop relisting every second."""
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "adapter" / "kubeconfig")
    settings = Settings(
        config_file="faults.yaml",
        prometheus=PrometheusSettings(url=prometheus_url, timeout=1.0),
        serving=ServingSettings(
            secure_port=0, bind_address="127.0.0.1", cert_dir=str(tmp_path / "certs")
        ),
        discovery=DiscoverySettings(relist_interval=1.0, max_age=600.0),
        # The plain-HTTP stand-in publishes no front-proxy CA: no lookup, as in the
        # HPA loop's own end-to-end tests.
        authentication=AuthenticationSettings(skip_lookup=True),
        query_timeout=1.0,
    )
    async with (
        PrometheusClient(settings.prometheus) as prometheus,
        connection.connect(str(kubeconfig), qps=0) as cluster,
    ):
        mapper = await cluster_discovery.fetch_rest_mapper(cluster)
        components = build_components(
            settings, parse_config(CONFIG, "faults.yaml"), mapper, prometheus, cluster
        )
        await components.discovery.relist()
        tasks = [asyncio.ensure_future(run()) for run in components.background.values()]
        try:
            async with running_server(components.app, settings.serving) as url:
                yield url, components
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def hpa_loop(
    apiserver: RunningApiServer, tmp_path: Path, on_sync: Callable[[SyncOutcome], None]
) -> AsyncIterator[None]:
    """`hpa run` against the stand-in: metrics through its aggregation of the adapter."""
    settings = HPASettings(sync_period=0.2, leader_election=LeaderElectionSettings(enabled=False))
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "loop" / "kubeconfig")
    async with connection.connect(str(kubeconfig), qps=0) as cluster:
        mapper = await cluster_discovery.fetch_rest_mapper(cluster)
        loop = running.build_loop(
            settings, cluster, mapper, ApiMetricsBackend(cluster, mapper), CollectorRegistry(),
            on_sync=on_sync,
        )  # fmt: skip
        tasks = [asyncio.ensure_future(factory()) for factory in loop.tasks.values()]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def at_least(count: Callable[[], int], wanted: int) -> Callable[[], bool]:
    return lambda: count() >= wanted


def valid_since(outcomes: list[SyncOutcome], start: int) -> Callable[[], bool]:
    return lambda: any(valid(o) for o in outcomes[start:])


def scale_downs(outcomes: list[SyncOutcome]) -> list[SyncOutcome]:
    return [
        o
        for o in outcomes
        if o.decision.rescale and o.decision.desired_replicas < o.decision.current_replicas
    ]


def valid(outcome: SyncOutcome) -> bool:
    active = outcome.result.status.condition("ScalingActive")
    return active is not None and active.status == "True"


async def test_no_fault_scales_down_and_each_recovers_within_one_relist(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    prometheus: PrometheusProcess,
    prometheus_factory: Callable[[SeriesData], PrometheusProcess],
    tmp_path: Path,
) -> None:
    nan_data = SeriesData()
    _write(nan_data, math.nan)
    empty_data = SeriesData()
    empty_data.gauge("flt_unrelated", {"job": "x"}, 1.0)
    upstreams = {
        "nan": prometheus_factory(nan_data).url,
        "empty": prometheus_factory(empty_data).url,
    }
    cluster_state.create(deployment("web", NAMESPACE, replicas=4))
    for name in PODS:
        cluster_state.create(pod(name, NAMESPACE, {"app": "web"}))
    hpa: dict[str, Any] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 8,
            "metrics": [{"type": "Pods", "pods": {"metric": {"name": METRIC},
                         "target": {"type": "AverageValue", "averageValue": "10"}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}},
        },
    }  # fmt: skip
    cluster_state.create(hpa)
    outcomes: list[SyncOutcome] = []
    figures: dict[str, tuple[int, int, int]] = {}

    async with (
        FaultProxy(prometheus.url) as proxy,
        adapter_with_discovery(apiserver, proxy.url, tmp_path) as (url, components),
    ):
        cluster_state.register_api_service(
            APIServiceBackend(
                "custom.metrics.k8s.io", "v1beta2", url, insecure_skip_tls_verify=True
            )
        )
        discovery = components.discovery
        async with hpa_loop(apiserver, tmp_path, outcomes.append):
            await eventually(lambda: any(valid(o) for o in outcomes), "a first valid sync")
            for fault in FAULTS:
                start = len(outcomes)
                relists = discovery.stats.relists
                proxy.mode = fault.mode
                proxy.upstream = upstreams.get(fault.upstream, prometheus.url)
                # Long enough for several syncs and two relists (a held drop, then its
                # confirmation).
                await eventually(
                    at_least(lambda: discovery.stats.relists, relists + 3),
                    f"relists ({fault.name})",
                )
                await eventually(
                    at_least(lambda: len(outcomes), start + 5), f"syncs ({fault.name})"
                )
                during = outcomes[start:]
                proxy.mode = PassThrough()
                proxy.upstream = prometheus.url
                ended = len(outcomes)
                relists_at_end = discovery.stats.relists
                await eventually(valid_since(outcomes, ended), f"recovery ({fault.name})")
                figures[fault.name] = (
                    len(during),
                    len(scale_downs(during)),
                    discovery.stats.relists - relists_at_end,
                )
    print("\nfault: syncs during / scale-downs / relists until a valid sync after")
    for name, (syncs, downs, relists_after) in figures.items():
        print(f"  {name:14} {syncs:4} / {downs} / {relists_after}")
    assert {name: downs for name, (_, downs, _) in figures.items()} == dict.fromkeys(figures, 0)
    # Recovery within one relist after the fault ends (a relist may be in flight when
    # it ends, so the one that completes first and the next sync are what count).
    assert all(after <= 1 for (_, _, after) in figures.values()), figures
    stored = cluster_state.get("deployments.apps", "web", NAMESPACE)
    assert stored is not None and stored["spec"]["replicas"] == 4
    assert not scale_downs(outcomes)
    assert cluster_state.get(HPAS, "web", NAMESPACE) is not None
