"""The adapter's own `/metrics`: its health in Prometheus text format (prometheus_client).

Owns the registry the process exports and the route serving it. What is in it:

* the process (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...) and
  Python (`python_info`, `python_gc_*`), prometheus_client's standard collectors;
* series discovery, read from `Discovery.stats` at scrape time:
  `metrics_adapter_discovery_relists_total`, `..._relist_failures_total` (a relist
  that failed and kept the previous metrics), `..._last_relist_duration_seconds`,
  `..._last_success_timestamp_seconds`, `..._series` and `..._series_shapes`;
* config reloads (`ReloadCollector`): `metrics_adapter_config_reloads_total{result}` and
  `metrics_adapter_config_last_reload_success_timestamp_seconds`;
* whatever else registers on the registry - the HPA loop's series when it runs in this
  process (`adapter.hpa.exporting`).

One registry per application (never prometheus_client's global one), so tests and
several apps in one process do not see each other's series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapter.providers.discovery import RelistStats
from adapter.providers.reloading import ReloadStats

__all__ = [
    "CONTENT_TYPE",
    "REGISTRY",
    "DiscoveryCollector",
    "ReloadCollector",
    "add_routes",
    "new_registry",
    "render",
]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The text exposition format generate_latest writes, which every Prometheus scrapes."""

REGISTRY: Final = web.AppKey("metrics_registry", CollectorRegistry)


class DiscoveryCollector(Collector):
    """Series about the last relists, read from the stats at each scrape."""

    def __init__(self, stats: Callable[[], RelistStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        stats = self._stats()
        yield CounterMetricFamily(
            "metrics_adapter_discovery_relists",
            "Relists of the series Prometheus has, successful or not.",
            value=stats.relists,
        )
        yield CounterMetricFamily(
            "metrics_adapter_discovery_relist_failures",
            "Relists that failed; the metrics of the last good relist stayed in place.",
            value=stats.failures,
        )
        yield GaugeMetricFamily(
            "metrics_adapter_discovery_last_relist_duration_seconds",
            "Seconds the last relist took.",
            value=stats.last_duration,
        )
        if stats.last_success is not None:
            yield GaugeMetricFamily(
                "metrics_adapter_discovery_last_success_timestamp_seconds",
                "Unix time of the last successful relist.",
                value=stats.last_success,
            )
        yield GaugeMetricFamily(
            "metrics_adapter_discovery_series",
            "Series the last successful relist saw.",
            value=stats.series,
        )
        yield GaugeMetricFamily(
            "metrics_adapter_discovery_series_shapes",
            "Distinct label-name shapes among those series.",
            value=stats.shapes,
        )


class ReloadCollector(Collector):
    """Config reloads (`adapter.providers.reloading`), read from its stats at each scrape."""

    def __init__(self, stats: Callable[[], ReloadStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        stats = self._stats()
        reloads = CounterMetricFamily(
            "metrics_adapter_config_reloads",
            "Config reloads by result; a failed one kept the last good config serving.",
            labels=["result"],
        )
        reloads.add_metric(["success"], stats.successes)
        reloads.add_metric(["failure"], stats.failures)
        yield reloads
        if stats.last_success is not None:
            yield GaugeMetricFamily(
                "metrics_adapter_config_last_reload_success_timestamp_seconds",
                "Unix time the config now serving was loaded (start-up or last good reload).",
                value=stats.last_success,
            )


def new_registry(discovery_stats: Callable[[], RelistStats] | None = None) -> CollectorRegistry:
    """A registry with the process, Python and (given its stats) discovery collectors."""
    # No `_created` series, as Go clients export none.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    if discovery_stats is not None:
        registry.register(DiscoveryCollector(discovery_stats))
    return registry


def render(registry: CollectorRegistry, names: Sequence[str] = ()) -> bytes:
    """The exposition; with `names` (prometheus_client's `name[]` query parameter) only
    those series are collected, which a poller of one counter appreciates."""
    if names:
        return generate_latest(registry.restricted_registry(names))
    return generate_latest(registry)


async def _metrics(request: web.Request) -> web.Response:
    body = render(request.app[REGISTRY], request.query.getall("name[]", []))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application, registry: CollectorRegistry) -> None:
    app[REGISTRY] = registry
    app.router.add_get("/metrics", _metrics)
