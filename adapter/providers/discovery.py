"""Discovery: every relist interval, turn the series Prometheus has into a fresh registry.

Each distinct `seriesQuery` goes to `/api/v1/series` once per relist (window
`--metrics-max-age`), streamed: only the shapes naming needs are kept, so a million
series cost megabytes, not gigabytes. A relist that fails anywhere keeps the last good
registry in place — it is logged, counted and retried at the next interval — because a
half-built registry would make metrics vanish. Start-up waits for the first good relist
before reporting ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.errors import PrometheusError
from adapter.rules.registry import Registry, RegistryBuilder, RuleSet

log = logging.getLogger(__name__)


class DiscoveryError(RuntimeError):
    """A relist that could not complete; the registry in place stays."""


@dataclass(frozen=True, slots=True)
class RelistStats:
    """Counters for the adapter's own /metrics and for `readyz` messages."""

    relists: int = 0
    failures: int = 0
    last_success: float | None = None
    """Wall-clock time of the last good relist."""
    last_duration: float = 0.0
    last_error: str = ""
    series: int = 0
    shapes: int = 0


class Discovery:
    def __init__(
        self,
        rules: RuleSet,
        prometheus: PrometheusClient,
        *,
        interval: float,
        max_age: float,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = rules
        self._prometheus = prometheus
        self.interval = interval
        self.max_age = max_age
        self._wall_clock = wall_clock
        self.registry = Registry(rules)
        self.stats = RelistStats()
        self.ready = asyncio.Event()
        self._relisting = asyncio.Lock()
        """One relist at a time: a relist with old rules must not finish after (and
        overwrite) the one a config reload started with new rules."""

    async def replace_rules(self, rules: RuleSet) -> None:
        """New rules from a reloaded config, and a relist with them at once. If that
        relist fails, the previous registry keeps serving until the next one succeeds."""
        async with self._relisting:
            self.rules = rules
        with contextlib.suppress(DiscoveryError):
            await self.relist()

    async def relist(self) -> Registry:
        """One relist; on success the new registry is in place when this returns."""
        async with self._relisting:
            return await self._relist()

    async def _relist(self) -> Registry:
        started = time.monotonic()
        builder = RegistryBuilder(self.rules)
        start = self._wall_clock() - self.max_age
        try:
            async with asyncio.TaskGroup() as group:
                for query in self.rules.series_queries():
                    group.create_task(self._fetch(builder, query, start), name=f"series {query}")
        except* PrometheusError as failures:
            reason = "; ".join(str(err) for err in failures.exceptions)
            self._record_failure(started, reason)
            raise DiscoveryError(
                f"relist failed, keeping the previous metrics: {reason}"
            ) from failures
        registry = builder.build()
        self.registry = registry
        self.stats = RelistStats(
            relists=self.stats.relists + 1,
            failures=self.stats.failures,
            last_success=self._wall_clock(),
            last_duration=time.monotonic() - started,
            series=registry.series_seen,
            shapes=registry.shapes_seen,
        )
        self.ready.set()
        log.info(
            "relist: %d series (%d shapes) -> %d custom, %d external metrics in %.2fs",
            registry.series_seen,
            registry.shapes_seen,
            len(registry.custom),
            len(registry.external),
            self.stats.last_duration,
        )
        return registry

    async def _fetch(self, builder: RegistryBuilder, query: str, start: float) -> None:
        async for batch in self._prometheus.series(query, start=start):
            builder.add_series(query, batch)

    def _record_failure(self, started: float, reason: str) -> None:
        previous = self.stats
        self.stats = RelistStats(
            relists=previous.relists + 1,
            failures=previous.failures + 1,
            last_success=previous.last_success,
            last_duration=time.monotonic() - started,
            last_error=reason,
            series=previous.series,
            shapes=previous.shapes,
        )
        log.error("relist failed, keeping the previous metrics: %s", reason)

    async def run(self) -> None:
        """Relist now and then every interval, for ever (a supervised background task)."""
        while True:
            # A failure is logged and counted; the next interval tries again.
            with contextlib.suppress(DiscoveryError):
                await self.relist()
            await asyncio.sleep(self.interval)


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
