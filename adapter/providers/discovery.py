"""Discovery: every relist interval, turn the series Prometheus has into a fresh registry.

Each distinct `seriesQuery` goes to `/api/v1/series` once per relist (window
`--metrics-max-age`), streamed: only the shapes naming needs are kept, so a million
series cost megabytes, not gigabytes.

Each series query stands alone, so one bad rule cannot take every metric down (upstream
fails the whole relist when one call fails, and a query Prometheus rejects fails them
all for ever): a query that fails keeps its last good series in the new registry, and
is logged and counted per rule (`metrics_adapter_discovery_rule_failures_total{rule=
"rules[2]"}`; `rules explain` prints it). When every query fails for want of Prometheus,
the relist fails and the registry in place stays. Start-up is ready after the first
relist in which every query that can be listed was: Prometheus answered at least one, or
it refused all of them as bad queries (nothing more will come of waiting).

A sudden drop is suspicious: a query that answered series before and now answers none,
or at most `SUSPICIOUS_SHARE` (10%) of them, keeps its last good series for one relist
(logged, counted as `metrics_adapter_discovery_suspicious_relists_total{rule=...}`). A
second relist that confirms the drop is believed, so a rule whose series really went
away empties one interval late, and a glitch (a Prometheus restarting with an empty
head, a proxy answering `[]`) never wipes the metrics the HPA is reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.errors import PrometheusError, PrometheusQueryError
from adapter.rules.registry import Registry, RegistryBuilder, RuleSet, SeriesListing

log = logging.getLogger(__name__)

SUSPICIOUS_SHARE = 0.1
"""A query answering at most this share of its last good series (a drop of 90% or more)
is held for one more relist."""


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
    rule_failures: Mapping[str, int] = field(default_factory=dict)
    """Relists in which a rule's series query failed, by rule (`rules[2]`)."""
    rule_errors: Mapping[str, str] = field(default_factory=dict)
    """Why each rule's query failed at the last relist; absent when it succeeded."""
    suspicious: Mapping[str, int] = field(default_factory=dict)
    """Relists in which a rule's answer dropped suspiciously and was held, by rule."""


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
        self._last_good: dict[str, SeriesListing] = {}
        self._held: set[str] = set()

    async def replace_rules(self, rules: RuleSet) -> None:
        """New rules from a reloaded config, and a relist with them at once. If that
        relist fails, the previous registry keeps serving until the next one succeeds."""
        async with self._relisting:
            self.rules = rules
        with contextlib.suppress(DiscoveryError):
            await self.relist()

    async def relist(self) -> Registry:
        """One relist; the new registry is in place when this returns. Raises
        DiscoveryError (keeping the registry) when no series query could be listed."""
        async with self._relisting:
            return await self._relist()

    async def _relist(self) -> Registry:
        started = time.monotonic()
        builder = RegistryBuilder(self.rules)
        start = self._wall_clock() - self.max_age
        queries = self.rules.series_queries()
        outcomes = await asyncio.gather(
            *(self._fetch(builder, query, start) for query in queries), return_exceptions=True
        )
        failed: dict[str, PrometheusError] = {}
        for query, outcome in zip(queries, outcomes, strict=True):
            if isinstance(outcome, PrometheusError):
                failed[query] = outcome
            elif isinstance(outcome, BaseException):
                raise outcome
        if queries and len(failed) == len(queries):
            reason = "; ".join(dict.fromkeys(str(err) for err in failed.values()))
            self._record_failure(started, reason, failed)
            if all(isinstance(err, PrometheusQueryError) for err in failed.values()):
                self.ready.set()  # every rule is broken; waiting will not mend them
            raise DiscoveryError(f"relist failed, keeping the previous metrics: {reason}")
        suspicious = self._settle(builder, queries, failed)
        registry = builder.build()
        self.registry = registry
        previous = self.stats
        rule_errors = self._rule_errors(failed)
        self.stats = RelistStats(
            relists=previous.relists + 1,
            failures=previous.failures + (1 if failed else 0),
            last_success=self._wall_clock(),
            last_duration=time.monotonic() - started,
            last_error="; ".join(f"{rule}: {why}" for rule, why in rule_errors.items()),
            series=registry.series_seen,
            shapes=registry.shapes_seen,
            rule_failures=_add(previous.rule_failures, rule_errors),
            rule_errors=rule_errors,
            suspicious=_add(previous.suspicious, self._rule_names(suspicious)),
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

    def _settle(
        self, builder: RegistryBuilder, queries: list[str], failed: Mapping[str, PrometheusError]
    ) -> list[str]:
        """Per query: keep the last good listing where the answer failed or dropped
        suspiciously; remember the answers that are believed. Returns the held queries."""
        held: list[str] = []
        for query in queries:
            last = self._last_good.get(query)
            if query in failed:
                rules = ", ".join(self._rule_names([query]))
                log.error(
                    "series query of %s failed, keeping its last %d series: %s",
                    rules,
                    last.series if last else 0,
                    failed[query],
                )
                builder.restore(query, last or SeriesListing())
                continue
            answer = builder.listing(query)
            dropped = (
                last is not None
                and last.series > 0
                and answer.series <= last.series * SUSPICIOUS_SHARE
            )
            if last is not None and dropped and query not in self._held:
                log.warning(
                    "series query of %s answered %d series where it answered %d: keeping the "
                    "last good series until the next relist confirms the drop",
                    ", ".join(self._rule_names([query])),
                    answer.series,
                    last.series,
                )
                builder.restore(query, last)
                self._held.add(query)
                held.append(query)
                continue
            if dropped:
                log.warning(
                    "series query of %s: the drop to %d series is confirmed",
                    ", ".join(self._rule_names([query])),
                    answer.series,
                )
            self._held.discard(query)
            self._last_good[query] = answer
        return held

    def _rule_names(self, queries: Iterable[str]) -> list[str]:
        return [
            compiled.rule.location
            for query in queries
            for compiled in self.rules.rules_for_query(query)
        ]

    def _rule_errors(self, failed: Mapping[str, PrometheusError]) -> dict[str, str]:
        return {
            compiled.rule.location: str(err)
            for query, err in failed.items()
            for compiled in self.rules.rules_for_query(query)
        }

    def _record_failure(
        self, started: float, reason: str, failed: Mapping[str, PrometheusError]
    ) -> None:
        previous = self.stats
        rule_errors = self._rule_errors(failed)
        self.stats = RelistStats(
            relists=previous.relists + 1,
            failures=previous.failures + 1,
            last_success=previous.last_success,
            last_duration=time.monotonic() - started,
            last_error=reason,
            series=previous.series,
            shapes=previous.shapes,
            rule_failures=_add(previous.rule_failures, rule_errors),
            rule_errors=rule_errors,
            suspicious=previous.suspicious,
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
            "Relists in which a series query failed; its rules kept their last good series.",
            value=stats.failures,
        )
        failures = CounterMetricFamily(
            "metrics_adapter_discovery_rule_failures",
            "Relists in which a rule's series query failed, by rule.",
            labels=["rule"],
        )
        for rule, count in sorted(stats.rule_failures.items()):
            failures.add_metric([rule], count)
        yield failures
        held = CounterMetricFamily(
            "metrics_adapter_discovery_suspicious_relists",
            "Relists in which a rule's series dropped suspiciously (to nothing, or by 90% "
            "or more) and its last good series were kept.",
            labels=["rule"],
        )
        for rule, count in sorted(stats.suspicious.items()):
            held.add_metric([rule], count)
        yield held
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


def _add(counts: Mapping[str, int], keys: Iterable[str]) -> dict[str, int]:
    total = dict(counts)
    for key in keys:
        total[key] = total.get(key, 0) + 1
    return total
