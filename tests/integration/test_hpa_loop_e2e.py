"""The HPA loop end to end: a workload under load, the real Prometheus scraping it, the
adapter serving the metrics APIs, the API server stand-in, and the loop scaling.

The workload is simulated where Kubernetes would run it: `Workload` keeps the pods of a
Deployment at its `spec.replicas` (a ReplicaSet controller and kubelet in one) and
spreads a total load over them, which `LoadExporter` serves as a Prometheus exposition;
a real Prometheus scrapes it every second (`honor_labels`), so the loop sees the load
move as a real cluster's HPA would: per-pod values that change when the pods change.

Upstream behaviour pinned (kube-controller-manager v1.36, horizontal.go): scale-up on a
Pods metric above target with the behavior's scale-up policies, the scale-down held by
`behavior.scaleDown.stabilizationWindowSeconds` (AbleToScale=ScaleDownStabilized) and
made after it, the SuccessfulRescale events ("New size: N; reason: ..."), the status
conditions, a metric that cannot be read keeping the target where it is
(FailedGetExternalMetric), and client-go leader election between two replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client import CollectorRegistry
from support.adapter import running_adapter
from support.apiserver import deployment, pod
from support.prometheus import PrometheusProcess, SeriesData

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
from adapter.serving import build_components
from adapter.settings import AuthenticationSettings, ServingSettings, Settings
from adapter.settings.hpa import HPASettings, LeaderElectionSettings, RecordSettings

REPO = Path(__file__).resolve().parents[2]
HPAS = "horizontalpodautoscalers.autoscaling"
LOAD = "hpa_e2e_inflight_requests"
QUEUE = "hpa_e2e_queue_depth"

CONFIG = f"""
rules:
- seriesQuery: '{LOAD}{{namespace!="",pod!=""}}'
  resources: {{overrides: {{namespace: {{resource: namespace}}, pod: {{resource: pod}}}}}}
  metricsQuery: sum(<<.Series>>{{<<.LabelMatchers>>}}) by (<<.GroupBy>>)
externalRules:
- seriesQuery: '{QUEUE}{{namespace!=""}}'
  resources: {{overrides: {{namespace: {{resource: namespace}}}}}}
  metricsQuery: sum(<<.Series>>{{<<.LabelMatchers>>}}) by (queue)
"""


# -- the workload and its exporter -----------------------------------------------------


class LoadExporter:
    """A Prometheus exposition whose values the test sets, served from a thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def set(self, name: str, labels: dict[str, str], value: float) -> None:
        with self._lock:
            self._values[(name, tuple(sorted(labels.items())))] = value

    def replace(self, name: str, namespace: str, series: dict[tuple[str, str], float]) -> None:
        """All series of `name` in `namespace` at once (pods come and go together)."""
        with self._lock:
            for key in [k for k in self._values if k[0] == name and ("namespace", namespace)
                        in k[1]]:  # fmt: skip
                del self._values[key]
            for (label, value_of_label), value in series.items():
                labels = {"namespace": namespace, label: value_of_label}
                self._values[(name, tuple(sorted(labels.items())))] = value

    def render(self) -> str:
        with self._lock:
            lines = []
            for (name, labels), value in sorted(self._values.items()):
                rendered = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"{name}{{{rendered}}} {value}")
        return "\n".join(lines) + "\n"


@dataclass
class ScrapingPrometheus(PrometheusProcess):
    """The test machinery's Prometheus, scraping one target every second."""

    target: str = ""

    def _spawn(self, config: Path, data_dir: Path) -> None:
        config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1h}\n"
            "scrape_configs:\n"
            "- job_name: workload\n"
            "  honor_labels: true\n"
            f"  static_configs: [{{targets: ['{self.target}']}}]\n"
        )
        super()._spawn(config, data_dir)


@pytest.fixture(scope="module")
def exporter() -> Iterator[LoadExporter]:
    served = LoadExporter()
    served.thread.start()
    served.set(LOAD, {"namespace": "seed", "pod": "seed"}, 0)
    served.set(QUEUE, {"namespace": "seed", "queue": "seed"}, 0)
    yield served
    served.server.shutdown()
    served.server.server_close()
    served.thread.join()


