"""`pods/*` over 1,000 pods: the adapter's own time, throughput and CPU per request.

The set-up is three servers, each a process of its own on loopback: the real Prometheus
holding one `http_requests_total` counter per pod, the Kubernetes API stand-in holding
1,000 pods of one Deployment in namespace `bench` (label `app=web`), and the adapter
(`python -m adapter serve`, HTTPS, `config/default.yaml`, whose rule 5 serves the counter
as `http_requests`). The request is what an HPA of type Pods sends:

    GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/bench/pods/*/http_requests
        ?labelSelector=app=web

Baseline, measured in the same run with the same load generator and concurrency: the
identical PromQL (as `rules query` prints it for those pods, in the stand-in's list order)
sent straight to Prometheus, as the adapter sends it (a POSTed form: 1,000 names make the
URL too long for GET). The adapter's own time is its p50 minus Prometheus' p50. Two load
shapes: 16 concurrent clients (throughput, CPU per request) and one client sending back
to back (a clean p50). CPU per request comes from the adapter's `/proc/<pid>/stat`
(utime + stime) across the run, divided by the requests completed; the stand-in's and
Prometheus' CPU are reported beside it because they share the same two cores.

Reference figures of the Go prometheus-adapter on such a machine (from the issue, not
measured here): ~100 ms own time, 5-13 req/s with 16 clients, ~100 ms CPU per request.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from adapter.cluster.objects import METADATA_LIST_ACCEPT
from adapter.sandbox.apiserver import ADMIN_TOKEN
from benchmarks import loadgen
from benchmarks.common import (
    PYTHON,
    REPO,
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
    machine_busy_seconds,
    memory,
    mib,
    ms,
    run_to_end,
    use_test_support,
    wait_until,
)
from benchmarks.loadgen import VARIANT

NAME = "pods"
NAMESPACE = "bench"
LABEL_KEY, LABEL_VALUE = "app", "web"
SERIES = "http_requests_total"
METRIC = "http_requests"
CONFIG = REPO / "config" / "default.yaml"
PATH = (
    f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{NAMESPACE}/pods/*/{METRIC}"
    f"?labelSelector={LABEL_KEY}%3D{LABEL_VALUE}"
)
DISTINCT = 1000
"""Distinct variants of the request in the `distinct` runs: each adds a metric label
selector that matches every series (`instance!=none-<n>`), so the PromQL differs but the
work does not."""
DISTINCT_SELECTOR = f"&metricLabelSelector=instance%21%3Dnone-{loadgen.VARIANT}"

# The Go prometheus-adapter's figures as the issue quotes them (for the table only).
UPSTREAM_OWN_MS = 100.0
UPSTREAM_THROUGHPUT = "5-13"
UPSTREAM_CPU_MS = 100.0

TARGET_OWN_MS = 10.0
TARGET_THROUGHPUT = 150.0
TARGET_CPU_MS = 10.0
CONCURRENCY = 16
RUN_LABELS = {
    "adapter_16_distinct": "adapter, 16 clients, distinct",
    "prometheus_16_distinct": "prometheus, 16 clients, distinct",
    "adapter_16": "adapter, 16 clients, identical",
    "prometheus_16": "prometheus, 16 clients, identical",
    "adapter_1": "adapter, 1 client",
    "prometheus_1": "prometheus, 1 client",
    "apiserver_1": "apiserver list call, 1 client",
}

# The alphabet of Kubernetes' generated name suffixes (no vowels, no look-alikes).
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def pod_names(count: int, *, replica_sets: int = 4, seed: int = 1) -> list[str]:
    """Deployment pod names, `web-<template hash>-<suffix>`, as a real cluster has them
    (their length sets the size of the PromQL regex and of the list bodies)."""
    rng = random.Random(seed)
    hashes = ["".join(rng.choices(_ALPHABET, k=10)) for _ in range(replica_sets)]
    names: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < count:
        name = f"web-{hashes[len(ordered) % replica_sets]}-{''.join(rng.choices(_ALPHABET, k=5))}"
        if name not in names:
            names.add(name)
            ordered.append(name)
    return ordered


@dataclass(frozen=True, slots=True)
class CpuDelta:
    adapter: float
    apiserver: float
    prometheus: float


class _Cpu:
    """CPU seconds of the three servers across one load run."""

    def __init__(self, pids: tuple[int, int, int]) -> None:
        self._pids = pids
        self._start = tuple(cpu_seconds(pid) for pid in pids)

    def delta(self) -> CpuDelta:
        end = [cpu_seconds(pid) for pid in self._pids]
        adapter, apiserver, prometheus = (b - a for a, b in zip(self._start, end, strict=True))
        return CpuDelta(adapter, apiserver, prometheus)


def _promql(prometheus_url: str, path: str, names: list[str], workdir: Path) -> str:
    """The query the adapter runs for `path` and these pods, from its own `rules query`."""
    finished = run_to_end(
        [
            PYTHON, "-m", "adapter", "rules", "query", "--config", str(CONFIG),
            "--prometheus-url", prometheus_url, "--path", path, "--objects", ",".join(names),
            "-o", "json",
        ],
        workdir / "rules-query.log",
        timeout=120,
    )  # fmt: skip
    if finished.returncode != 0:
        raise BenchmarkError(
            f"rules query exited {finished.returncode}: {finished.stdout[-500:]!r}; "
            f"see {workdir / 'rules-query.log'}"
        )
    queries = orjson.loads(finished.stdout)["queries"]
    if len(queries) != 1:
        raise BenchmarkError(f"expected one query, rules query printed {queries!r}")
    return str(queries[0])


def _variable_promql(prometheus_url: str, names: list[str], workdir: Path) -> str:
    """The PromQL of the distinct variants, with `VARIANT` where the number goes: the
    adapter's own query for variant 0, the number being the one `none-0` in it."""
    path = PATH + DISTINCT_SELECTOR.replace(VARIANT, "0")
    query = _promql(prometheus_url, path, names, workdir)
    if query.count('"none-0"') != 1:
        raise BenchmarkError(f"cannot find the variant's matcher in {query[:300]!r}")
    return query.replace('"none-0"', f'"none-{VARIANT}"')


