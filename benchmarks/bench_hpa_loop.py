"""The HPA loop over 1,000 and 10,000 HPAs: time for one full round and CPU per sync.

The set-up is one process per server on loopback, as in a cluster: the Kubernetes API
stand-in holding N Deployments with 10 ready pods each and one autoscaling/v2 HPA per
Deployment (a Pods metric, `bench_inflight`, AverageValue 10), spread over 100
namespaces; the real Prometheus holding one `bench_inflight` gauge per pod at exactly
the target (so no HPA scales and every round does the same work); and the adapter
(`python -m adapter serve`) answering the metrics APIs, registered in the stand-in as
the custom metrics APIService. Two ways of running the loop are measured:

* `hpa run`: the loop in its own process, reading metrics through the API server's
  aggregation layer (stand-in -> adapter -> Prometheus), as beside kube-controller-manager;
* `serve --hpa`: the loop inside the adapter, reading its providers in-process.

Each HPA is synced every `--hpa-sync-period` (15 s, the default); every HPA is due at the
same moment, so a round is the time the workers take to sync all N once. The first round
writes every HPA's status (new conditions); the second is the steady state, where
nothing changes and nothing is written. Figures come from the loop's own `/metrics`
(`horizontal_pod_autoscaler_controller_reconciliations_total`) and its process' CPU time
(`/proc/<pid>/stat`). Target: every HPA synced within one 15 s period using at most one
core, i.e. a steady round of at most 15 s of the loop's CPU.

Baseline, in the same run: the pure calculation for the same HPA shape in this process
(`adapter.hpa.controller.decide` + `finish` on 10 pods), once as the loop runs it per sync
(a probe for the metric requests, then the decision) and once alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PYTHON,
    BenchmarkError,
    ChildProcess,
    Options,
    Result,
    Table,
    Target,
    cpu_seconds,
    format_number,
    free_port,
    http_request,
    load_average,
    memory,
    mib,
    ms,
    use_test_support,
    wait_until,
)

NAME = "hpa_loop"
SERIES = "bench_inflight"
PODS_PER_HPA = 10
NAMESPACES = 100
PERIOD = 15.0
ROUNDS = 2
CONFIG = f"""rules:
- seriesQuery: '{SERIES}{{namespace!="",pod!=""}}'
  resources: {{overrides: {{namespace: {{resource: namespace}}, pod: {{resource: pod}}}}}}
  metricsQuery: sum(<<.Series>>{{<<.LabelMatchers>>}}) by (<<.GroupBy>>)