@pytest.fixture(scope="module")
def scraping(
    exporter: LoadExporter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScrapingPrometheus]:
    process = ScrapingPrometheus(
        SeriesData(), tmp_path_factory.mktemp("scraping"), target=f"127.0.0.1:{exporter.port}"
    )
    with process:
        deadline = 60.0
        started = time.monotonic()
        while True:  # the adapter discovers series once at start: wait for the first scrape
            status, body = process.get("/api/v1/query", [("query", f"{LOAD}{{pod='seed'}}")])
            if status == 200 and orjson.loads(body)["data"]["result"]:
                break
            assert time.monotonic() - started < deadline, process.log_tail()
            time.sleep(0.1)
        yield process


@dataclass
class Workload:
    """A Deployment's pods kept at its spec.replicas, sharing `load` between them."""

    state: ClusterState
    exporter: LoadExporter
    namespace: str
    name: str
    load: float
    replicas: int = 1
    created: int = field(default=0)

    def __post_init__(self) -> None:
        self.labels = {"app": self.name}
        self.state.create(
            deployment(self.name, self.namespace, replicas=self.replicas, match_labels=self.labels)
        )
        self.sync()

    def pods(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.state.list("pods", self.namespace)
                if p["metadata"].get("labels") == self.labels]  # fmt: skip

    def sync(self) -> None:
        stored = self.state.get("deployments.apps", self.name, self.namespace)
        assert stored is not None
        wanted = int(stored["spec"]["replicas"])
        names = self.pods()
        while len(names) > wanted:
            self.state.delete("pods", names.pop(), self.namespace)
        while len(names) < wanted:
            name = f"{self.name}-{self.created}"
            self.created += 1
            self.state.create(pod(name, self.namespace, self.labels))
            names.append(name)
        if stored.get("status", {}).get("replicas") != len(names):
            self.state.patch("deployments.apps", self.name, {"status": {
                "replicas": len(names), "readyReplicas": len(names)}}, self.namespace)  # fmt: skip
        share = self.load / len(names) if names else 0.0
        self.exporter.replace(LOAD, self.namespace, {("pod", n): share for n in names})

    async def run(self) -> None:
        while True:
            self.sync()
            await asyncio.sleep(0.05)


async def eventually(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def hpa_object(
    namespace: str, name: str, metrics: list[dict[str, Any]], **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": metrics,
            **spec,
        },
    }


def load_metric() -> dict[str, Any]:
    return {"type": "Pods", "pods": {"metric": {"name": LOAD},
            "target": {"type": "AverageValue", "averageValue": "10"}}}  # fmt: skip


def queue_metric(queue: str, average: str = "10") -> dict[str, Any]:
    return {"type": "External", "external": {
        "metric": {"name": QUEUE, "selector": {"matchLabels": {"queue": queue}}},
        "target": {"type": "AverageValue", "averageValue": average}}}  # fmt: skip


def stored_hpa(state: ClusterState, namespace: str, name: str) -> dict[str, Any]:
    stored = state.get(HPAS, name, namespace)
    assert stored is not None
    return stored


