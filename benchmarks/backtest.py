"""`hpa backtest` over a 7-day window at 15 s steps: 40,321 syncs of one three-metric HPA.

Set-up: the real Prometheus holding seven days of generated history (backfilled with
promtool): a Deployment `web` whose replica count follows the day (4 at night, 8 by
day, kube-state-metrics' `kube_deployment_status_replicas`), each pod's
`http_requests_per_second` and `container_cpu_usage` (a daily curve), and one external
`queue_depth`. The HPA reads all three (Pods AverageValue, Resource cpu Utilization,
External AverageValue).

Measured, in child processes:

* the command as a user runs it, `python -m adapter hpa backtest ... -o json`: wall
  time (the target: under 30 s on 2 cores) and CPU;
* the same work in phases (`python -m benchmarks.backtest probe ...`): discovery and
  range queries (time inside prometheus-api-client: HTTP and JSON), turning answers into
  history, the replay, the report; peak RSS of the process;
* baseline, in the same probe: the bare decision code, `adapter.hpa.sync.sync` called
  40,321 times on fixed inputs of the same shape: what the replay costs at the least.

`--quick` replays one day instead of seven.
"""

from __future__ import annotations

import json
import math
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PYTHON,
    BenchmarkError,
    Options,
    Result,
    Table,
    Target,
    format_number,
    run_to_end,
    use_test_support,
)

NAME = "backtest"
STEP = 15
TARGET_SECONDS = 30.0

RULES = """\
rules:
  - seriesQuery: 'http_requests_per_second{namespace!="",pod!=""}'
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
    metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
externalRules:
  - seriesQuery: 'queue_depth{namespace!="",queue!=""}'
    resources: {overrides: {namespace: {resource: namespace}}}
    metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)'
resourceRules:
  cpu:
    containerQuery: 'sum(container_cpu_usage{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
    nodeQuery: 'sum(node_cpu_usage{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
    containerLabel: container
  memory:
    containerQuery: 'sum(container_memory_usage{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
    nodeQuery: 'sum(node_memory_usage{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
    containerLabel: container
  window: 1m
"""

SPEC = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 40
  metrics:
  - type: Pods
    pods:
      metric: {name: http_requests_per_second}
      target: {type: AverageValue, averageValue: "10"}
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
  - type: External
    external:
      metric: {name: queue_depth, selector: {matchLabels: {queue: orders}}}
      target: {type: AverageValue, averageValue: "20"}