def _check_adapter_answer(url: str, names: list[str]) -> list[str]:
    """The answer is complete (one item per pod): the load measures real work. Returns
    the pod names in answer order, which is the stand-in's list order."""
    status, body = http_request(url, timeout=60)
    if status != 200:
        raise BenchmarkError(f"adapter answered {status}: {body[:500]!r}")
    items = orjson.loads(body)["items"]
    answered = [item["describedObject"]["name"] for item in items]
    if sorted(answered) != sorted(names):
        raise BenchmarkError(f"adapter answered {len(answered)} items for {len(names)} pods")
    return answered


def _check_prometheus_answer(request: loadgen.LoadRequest, count: int) -> None:
    url, data = request.concrete(7)
    status, body = http_request(url, data=data, headers=request.headers, timeout=60)
    if status != 200:
        raise BenchmarkError(f"prometheus answered {status}: {body[:500]!r}")
    samples = orjson.loads(body)["data"]["result"]
    if len(samples) != count:
        raise BenchmarkError(f"prometheus returned {len(samples)} samples for {count} pods")


@dataclass(frozen=True, slots=True)
class Rig:
    """The three servers up and checked, and the two requests to load them with."""

    size: int
    workdir: Path
    adapter: ChildProcess
    apiserver: ChildProcess
    prometheus_pid: int
    promql: str
    via_adapter: loadgen.LoadRequest
    direct: loadgen.LoadRequest
    """The adapter's PromQL, sent straight to Prometheus as the adapter sends it."""
    listing: loadgen.LoadRequest
    """The adapter's metadata-only list call, sent straight to the API stand-in."""
    via_adapter_distinct: loadgen.LoadRequest
    direct_distinct: loadgen.LoadRequest
    """`DISTINCT` variants of the two requests above (see `DISTINCT`)."""

    @property
    def pids(self) -> tuple[int, int, int]:
        return (self.adapter.pid, self.apiserver.pid, self.prometheus_pid)