def conditions(state: ClusterState, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    status = stored_hpa(state, namespace, name).get("status", {})
    return {c["type"]: c for c in status.get("conditions", [])}


def replicas(state: ClusterState, namespace: str, name: str) -> int:
    stored = state.get("deployments.apps", name, namespace)
    assert stored is not None
    return int(stored["spec"]["replicas"])


# -- running the loop ------------------------------------------------------------------


@asynccontextmanager
async def loop_through_apiserver(
    apiserver: RunningApiServer,
    tmp_path: Path,
    settings: HPASettings,
    on_sync: Callable[[SyncOutcome], None] | None = None,
) -> AsyncIterator[running.Loop]:
    """`hpa run`: metrics through the API server's aggregation, the rest as configured."""
    kubeconfig = apiserver.write_kubeconfig(tmp_path / f"loop-{id(settings)}" / "kubeconfig")
    async with connection.connect(str(kubeconfig), qps=0) as cluster:
        mapper = await cluster_discovery.fetch_rest_mapper(cluster)
        loop = running.build_loop(
            settings,
            cluster,
            mapper,
            ApiMetricsBackend(cluster, mapper),
            CollectorRegistry(),
            on_sync=on_sync,
        )
        tasks = [asyncio.ensure_future(factory()) for factory in loop.tasks.values()]
        try:
            yield loop
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    raise result


def serve_metrics_apis(state: ClusterState, url: str) -> None:
    """Register the adapter as the cluster's metrics APIs (its APIServices)."""
    for group, version in (
        ("custom.metrics.k8s.io", "v1beta2"),
        ("custom.metrics.k8s.io", "v1beta1"),
        ("external.metrics.k8s.io", "v1beta1"),
    ):
        state.register_api_service(
            APIServiceBackend(group, version, url, insecure_skip_tls_verify=True)
        )


def no_election(**values: Any) -> HPASettings:
    return HPASettings(leader_election=LeaderElectionSettings(enabled=False), **values)


def evaluate(paths: list[Path]) -> list[dict[str, Any]]:
    """`python -m adapter hpa evaluate RECORD...`, one JSON line per record."""
    result = subprocess.run(
        [sys.executable, "-m", "adapter", "hpa", "evaluate", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


# -- the tests -------------------------------------------------------------------------


async def test_scale_up_under_load_hold_then_scale_down_and_replay_the_records(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    scraping: ScrapingPrometheus,
    exporter: LoadExporter,
    tmp_path: Path,
) -> None:
    namespace = "e2e-scale"
    workload = Workload(cluster_state, exporter, namespace, "web", load=50.0)
    cluster_state.create(
        hpa_object(
            namespace,
            "web",
            [load_metric()],
            behavior={"scaleDown": {"stabilizationWindowSeconds": 3}},
        )
    )
    outcomes: list[SyncOutcome] = []
    records = tmp_path / "records"
    settings = no_election(sync_period=1.0, records=RecordSettings(str(records)))
    simulation = asyncio.ensure_future(workload.run())
    try:
        async with running_adapter(apiserver, scraping.url, tmp_path, CONFIG) as url:
            serve_metrics_apis(cluster_state, url)
            async with loop_through_apiserver(apiserver, tmp_path, settings, outcomes.append):
                # 50 in flight on 1 pod, 10 per pod wanted: 5 (scale-up policy: +4 pods).
                await eventually(lambda: replicas(cluster_state, namespace, "web") == 5, "5")
                await eventually(lambda: len(workload.pods()) == 5, "5 pods")
                workload.load = 5.0  # 1 per pod: 1 replica would do, after the window
                await eventually(lambda: replicas(cluster_state, namespace, "web") == 1, "1")
                await eventually(
                    lambda: stored_hpa(cluster_state, namespace, "web")
                    .get("status", {})
                    .get("currentReplicas") == 1,
                    "status",
                )  # fmt: skip
    finally:
        simulation.cancel()
        await asyncio.gather(simulation, return_exceptions=True)

    # Held: syncs that wanted 1 but kept 5 because of the stabilization window.
    held = [
        o
        for o in outcomes
        if o.decision.current_replicas == 5
        and not o.decision.rescale
        and o.result.explanation.proposal == 1
    ]
    assert held, "the scale-down was never held"
    for outcome in held:
        able = outcome.result.status.condition("AbleToScale")
        assert able is not None and able.reason == "ScaleDownStabilized"
        assert able.message == (
            "recent recommendations were higher than current one, applying the highest "
            "recent recommendation"
        )
    ups = [o for o in outcomes if o.decision.rescale and o.decision.desired_replicas == 5]
    downs = [o for o in outcomes if o.decision.rescale and o.decision.desired_replicas == 1]
    assert len(ups) == 1 and len(downs) == 1
    # The scale-down waited out the window after the last sync that still wanted 5.
    last_five = max(
        o.decision.now
        for o in outcomes
        if o.result.explanation.proposal == 5 and o.decision.now < downs[0].decision.now
    )
    assert (downs[0].decision.now - last_five).total_seconds() >= 3

    events = [
        (e["type"], e["reason"], e["message"], e["source"]["component"])
        for e in cluster_state.list("events", namespace)
    ]
    assert ("Normal", "SuccessfulRescale", f"New size: 5; reason: pods metric {LOAD} above target",
            "horizontal-pod-autoscaler") in events  # fmt: skip
    assert ("Normal", "SuccessfulRescale", "New size: 1; reason: All metrics below target",
            "horizontal-pod-autoscaler") in events  # fmt: skip

    status = stored_hpa(cluster_state, namespace, "web")["status"]
    assert status["desiredReplicas"] == 1
    assert "lastScaleTime" in status
    [current] = status["currentMetrics"]
    assert current["type"] == "Pods" and current["pods"]["metric"] == {"name": LOAD}
    active = conditions(cluster_state, namespace, "web")["ScalingActive"]
    assert (active["status"], active["reason"], active["message"]) == (
        "True",
        "ValidMetricFound",
        f"the HPA was able to successfully calculate a replica count from pods metric {LOAD}",
    )

    # Every sync that scaled was recorded, and `hpa evaluate` replays each one.
    paths = sorted(records.glob("*.json"))
    recorded = [json.loads(p.read_text()) for p in paths]
    scaled = [r["decision"]["desiredReplicas"] for r in recorded if r["decision"]["wrote"]["scale"]]
    assert scaled == [5, 1]
    for record, replay in zip(recorded, evaluate(paths), strict=True):
        decision = record["decision"]
        assert replay["desiredReplicas"] == decision["desiredReplicas"]
        assert replay["history"] == decision["history"]
        if "errors" not in record:
            assert replay["status"] == decision["status"]


async def test_two_replicas_elect_one_leader_and_hand_over(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    scraping: ScrapingPrometheus,
    exporter: LoadExporter,
    tmp_path: Path,
) -> None:
    namespace = "e2e-lead"
    cluster_state.create(deployment("web", namespace, replicas=1))
    exporter.set(QUEUE, {"namespace": namespace, "queue": "orders"}, 20)
    cluster_state.create(hpa_object(namespace, "web", [queue_metric("orders")]))
    synced: dict[str, int] = {"one": 0, "two": 0}

    def settings(identity: str) -> HPASettings:
        return HPASettings(
            sync_period=0.5,
            leader_election=LeaderElectionSettings(
                lease_duration=4, renew_deadline=2, retry_period=0.2, identity=identity
            ),
        )

    def counter(identity: str) -> Callable[[SyncOutcome], None]:
        def count(_: SyncOutcome) -> None:
            synced[identity] += 1

        return count

    def lease() -> dict[str, Any]:
        stored = cluster_state.get(
            "leases.coordination.k8s.io", "metrics-adapter-hpa-controller", "kube-system"
        )
        return dict(stored["spec"]) if stored is not None else {}

    async with running_adapter(apiserver, scraping.url, tmp_path, CONFIG) as url:
        serve_metrics_apis(cluster_state, url)
        async with contextlib.AsyncExitStack() as second:
            async with contextlib.AsyncExitStack() as first:
                one = await first.enter_async_context(
                    loop_through_apiserver(apiserver, tmp_path, settings("one"), counter("one"))
                )
                await eventually(lambda: one.elector is not None and one.elector.is_leader, "one")
                two = await second.enter_async_context(
                    loop_through_apiserver(apiserver, tmp_path, settings("two"), counter("two"))
                )
                await eventually(lambda: synced["one"] >= 3, "the leader's syncs")
                assert synced["two"] == 0  # the standby watches nothing and syncs nothing
                assert two.elector is not None and not two.elector.is_leader
                assert lease()["holderIdentity"] == "one"
                assert replicas(cluster_state, namespace, "web") == 2
            # The leader stopped and released the lease: the standby takes over.
            await eventually(lambda: synced["two"] >= 1, "the new leader's syncs")
            assert two.elector.is_leader
            assert lease()["holderIdentity"] == "two"
            assert lease()["leaseTransitions"] == 1


async def test_the_loop_inside_the_adapter_reads_its_own_providers(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    scraping: ScrapingPrometheus,
    exporter: LoadExporter,
    tmp_path: Path,
) -> None:
    """`serve --hpa`: no APIService is registered, so only in-process providers can
    answer; a metric nobody serves keeps its target where it is."""
    namespace = "e2e-embedded"
    exporter.set(QUEUE, {"namespace": namespace, "queue": "orders"}, 40)
    exporter.set(QUEUE, {"namespace": namespace, "queue": "billing"}, 2)
    cluster_state.create(deployment("orders", namespace, replicas=1))
    cluster_state.create(deployment("billing", namespace, replicas=3))
    cluster_state.create(hpa_object(namespace, "orders", [queue_metric("orders")]))
    missing = {"type": "External", "external": {"metric": {"name": "hpa_e2e_no_such_metric"},
               "target": {"type": "Value", "value": "1"}}}  # fmt: skip
    cluster_state.create(hpa_object(namespace, "billing", [queue_metric("billing"), missing]))
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "embedded" / "kubeconfig")
    settings = Settings(
        config_file="e2e.yaml",
        prometheus=PrometheusSettings(url=scraping.url, timeout=5.0),
        serving=ServingSettings(
            secure_port=0, bind_address="127.0.0.1", cert_dir=str(tmp_path / "certs")
        ),
        query_timeout=5.0,
        authentication=AuthenticationSettings(skip_lookup=True),  # no front proxy here
    )
    assert cluster_state.audit_log is not None
    async with (
        PrometheusClient(settings.prometheus) as prometheus,
        connection.connect(str(kubeconfig), qps=0) as cluster,
    ):
        mapper = await cluster_discovery.fetch_rest_mapper(cluster)
        components = build_components(
            settings, parse_config(CONFIG, "e2e.yaml"), mapper, prometheus, cluster,
            no_election(sync_period=0.5),
        )  # fmt: skip
        await components.discovery.relist()
        background: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(factory()) for factory in components.background.values()
        ]
        try:
            async with running_server(components.app, settings.serving) as url:
                # 40 queued, 10 per replica wanted: 4 (max(2 x 1, 4) at once).
                await eventually(lambda: replicas(cluster_state, namespace, "orders") == 4, "4")
                await eventually(
                    lambda: conditions(cluster_state, namespace, "billing")
                    .get("ScalingActive", {})
                    .get("reason")
                    == "FailedGetExternalMetric",
                    "billing's condition",
                )  # fmt: skip
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(f"{url}/metrics", ssl=False) as response,
                ):
                    assert response.status == 200
                    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                    text = await response.text()
                    only = "horizontal_pod_autoscaler_controller_desired_replicas"
                    async with session.get(
                        f"{url}/metrics", params={"name[]": only}, ssl=False
                    ) as response:  # prometheus_client's filter: one family, cheap to poll
                        filtered = await response.text()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
    # billing's queue wants 1 replica, but one of its metrics cannot be read: it stays.
    assert replicas(cluster_state, namespace, "billing") == 3
    active = conditions(cluster_state, namespace, "billing")["ScalingActive"]
    assert "hpa_e2e_no_such_metric" in active["message"]
    assert "unable to fetch metrics from external metrics API" in active["message"]
    assert not [r for r in cluster_state.audit_log if "metrics.k8s.io" in r.path]
    assert (
        f'horizontal_pod_autoscaler_controller_desired_replicas{{hpa_name="orders",'
        f'namespace="{namespace}"}} 4.0' in text
    )
    assert {line.split("{")[0] for line in filtered.splitlines() if line[:1] != "#"} == {only}
    [relists] = [
        line
        for line in text.splitlines()
        if line.startswith("metrics_adapter_discovery_relists_total ")
    ]
    assert float(relists.split()[1]) >= 1
    assert "process_cpu_seconds_total" in text


