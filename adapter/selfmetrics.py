"""The adapter's own `/metrics`: its health in Prometheus text format (prometheus_client).

Owns the registry the process exports and the route serving it. What is in it:

* the process (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...) and
  Python (`python_info`, `python_gc_*`), prometheus_client's standard collectors;
* what the parts of the process register on it: series discovery's
  (`adapter.providers.discovery.DiscoveryCollector`), the HPA loop's
  (`adapter.hpa.exporting`).

It sits below every layer because `serve` and `hpa run` both export through it.

One registry per application (never prometheus_client's global one), so tests and
several apps in one process do not see each other's series.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "REGISTRY",
    "add_routes",
    "new_registry",
    "render",
]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The text exposition format generate_latest writes, which every Prometheus scrapes."""

REGISTRY: Final = web.AppKey("metrics_registry", CollectorRegistry)


def new_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry with the process and Python collectors, and the given ones (series
    discovery's, `adapter.providers.discovery.DiscoveryCollector`)."""
    # No `_created` series, as Go clients export none.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    for collector in collectors:
        registry.register(collector)
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