"""


def namespace_of(index: int) -> str:
    return f"bench-{index % NAMESPACES}"


# -- the cluster (a child process) ------------------------------------------------------


def hpa_object(index: int) -> dict[str, Any]:
    name = f"app-{index}"
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace_of(index)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 20,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": SERIES},
                        "target": {"type": "AverageValue", "averageValue": "10"},
                    },
                }
            ],
        },
    }


async def serve_cluster(args: argparse.Namespace) -> None:
    use_test_support()
    from support.apiserver import deployment, pod

    from adapter.sandbox.apiserver import run_apiserver
    from adapter.sandbox.store import APIServiceBackend, ClusterState

    state = ClusterState(history=1000)
    for index in range(args.hpas):
        namespace, name = namespace_of(index), f"app-{index}"
        labels = {"app": name}
        state.create(deployment(name, namespace, replicas=PODS_PER_HPA, match_labels=labels))
        for replica in range(PODS_PER_HPA):
            state.create(pod(f"{name}-{replica}", namespace, labels, node=f"node-{replica}"))
        state.create(hpa_object(index))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    url_file = Path(args.apiservice_file)
    async with run_apiserver(state) as server:
        server.write_kubeconfig(Path(args.kubeconfig))
        print(f"READY {server.url}", flush=True)
        registered = ""
        while not stop.is_set():
            url = url_file.read_text().strip() if url_file.exists() else ""
            if url and url != registered:  # the harness says where the adapter now listens
                for version in ("v1beta2", "v1beta1"):
                    state.register_api_service(
                        APIServiceBackend(
                            "custom.metrics.k8s.io", version, url, insecure_skip_tls_verify=True
                        )
                    )
                registered = url
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)


# -- the baseline (this process) --------------------------------------------------------


def measure_decide(iterations: int) -> dict[str, float]:
    """Seconds per call of the pure calculation for one HPA of the benchmark's shape."""
    from adapter.hpa import objects
    from adapter.hpa.fetching import Fetched, FetchedMetricsSource, ProbeSource
    from adapter.hpa.sync import (
        ControllerMemory,
        decide,
        finish,
        scale_from_api,
    )
    from adapter.settings import ControllerConfig

    use_test_support()
    from support.apiserver import pod

    config = ControllerConfig()
    hpa = objects.parse_hpa(hpa_object(0), config.feature_gates)
    names = [f"app-0-{replica}" for replica in range(PODS_PER_HPA)]
    pods = [objects.parse_pod(pod(n, "bench-0", {"app": "app-0"})) for n in names]
    scale = scale_from_api(PODS_PER_HPA, PODS_PER_HPA, "app=app-0")
    now = datetime.now(UTC)
    memory_ = ControllerMemory()
    probe = ProbeSource()
    decide(hpa, scale, pods, probe, memory_, now, config)
    [request] = probe.requests
    response = {
        "kind": "MetricValueList",
        "apiVersion": "custom.metrics.k8s.io/v1beta2",
        "metadata": {},
        "items": [
            {
                "describedObject": {"kind": "Pod", "namespace": "bench-0", "name": n,
                                    "apiVersion": "/v1"},
                "metric": {"name": SERIES, "selector": None},
                "timestamp": "2026-01-01T00:00:00Z",
                "value": "10",
            }
            for n in names
        ],
    }  # fmt: skip
    fetched = {request: Fetched(request, response, None, 0.0)}

    def whole() -> None:
        probe = ProbeSource()
        decide(hpa, scale, pods, probe, memory_, now, config)
        source = FetchedMetricsSource(fetched)
        finish(decide(hpa, scale, pods, source, memory_, now, config))

    def alone() -> None:
        finish(decide(hpa, scale, pods, FetchedMetricsSource(fetched), memory_, now, config))

    figures = {}
    for label, call in (("per_sync", whole), ("decide_alone", alone)):
        for _ in range(iterations // 10):
            call()
        started = time.process_time()
        for _ in range(iterations):
            call()
        figures[label] = (time.process_time() - started) / iterations
    return figures


# -- measuring rounds -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Round:
    syncs: int
    seconds: float
    cpu_seconds: float
    errors: int

    @property
    def cpu_per_sync(self) -> float:
        return self.cpu_seconds / self.syncs if self.syncs else float("nan")


def reconciliations(text: str) -> tuple[float, float]:
    """(all reconciliations, those with an error) from a /metrics exposition."""
    total = errors = 0.0
    prefix = "horizontal_pod_autoscaler_controller_reconciliations_total{"
    for line in text.splitlines():
        if line.startswith(prefix):
            value = float(line.rsplit(" ", 1)[1])
            total += value
            if 'error="none"' not in line:
                errors += value
    return total, errors


def measure_rounds(
    metrics_url: str, child: ChildProcess, count: int, *, timeout: float
) -> list[Round]:
    """Poll the loop's /metrics until ROUNDS rounds of `count` syncs are done."""
    rounds: list[Round] = []
    deadline = time.monotonic() + timeout
    previous: tuple[float, float, float, float] | None = None  # time, total, errors, cpu
    start: tuple[float, float, float, float] | None = None
    while len(rounds) < ROUNDS:
        if not child.alive():
            raise child.failure("stopped while syncing")
        if time.monotonic() > deadline:
            raise child.failure(f"did not finish {ROUNDS} rounds of {count} syncs")
        try:
            code, body = http_request(metrics_url, timeout=30)
        except OSError:  # not listening yet
            code, body = 0, b""
        now, cpu = time.monotonic(), cpu_seconds(child.pid)
        if code != 200:
            time.sleep(0.5)
            continue
        total, errors = reconciliations(body.decode())
        sample = (now, total, errors, cpu)
        done = len(rounds) * count
        if start is None and total > done and previous is not None:
            start = previous
        if start is not None and total >= done + count:
            rounds.append(
                Round(
                    syncs=int(total - start[1]),
                    seconds=now - start[0],
                    cpu_seconds=cpu - start[3],
                    errors=int(errors - start[2]),
                )
            )
            start = sample if total > done + count else None
        previous = sample
        time.sleep(0.5)
    return rounds


# -- the rig ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rig:
    kubeconfig: Path
    prometheus_url: str
    config: Path
    apiserver: ChildProcess
    workdir: Path


@contextmanager
def rig(count: int, workdir: Path) -> Iterator[Rig]:
    use_test_support()
    from support.prometheus import SeriesData, start_prometheus

    # A sample every 4 minutes keeps each instant query inside Prometheus' 5 m lookback
    # while the 10,000 x 10 series stay a few million samples to backfill.
    data = SeriesData(step=240.0, history=240.0, horizon=2400.0)

    def series() -> Iterator[Any]:
        from support.prometheus import Series

        offsets = data.offsets()
        for index in range(count):
            for replica in range(PODS_PER_HPA):
                labels = {"namespace": namespace_of(index), "pod": f"app-{index}-{replica}"}
                yield Series(SERIES, labels, [(offset, 10.0) for offset in offsets])

    data.extend(series)
    config = workdir / "config.yaml"
    config.write_text(CONFIG)
    kubeconfig = workdir / "kubeconfig"
    with ExitStack() as stack:
        prometheus = stack.enter_context(start_prometheus(data, workdir / "prometheus"))
        apiserver = stack.enter_context(
            ChildProcess(
                "apiserver stand-in",
                [
                    PYTHON, "-m", "benchmarks.bench_hpa_loop", "cluster", "--hpas", str(count),
                    "--kubeconfig", str(kubeconfig),
                    "--apiservice-file", str(workdir / "apiservice-url"),
                ],
                workdir / "apiserver.log",
                stdout_pipe=True,
            )
        )  # fmt: skip
        handshake = apiserver.read_line(timeout=1200)
        if not handshake.startswith("READY "):
            raise apiserver.failure(f"printed {handshake!r} instead of READY")
        yield Rig(kubeconfig, prometheus.url, config, apiserver, workdir)


def start_adapter(rig_: Rig, name: str, extra: list[str]) -> tuple[ChildProcess, str]:
    port = free_port()
    adapter = ChildProcess(
        name,
        [
            PYTHON, "-m", "adapter", "serve", "--prometheus-url", rig_.prometheus_url,
            "--config", str(rig_.config), "--kubeconfig", str(rig_.kubeconfig),
            "--secure-port", str(port), "--bind-address", "127.0.0.1",
            "--cert-dir", str(rig_.workdir / f"certs-{name}"), "--client-qps", "0",
            *extra,
        ],
        rig_.workdir / f"{name}.log",
    ).start()  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    wait_until(
        lambda: http_request(url + "/readyz", timeout=5)[0] == 200,
        timeout=600,
        child=adapter,
        what="ready",
    )
    return adapter, url


POLL = "/metrics?name[]=horizontal_pod_autoscaler_controller_reconciliations_total"
"""Only the counter: a full exposition of 10,000 HPAs' series, polled twice a second,
would cost the loop more CPU than its syncs."""
LOOP_FLAGS = ["--leader-elect=false", f"--hpa-sync-period={int(PERIOD)}s"]


def run_standalone(rig_: Rig, count: int, extra: list[str]) -> tuple[list[Round], dict[str, float]]:
    """`hpa run` beside an adapter reached through the stand-in's aggregation."""
    adapter, url = start_adapter(rig_, "adapter", [])
    try:
        (rig_.workdir / "apiservice-url").write_text(url)
        port = free_port()
        loop = ChildProcess(
            "hpa run",
            [
                PYTHON, "-m", "adapter", "hpa", "run", "--kubeconfig", str(rig_.kubeconfig),
                "--client-qps", "0", f"--metrics-bind-address=127.0.0.1:{port}", *LOOP_FLAGS,
                *extra,
            ],
            rig_.workdir / "hpa-run.log",
        ).start()  # fmt: skip
        try:
            adapter_cpu = cpu_seconds(adapter.pid)
            apiserver_cpu = cpu_seconds(rig_.apiserver.pid)
            rounds = measure_rounds(
                f"http://127.0.0.1:{port}{POLL}", loop, count, timeout=900 + count / 10
            )
            other = {
                "adapter_cpu": cpu_seconds(adapter.pid) - adapter_cpu,
                "apiserver_cpu": cpu_seconds(rig_.apiserver.pid) - apiserver_cpu,
                "loop_rss": memory(loop.pid).rss,
            }
        finally:
            loop.stop()
    finally:
        adapter.stop()
    return rounds, other


def run_embedded(rig_: Rig, count: int, extra: list[str]) -> tuple[list[Round], dict[str, float]]:
    """`serve --hpa`: the loop inside the adapter, metrics from its providers."""
    adapter, url = start_adapter(rig_, "adapter-hpa", ["--hpa", *LOOP_FLAGS, *extra])
    try:
        apiserver_cpu = cpu_seconds(rig_.apiserver.pid)
        rounds = measure_rounds(f"{url}{POLL}", adapter, count, timeout=900 + count / 10)
        other = {
            "apiserver_cpu": cpu_seconds(rig_.apiserver.pid) - apiserver_cpu,
            "loop_rss": memory(adapter.pid).rss,
        }
    finally:
        adapter.stop()
    return rounds, other


def run(options: Options) -> Result:
    sizes = (100, 1000) if options.quick else (1000, 10_000)
    baseline = measure_decide(500 if options.quick else 3000)
    measured: dict[str, dict[str, Any]] = {}
    for count in sizes:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-hpa-{count}-"))
        try:
            with rig(count, workdir) as servers:
                variants: list[tuple[str, Any, list[str]]] = [
                    ("hpa run", run_standalone, []),
                    ("serve --hpa", run_embedded, []),
                ]
                if count == max(sizes):
                    # The default 5 workers wait on the servers more than they compute;
                    # how far more of them go on this machine:
                    variants.append(("serve --hpa, 20 workers", run_embedded, ["--hpa-workers=20"]))
                for label, runner, extra in variants:
                    started = time.monotonic()
                    rounds, other = runner(servers, count, extra)
                    measured[f"{label} x {count}"] = {
                        "hpas": count,
                        "mode": label,
                        "rounds": [
                            {
                                "syncs": r.syncs,
                                "seconds": r.seconds,
                                "cpu_seconds": r.cpu_seconds,
                                "cpu_per_sync": r.cpu_per_sync,
                                "syncs_per_second": r.syncs / r.seconds if r.seconds else 0.0,
                                "errors": r.errors,
                            }
                            for r in rounds
                        ],
                        **other,
                        "wall_seconds_total": time.monotonic() - started,
                        "load_average": load_average(),
                    }
        finally:
            if not options.keep_workdir:
                shutil.rmtree(workdir, ignore_errors=True)
    return report(baseline, measured, sizes)


def report(
    baseline: dict[str, float], measured: dict[str, dict[str, Any]], sizes: tuple[int, ...]
) -> Result:
    rows = []
    for key, figures in measured.items():
        for number, round_ in enumerate(figures["rounds"], start=1):
            rows.append(
                [
                    key,
                    "first (writes status)" if number == 1 else "steady",
                    format_number(round_["seconds"]),
                    format_number(round_["syncs_per_second"]),
                    ms(round_["cpu_per_sync"]),
                    format_number(round_["cpu_seconds"]),
                    str(round_["errors"]),
                ]
            )
    rounds_table = Table(
        f"HPA loop rounds ({PODS_PER_HPA} pods per HPA, Pods metric, sync period {PERIOD:.0f}s)",
        ["run", "round", "round s", "syncs/s", "CPU ms/sync", "loop CPU s", "errors"],
        rows,
    )
    context_table = Table(
        "Beside the loop (during the two rounds)",
        ["run", "stand-in CPU s", "adapter CPU s", "loop RSS MiB", "load avg"],
        [
            [
                key,
                format_number(f.get("apiserver_cpu")),
                format_number(f.get("adapter_cpu")) if "adapter_cpu" in f else "(is the loop)",
                mib(f.get("loop_rss")),
                format_number(f.get("load_average")),
            ]
            for key, f in measured.items()
        ],
    )
    baseline_table = Table(
        "Baseline: the pure calculation in this process, 10 pods",
        ["what", "ms per HPA", "HPAs per core-second"],
        [
            [label, ms(seconds), format_number(1 / seconds)]
            for label, seconds in (
                ("probe + decide + finish (the loop's per-sync computation)", baseline["per_sync"]),
                ("decide + finish alone", baseline["decide_alone"]),
            )
        ],
    )
    targets = []
    biggest = max(sizes)
    for key, figures in measured.items():
        if figures["hpas"] != biggest:
            continue
        steady = figures["rounds"][-1]
        targets.append(
            Target(f"{key}: loop CPU for one steady round", steady["cpu_seconds"], PERIOD, "s")
        )
        targets.append(Target(f"{key}: one steady round", steady["seconds"], PERIOD, "s"))
    return Result(
        name=NAME,
        tables=[rounds_table, context_table, baseline_table],
        targets=targets,
        data={"baseline": baseline, "runs": measured},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the HPA benchmark's cluster process")
    sub = parser.add_subparsers(dest="command", required=True)
    cluster = sub.add_parser("cluster")
    cluster.add_argument("--hpas", type=int, required=True)
    cluster.add_argument("--kubeconfig", required=True)
    cluster.add_argument("--apiservice-file", required=True)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve_cluster(args))
    except BenchmarkError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