async def test_a_nan_pods_metric_never_scales_down(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    scraping: ScrapingPrometheus,
    exporter: LoadExporter,
    tmp_path: Path,
) -> None:
    """Prometheus answers NaN for every pod's value (a 0/0 ratio, a scraped `NaN`).

    Upstream turns NaN into `0` on custom metrics, so kube-controller-manager reads 0
    against a target of 10 and scales 4 -> 1 (what issue 10 saw). Here NaN is no value:
    the Pods metric is a 404, the HPA reports FailedGetPodsMetric and keeps 4 replicas.
    """
    namespace = "e2e-nan"
    workload = Workload(cluster_state, exporter, namespace, "web", load=math.nan, replicas=4)
    # No stabilization window: a value read as 0 would scale down at the first sync.
    no_window = {"scaleDown": {"stabilizationWindowSeconds": 0}}
    cluster_state.create(hpa_object(namespace, "web", [load_metric()], behavior=no_window))

    def scraped_nan() -> bool:
        query = f'{LOAD}{{namespace="{namespace}"}}'
        code, body = scraping.get("/api/v1/query", [("query", query)])
        result = orjson.loads(body)["data"]["result"] if code == 200 else []
        return len(result) == 4 and all(r["value"][1] == "NaN" for r in result)

    outcomes: list[SyncOutcome] = []
    simulation = asyncio.ensure_future(workload.run())
    try:
        async with running_adapter(apiserver, scraping.url, tmp_path, CONFIG) as url:
            serve_metrics_apis(cluster_state, url)
            await eventually(scraped_nan, "Prometheus holding NaN for the 4 pods")
            settings = no_election(sync_period=0.2)
            async with loop_through_apiserver(apiserver, tmp_path, settings, outcomes.append):
                await eventually(lambda: len(outcomes) >= 8, "8 syncs")
    finally:
        simulation.cancel()
        await asyncio.gather(simulation, return_exceptions=True)
    assert replicas(cluster_state, namespace, "web") == 4
    assert not [o for o in outcomes if o.decision.rescale]
    active = conditions(cluster_state, namespace, "web")["ScalingActive"]
    assert (active["status"], active["reason"]) == ("False", "FailedGetPodsMetric")
    assert "the value is NaN, which is no value" in active["message"]