@contextmanager
def rig(size: int, workdir: Path, extra_adapter_args: Sequence[str] = ()) -> Iterator[Rig]:
    """Start Prometheus, the stand-in and the adapter for `size` pods; stop them on exit.
    Also the entry point for profiling the adapter under the same load by hand."""
    use_test_support()
    from support.prometheus import SeriesData, start_prometheus

    names = pod_names(size)
    data = SeriesData()
    for index, name in enumerate(names):
        labels = {
            "namespace": NAMESPACE,
            "pod": name,
            "container": "app",
            "instance": f"10.0.{index // 250}.{index % 250}:8080",
        }
        data.counter(SERIES, labels, rate_per_second=float(1 + index % 7))
    (workdir / "names.txt").write_text("\n".join(names) + "\n")
    kubeconfig = workdir / "kubeconfig"
    port = free_port()

    with ExitStack() as stack:
        prometheus = stack.enter_context(start_prometheus(data, workdir / "prometheus"))
        apiserver_args = [
            PYTHON, "-m", "benchmarks.apiserver_process", "--names", str(workdir / "names.txt"),
            "--namespace", NAMESPACE, "--label", f"{LABEL_KEY}={LABEL_VALUE}",
            "--kubeconfig", str(kubeconfig),
        ]  # fmt: skip
        apiserver = stack.enter_context(
            ChildProcess(
                "apiserver stand-in", apiserver_args, workdir / "apiserver.log", stdout_pipe=True
            )
        )
        handshake = apiserver.read_line(timeout=120)
        if not handshake.startswith("READY "):
            raise apiserver.failure(f"printed {handshake!r} instead of READY")
        adapter_args = [
            PYTHON, "-m", "adapter", "serve", "--prometheus-url", prometheus.url,
            "--config", str(CONFIG), "--kubeconfig", str(kubeconfig),
            "--secure-port", str(port), "--bind-address", "127.0.0.1",
            "--cert-dir", str(workdir / "certs"), *extra_adapter_args,
        ]  # fmt: skip
        adapter = stack.enter_context(
            ChildProcess("adapter", adapter_args, workdir / "adapter.log")
        )
        adapter_url = f"https://127.0.0.1:{port}"
        wait_until(
            lambda: http_request(adapter_url + "/readyz", timeout=5)[0] == 200,
            timeout=120,
            child=adapter,
            what="ready",
        )
        ordered = _check_adapter_answer(adapter_url + PATH, names)
        _check_adapter_answer(adapter_url + PATH + DISTINCT_SELECTOR.replace(VARIANT, "7"), names)
        promql = _promql(prometheus.url, PATH, ordered, workdir)
        distinct_promql = _variable_promql(prometheus.url, ordered, workdir)
        direct, direct_distinct = (
            loadgen.LoadRequest(
                url=f"{prometheus.url}/api/v1/query",
                method="POST",
                body=urllib.parse.urlencode([("query", query), ("timeout", "30.000")]).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                variants=variants,
            )
            for query, variants in ((promql, 0), (distinct_promql, DISTINCT))
        )
        _check_prometheus_answer(direct, size)
        _check_prometheus_answer(direct_distinct, size)
        assert prometheus.process is not None
        yield Rig(
            size=size,
            workdir=workdir,
            adapter=adapter,
            apiserver=apiserver,
            prometheus_pid=prometheus.process.pid,
            promql=promql,
            via_adapter=loadgen.LoadRequest(url=adapter_url + PATH),
            direct=direct,
            via_adapter_distinct=loadgen.LoadRequest(
                url=adapter_url + PATH + DISTINCT_SELECTOR, variants=DISTINCT
            ),
            direct_distinct=direct_distinct,
            listing=loadgen.LoadRequest(
                url=f"{handshake.split()[1]}/api/v1/namespaces/{NAMESPACE}/pods"
                f"?labelSelector={LABEL_KEY}%3D{LABEL_VALUE}",
                headers={
                    "Accept": METADATA_LIST_ACCEPT,
                    "Authorization": f"Bearer {ADMIN_TOKEN}",
                },
            ),
        )