"""


def _dataset(days: int) -> Any:
    use_test_support()
    from support.prometheus import SeriesData

    data = SeriesData(history=0, horizon=0)
    span = days * 86400 + 1200
    offsets = range(-span, 1, STEP)

    def replicas(offset: int) -> int:
        return 8 if 8 <= ((offset // 3600) % 24) < 20 else 4

    def total(offset: int) -> float:
        return 80.0 + 60.0 * math.sin(2 * math.pi * (offset % 86400) / 86400)

    data.add(
        "kube_deployment_status_replicas",
        {"namespace": "shop", "deployment": "web"},
        [(o, float(replicas(o))) for o in offsets],
    )
    data.add(
        "queue_depth",
        {"namespace": "shop", "queue": "orders"},
        [(o, 50.0 + 30.0 * math.cos(2 * math.pi * (o % 86400) / 86400)) for o in offsets],
    )
    for k in range(8):
        pod = f"web-6f9d8c-p{k}"
        running = [o for o in offsets if k < replicas(o)]
        data.add(
            "http_requests_per_second",
            {"namespace": "shop", "pod": pod},
            [(o, total(o) / replicas(o)) for o in running],
        )
        data.add(
            "container_cpu_usage",
            {"namespace": "shop", "pod": pod, "container": "app"},
            [(o, 0.004 * total(o) / replicas(o) * 8) for o in running],
        )
    return data


def _args(url: str, workdir: Path, start: datetime, end: datetime) -> list[str]:
    return [
        str(workdir / "hpa.yaml"),
        "--prometheus-url", url,
        "--config", str(workdir / "rules.yaml"),
        "--from", start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--to", end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--step", f"{STEP}s",
        "--pod-requests", "cpu=500m",
        "-o", "json",
    ]  # fmt: skip


def run(options: Options) -> Result:
    use_test_support()
    from support.prometheus import start_prometheus

    days = 1 if options.quick else 7
    workdir = Path(tempfile.mkdtemp(prefix="bench-backtest-"))
    try:
        (workdir / "rules.yaml").write_text(RULES)
        (workdir / "hpa.yaml").write_text(SPEC)
        data = _dataset(days)
        with start_prometheus(data, workdir / "prometheus") as prometheus:
            anchor = datetime.fromtimestamp(prometheus.now, UTC)
            start, end = anchor - timedelta(days=days), anchor
            args = _args(prometheus.url, workdir, start, end)
            command = run_to_end(
                [PYTHON, "-m", "adapter", "hpa", "backtest", *args], workdir / "command.log"
            )
            if command.returncode != 0:
                raise BenchmarkError(
                    f"hpa backtest exited {command.returncode}: see {workdir / 'command.log'}"
                )
            report = json.loads(command.stdout)
            probe = run_to_end(
                [PYTHON, "-m", "benchmarks.backtest", "probe", *args], workdir / "probe.log"
            )
            if probe.returncode != 0:
                raise BenchmarkError(f"probe exited {probe.returncode}: see {workdir}/probe.log")
            phases = json.loads(probe.stdout)
    finally:
        if not options.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    spec = report["specs"][0]
    syncs = len(spec["timeline"])
    total = phases["total_seconds"]
    rows = [
        ["command (python -m adapter hpa backtest)", format_number(command.wall_seconds),
         "", format_number(command.cpu_seconds)],
        ["  range + series queries (in the client)", format_number(phases["query_seconds"]),
         f"{phases['query_seconds'] / total:.0%}", ""],
        ["  answers into history", format_number(phases["read_seconds"] - phases["query_seconds"]),
         f"{(phases['read_seconds'] - phases['query_seconds']) / total:.0%}", ""],
        ["  replay (one sync per step)", format_number(phases["simulate_seconds"]),
         f"{phases['simulate_seconds'] / total:.0%}", ""],
        ["  report (JSON)", format_number(phases["report_seconds"]),
         f"{phases['report_seconds'] / total:.0%}", ""],
        ["baseline: bare sync x the same count", format_number(phases["baseline_seconds"]), "", ""],
    ]  # fmt: skip
    table = Table(
        f"hpa backtest: {days} d at {STEP}s = {syncs:,} syncs, 3 metrics; "
        f"{phases['queries']} queries, {phases['samples']:,} samples; "
        f"peak RSS {phases['peak_rss_mib']:.0f} MiB; "
        f"{spec['scaleEvents']} scale events",
        ["phase", "seconds", "share", "cpu s"],
        rows,
    )
    targets = []
    if not options.quick:
        targets.append(
            Target("7-day backtest wall time", command.wall_seconds, TARGET_SECONDS, "s")
        )
    return Result(
        NAME,
        tables=[table],
        targets=targets,
        data={
            "days": days,
            "syncs": syncs,
            "command_wall_seconds": command.wall_seconds,
            "command_cpu_seconds": command.cpu_seconds,
            **phases,
            "scale_events": spec["scaleEvents"],
        },
    )


def probe(argv: list[str]) -> None:
    """The command's work in phases, in this process; prints one JSON line."""
    from dataclasses import replace

    from prometheus_api_client import PrometheusConnect

    from adapter import cli
    from adapter.backtest import loadmodel, reading, report, simulation
    from adapter.backtest.specs import load_spec, metric_reads
    from adapter.hpa.sync import sync
    from adapter.rules.config import load_config
    from adapter.settings import fromflags

    args = cli.build_parser().parse_args(["hpa", "backtest", *argv])
    started = time.perf_counter()
    flags = fromflags.backtest_settings(args)
    window = flags.window
    assert window is not None and flags.rules_file is not None and flags.prometheus is not None
    spec = load_spec(flags.specs[0], flags.controller.feature_gates)
    rules = load_config(flags.rules_file)
    reader = reading.Reader(PrometheusConnect(url=flags.prometheus.url), rules, window)
    history = reader.history([spec], metric_reads([spec]), None)
    read_done = time.perf_counter()
    settings = simulation.Settings(config=flags.controller, requests=flags.pod_requests)
    steps: list[simulation.StepInputs] = []
    run = simulation.simulate(
        spec, history, settings, observe=lambda s, _r: steps.append(s) if not steps else None
    )
    simulate_done = time.perf_counter()
    json.dumps(report.document(window, [run], replicas_source=history.replicas_source))
    report_done = time.perf_counter()
    first = steps[0]
    hpa = replace(first.hpa, status=replace(first.hpa.status))
    memory = first.memory
    baseline_started = time.perf_counter()
    for index in range(window.count):
        now = window.time(index)
        metrics = loadmodel.StepMetrics(
            now, first.metrics.pods, first.metrics.resource_window, dict(first.metrics.usage),
            first.metrics.resource_served, dict(first.metrics.per_pod), {},
            dict(first.metrics.external),
        )  # fmt: skip
        result = sync(hpa, first.scale, metrics.pods, metrics, memory, now, settings.config)
        memory = result.memory
    baseline = time.perf_counter() - baseline_started
    print(
        json.dumps(
            {
                "total_seconds": report_done - started,
                "read_seconds": read_done - started,
                "query_seconds": reader.stats.seconds,
                "queries": reader.stats.queries,
                "samples": reader.stats.samples,
                "simulate_seconds": simulate_done - read_done,
                "report_seconds": report_done - simulate_done,
                "baseline_seconds": baseline,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["probe"]:
        probe(sys.argv[2:])
