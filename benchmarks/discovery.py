"""Discovery of 100,000 and 1,000,000 series: seconds per relist and peak memory.

For each size the real Prometheus is backfilled (promtool) with 1,000 metric names, the
series of each spread over 10 namespaces and their pods, five labels each (namespace,
pod, container, job, instance), like a cluster's scrape targets: a tenth of the names are
cAdvisor-shaped (`container_*`), matched by the default config's first `seriesQuery`,
the rest application series matched by its second. Then, each in a process of its own
that reports its own peak RSS (`VmHWM`) when done:

* the adapter's discovery (`benchmarks.relist_probe`: `Discovery.relist()` with the
  adapter's default client settings, twice, the second while the first registry is held);
* the baseline (`benchmarks.naive_series`): each whole `/api/v1/series` body fetched, then
  decoded with `json.loads` and held, as a straightforward client (and upstream) does.

Before both, the harness lists the series twice itself, discarding the bytes: the first
listing warms Prometheus' page cache for both contenders alike, the second measures how
long Prometheus alone takes to produce the listings - the floor no client gets under.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import (
    MIB,
    PYTHON,
    REPO,
    BenchmarkError,
    Finished,
    Options,
    Result,
    Table,
    Target,
    format_number,
    mib,
    run_to_end,
    use_test_support,
)
from benchmarks.naive_series import series_queries

NAME = "discovery"
CONFIG = REPO / "config" / "default.yaml"
METRIC_NAMES = 1000
NAMESPACES = 10
MAX_AGE = 600.0
TARGET_SECONDS = 10.0
TARGET_PEAK_MIB = 400.0
UPSTREAM = {"seconds_1m": 10.0, "peak_rss_mib_1m": 1.1 * 1024}
"""The Go prometheus-adapter at 1M series, as the issue quotes it (for the table only)."""

# Sample offsets from the data set's anchor: the series lie inside every relist window
# (`max-age` 10m back from now) for the next half hour, with three samples each.
_OFFSETS = ((-120.0, 1.0), (0.0, 2.0), (1800.0, 3.0))


def metric_names(count: int = METRIC_NAMES) -> list[str]:
    names = []
    for index in range(count):
        if index % 10 == 0:
            names.append(f"container_bench_{index}_seconds_total")
        elif index % 10 == 1:
            names.append(f"container_bench_{index}_bytes")
        elif index % 3 == 0:
            names.append(f"app_bench_{index}_requests_total")
        elif index % 3 == 1:
            names.append(f"app_bench_{index}_cpu_seconds_total")
        else:
            names.append(f"app_bench_{index}_queue_depth")
    return names


def _generate(size: int) -> Iterator[Any]:
    use_test_support()
    from support.prometheus import Series

    names = metric_names()
    per_name = max(size // len(names), 1)
    namespaces = min(NAMESPACES, per_name)
    pods = max(per_name // namespaces, 1)
    for name in names:
        for ns in range(namespaces):
            for pod in range(pods):
                labels = {
                    "namespace": f"team-{ns}",
                    "pod": f"app-{ns}-7f9c6d8b5-{pod:05d}",
                    "container": "app",
                    "job": "kubernetes-pods",
                    "instance": f"10.{ns}.{pod // 250}.{pod % 250}:8080",
                }
                yield Series(name, labels, _OFFSETS)


def _list_discarding(url: str) -> dict[str, Any]:
    """Each series query's listing read to the last byte and dropped: Prometheus' time."""
    seconds = 0.0
    size = 0
    for query in series_queries(str(CONFIG)):
        params = urllib.parse.urlencode(
            [("match[]", query), ("start", f"{time.time() - MAX_AGE:.3f}")]
        )
        started = time.monotonic()
        with urllib.request.urlopen(f"{url}/api/v1/series?{params}", timeout=600) as response:
            while chunk := response.read(1 << 20):
                size += len(chunk)
        seconds += time.monotonic() - started
    return {"seconds": seconds, "bytes": size}


def _json_of(finished: Finished, what: str, log: Path) -> dict[str, Any]:
    if finished.returncode != 0:
        raise BenchmarkError(f"{what} exited {finished.returncode}; log {log}")
    document: dict[str, Any] = orjson.loads(finished.stdout)
    return document


def measure(size: int, workdir: Path) -> dict[str, Any]:
    use_test_support()
    from support.prometheus import SeriesData, start_prometheus

    data = SeriesData().extend(lambda: _generate(size))
    started = time.monotonic()
    with start_prometheus(data, workdir / "prometheus", ready_timeout=300) as prometheus:
        setup = time.monotonic() - started
        _list_discarding(prometheus.url)  # warms the page cache for all that follows
        listing = _list_discarding(prometheus.url)
        common = ["--config", str(CONFIG), "--prometheus-url", prometheus.url]
        probe_log = workdir / "relist-probe.log"
        probe_run = run_to_end([PYTHON, "-m", "benchmarks.relist_probe", *common], probe_log)
        probe = _json_of(probe_run, "relist probe", probe_log)
        naive_log = workdir / "naive-series.log"
        naive_run = run_to_end([PYTHON, "-m", "benchmarks.naive_series", *common], naive_log)
        naive = _json_of(naive_run, "naive series listing", naive_log)
    return {
        "series": prometheus.written.series,
        "setup_seconds": setup,
        "promtool_seconds": prometheus.promtool_seconds,
        "prometheus_listing": listing,
        "adapter": {
            **probe,
            "cpu_seconds": probe_run.cpu_seconds,
            "process_seconds": probe_run.wall_seconds,
        },
        "naive": {
            **naive,
            "cpu_seconds": naive_run.cpu_seconds,
            "process_seconds": naive_run.wall_seconds,
        },
    }


def run(options: Options) -> Result:
    sizes = [20_000] if options.quick else [100_000, 1_000_000]
    workdir = Path(tempfile.mkdtemp(prefix="bench-discovery-"))
    measured: dict[int, dict[str, Any]] = {}
    for size in sizes:
        measured[size] = measure(size, workdir / f"series-{size}")
    if not options.keep_workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return _report(measured, workdir)


def _report(measured: dict[int, dict[str, Any]], workdir: Path) -> Result:
    rows = []
    for size, figures in measured.items():
        adapter, naive = figures["adapter"], figures["naive"]
        relists = [r["seconds"] for r in adapter["relists"]]
        kept = adapter["relists"][-1]
        rows.append(
            [
                f"{size:,}",
                format_number(figures["prometheus_listing"]["seconds"]),
                " / ".join(format_number(s) for s in relists),
                format_number(adapter["relists"][-1]["cpu_seconds"]),
                mib(adapter["peak_rss_bytes"]),
                mib(adapter["before"]["rss"]),
                f"{kept['shapes']:,} / {kept['custom_metrics']:,}",
                format_number(naive["fetch_seconds"] + naive["decode_seconds"]),
                format_number(naive["decode_seconds"]),
                mib(naive["peak_rss_bytes"]),
                mib(figures["prometheus_listing"]["bytes"]),
            ]
        )
    table = Table(
        "discovery: one relist (adapter) against fetching and json.loads of the whole bodies "
        "(baseline)",
        ["series", "prometheus s", "relist s (1st / 2nd)", "relist CPU s", "peak RSS MiB",
         "of it at start MiB", "shapes / metrics", "baseline s", "of it decode s",
         "baseline peak MiB", "body MiB"],
        rows,
    )  # fmt: skip
    largest = max(measured)
    figures = measured[largest]
    worst = max(r["seconds"] for r in figures["adapter"]["relists"])
    peak = figures["adapter"]["peak_rss_bytes"] / MIB
    targets = [
        Target(f"relist time at {largest:,} series", worst, TARGET_SECONDS, "s"),
        Target(f"relist peak RSS at {largest:,} series", peak, TARGET_PEAK_MIB, "MiB"),
    ]
    return Result(
        name=NAME,
        tables=[table],
        targets=targets,
        data={
            "sizes": {str(size): figures for size, figures in measured.items()},
            "upstream_reference": UPSTREAM,
            "workdir": str(workdir),
        },
    )