def run(options: Options) -> Result:
    size = 200 if options.quick else 1000
    duration = options.duration
    warmup = max(1.0, duration / 10)
    tool = loadgen.choose_tool(options.loadgen)
    workdir = Path(tempfile.mkdtemp(prefix="bench-pods-"))
    runs: dict[str, dict[str, Any]] = {}
    with rig(size, workdir, options.adapter_args) as servers:
        for label, request, concurrency in (
            ("adapter_16_distinct", servers.via_adapter_distinct, CONCURRENCY),
            ("prometheus_16_distinct", servers.direct_distinct, CONCURRENCY),
            ("adapter_16", servers.via_adapter, CONCURRENCY),
            ("prometheus_16", servers.direct, CONCURRENCY),
            ("adapter_1", servers.via_adapter, 1),
            ("prometheus_1", servers.direct, 1),
            ("apiserver_1", servers.listing, 1),
        ):
            loadgen.run_load(
                request, concurrency=concurrency, duration=warmup, tool=tool, workdir=workdir
            )
            cpu = _Cpu(servers.pids)
            busy = machine_busy_seconds()
            figures = loadgen.run_load(
                request, concurrency=concurrency, duration=duration, tool=tool, workdir=workdir
            )
            spent = cpu.delta()
            ours = spent.adapter + spent.apiserver + spent.prometheus + figures.cpu_seconds
            other = max(machine_busy_seconds() - busy - ours, 0.0)
            if figures.errors:
                raise BenchmarkError(
                    f"{label}: {figures.errors} of {figures.requests} requests failed; "
                    f"adapter log {servers.adapter.log}"
                )
            per = figures.requests or 1
            runs[label] = {
                **figures.as_dict(),
                "cpu_seconds_per_request": {
                    "adapter": spent.adapter / per,
                    "apiserver": spent.apiserver / per,
                    "prometheus": spent.prometheus / per,
                    "loadgen": figures.cpu_seconds / per,
                },
                "other_processes_cores": other / figures.seconds if figures.seconds else 0.0,
            }
        adapter_memory = memory(servers.adapter.pid)
        promql = servers.promql
    if not options.keep_workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return _report(
        size, tool, promql, runs, adapter_memory.rss, adapter_memory.peak, options.adapter_args,
        workdir,
    )  # fmt: skip


def _report(
    size: int,
    tool: str,
    promql: str,
    runs: dict[str, dict[str, Any]],
    rss: int,
    peak_rss: int,
    adapter_args: Sequence[str],
    workdir: Path,
) -> Result:
    def lat(run: str, p: str) -> float:
        return float(runs[run]["latency_seconds"][p])

    def cpu(run: str) -> float:
        return float(runs[run]["cpu_seconds_per_request"]["adapter"])

    def throughput(run: str) -> float:
        return float(runs[run]["throughput"])

    own_distinct = lat("adapter_16_distinct", "p50") - lat("prometheus_16_distinct", "p50")
    own_16 = lat("adapter_16", "p50") - lat("prometheus_16", "p50")
    own_1 = lat("adapter_1", "p50") - lat("prometheus_1", "p50")
    cpu_distinct = cpu("adapter_16_distinct")

    rows = []
    for run, label in RUN_LABELS.items():
        figures = runs[run]
        spent = figures["cpu_seconds_per_request"]
        target = run.split("_")[0]
        rows.append(
            [
                label,
                format_number(figures["throughput"]),
                ms(lat(run, "p50")),
                ms(lat(run, "p90")),
                ms(lat(run, "p99")),
                ms(spent["adapter"]) if target == "adapter" else "-",
                ms(spent["apiserver"]) if target in ("adapter", "apiserver") else "-",
                ms(spent["prometheus"]) if target in ("adapter", "prometheus") else "-",
                format_number(figures["bytes_per_request"] / 1024),
                format_number(figures["other_processes_cores"]),
            ]
        )
    flags = f"; adapter flags {' '.join(adapter_args)}" if adapter_args else ""
    loads = Table(
        f"pods/* over {size} pods ({tool}; each run {runs['adapter_16']['seconds']:.0f}s{flags})",
        ["run", "req/s", "p50 ms", "p90 ms", "p99 ms", "adapter CPU ms/req",
         "apiserver CPU ms/req", "prometheus CPU ms/req", "KiB/answer", "other load"],
        rows,
    )  # fmt: skip
    summary = Table(
        "pods/*: adapter against the baseline (Prometheus alone) and upstream's figures",
        ["figure", "adapter", "baseline", "upstream (issue)", "target"],
        [
            ["own time p50, 1 client (ms)", ms(own_1), ms(lat("prometheus_1", "p50")),
             format_number(UPSTREAM_OWN_MS), f"<= {TARGET_OWN_MS:g}"],
            ["  of it: the list call alone, p50 (ms)", ms(lat("apiserver_1", "p50")), "-", "-",
             "-"],
            ["own time p50, 16 clients, distinct / identical (ms)",
             f"{ms(own_distinct)} / {ms(own_16)}",
             f"{ms(lat('prometheus_16_distinct', 'p50'))} / {ms(lat('prometheus_16', 'p50'))}",
             "-", "(queueing)"],
            ["req/s, 16 clients, distinct requests", format_number(throughput(
             "adapter_16_distinct")), format_number(throughput("prometheus_16_distinct")),
             UPSTREAM_THROUGHPUT, f">= {TARGET_THROUGHPUT:g}"],
            ["req/s, 16 clients, identical requests", format_number(throughput("adapter_16")),
             format_number(throughput("prometheus_16")), UPSTREAM_THROUGHPUT, "-"],
            ["adapter CPU per request, 16 clients, distinct (ms)", ms(cpu_distinct), "-",
             format_number(UPSTREAM_CPU_MS), f"<= {TARGET_CPU_MS:g}"],
            ["adapter CPU per request, identical / 1 client (ms)",
             f"{ms(cpu('adapter_16'))} / {ms(cpu('adapter_1'))}", "-", "-", "-"],
            ["req/s one core could serve at the distinct CPU cost",
             format_number(1 / cpu_distinct if cpu_distinct else float("nan")), "-", "-", "-"],
            ["adapter RSS after the runs / peak (MiB)", f"{mib(rss)} / {mib(peak_rss)}", "-",
             "-", "-"],
        ],
    )  # fmt: skip
    # The own-time target is judged on the sequential run: with 16 clients on a saturated
    # 2-core machine both p50s are mostly queueing (about 16 / throughput), so their
    # difference measures throughput, which has a target of its own. Throughput and CPU
    # are judged on distinct requests: identical ones in flight together may share one
    # Prometheus evaluation, which HPAs asking about different workloads never do.
    targets = [
        Target("own time p50, 1 client", own_1 * 1000, TARGET_OWN_MS, "ms"),
        Target(
            "throughput, 16 clients, distinct requests",
            throughput("adapter_16_distinct"),
            TARGET_THROUGHPUT,
            "req/s",
            at_least=True,
        ),
        Target(
            "adapter CPU per request, 16 clients, distinct requests",
            cpu_distinct * 1000,
            TARGET_CPU_MS,
            "ms",
        ),
    ]
    return Result(
        name=NAME,
        tables=[loads, summary],
        targets=targets,
        data={
            "pods": size,
            "load_tool": tool,
            "request_path": PATH,
            "promql_bytes": len(promql),
            "runs": runs,
            "own_time_p50_seconds": {
                "clients_16_distinct": own_distinct,
                "clients_16_identical": own_16,
                "clients_1": own_1,
            },
            "distinct_variants": DISTINCT,
            "adapter_rss_bytes": rss,
            "adapter_peak_rss_bytes": peak_rss,
            "adapter_args": list(adapter_args),
            "upstream_reference": {
                "own_time_ms": UPSTREAM_OWN_MS,
                "throughput": UPSTREAM_THROUGHPUT,
                "cpu_ms_per_request": UPSTREAM_CPU_MS,
            },
            "workdir": str(workdir),
        },
    )
