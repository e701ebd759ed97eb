"""Config reload without restart: a changed rule file, or SIGHUP, loads the new rules and
rediscovers; a file that does not load keeps the last good rules serving.

prometheus-adapter reads its config once (a changed ConfigMap needs a pod restart,
upstream issues #104 and #678); here the file is watched instead. How: every few
seconds the file's bytes are hashed (opened by path, so symlinks are followed afresh
each time). That catches an edit in place, a `mv` over the file, and the way the kubelet
updates a ConfigMap volume - it writes a new timestamped directory and swaps the `..data`
symlink the file's own symlink points through, so the path never changes but its
content does. inotify would miss the swap unless it watched the directory; a hash of a
small file every few seconds costs nothing and cannot miss it.

Owns: the poll loop (a supervised background task), the SIGHUP request, the decision
(load, check against the REST mapping, apply or reject) and the counts for /metrics.
What "apply" means - new rules into discovery and the resource provider, then a relist -
is given by `serving` as one callable, which raises `ReloadRejected` for problems that
only the running adapter can see. A rejected file is logged once with every problem
(file, rule and field, from `rules.config`) and retried only when it changes again or on
SIGHUP.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapter.k8s.resources import RestMapper
from adapter.providers.discovery import Discovery
from adapter.providers.resource import ResourceMetricsProvider
from adapter.rules.config import ConfigError, ConfigProblem, MetricsDiscoveryConfig, parse_config
from adapter.rules.registry import RuleSet
from adapter.rules.resources import check_against_mapper

__all__ = ["ConfigReloader", "ReloadRejected", "ReloadStats", "rules_applier"]

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS: Final = 5.0
"""How often the file's hash is checked. The kubelet itself propagates a ConfigMap change
within its sync period (a minute or so), so five seconds adds nothing a user notices."""


class ReloadRejected(ValueError):
    """A new config that loads but cannot be served (e.g. a resource the cluster lacks)."""

    def __init__(self, problems: Sequence[object]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass(frozen=True, slots=True)
class ReloadStats:
    """Reload attempts for the adapter's /metrics (the start-up load is not counted)."""

    successes: int = 0
    failures: int = 0
    last_success: float | None = None
    """Unix time the config now serving was loaded (start-up, or the last good reload)."""
    last_error: str = ""


def _digest(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


class ConfigReloader:
    """Reloads `path` when its content changes or `request()` is called (SIGHUP)."""

    def __init__(
        self,
        path: str | Path,
        apply: Callable[[MetricsDiscoveryConfig], Awaitable[None]],
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self._apply = apply
        self.poll_seconds = poll_seconds
        self._wall_clock = wall_clock
        self._seen = self._read_digest()
        """Hash of the content last loaded or rejected: what counts as "changed"."""
        self._requested = asyncio.Event()
        self._lock = asyncio.Lock()
        self.stats = ReloadStats(last_success=wall_clock())

    def _read_digest(self) -> bytes | None:
        try:
            return _digest(self.path.read_bytes())
        except OSError:
            return None

    def request(self) -> None:
        """Reload at once even if the content looks unchanged (the SIGHUP handler)."""
        self._requested.set()

    async def run(self) -> None:
        """Poll for ever (a supervised background task)."""
        while True:
            with contextlib.suppress(TimeoutError):
                poll = self.poll_seconds if self.poll_seconds > 0 else None
                await asyncio.wait_for(self._requested.wait(), poll)
            forced = self._requested.is_set()
            self._requested.clear()
            if forced or self._read_digest() != self._seen:
                await self.reload(reason="SIGHUP" if forced else "file changed")

    async def reload(self, *, reason: str = "requested") -> bool:
        """Load, check and apply the file now; True if the new config is serving."""
        async with self._lock:
            try:
                content = self.path.read_bytes()
            except OSError as err:
                return self._failed(f"{self.path}: cannot read: {err.strerror or err}")
            self._seen = _digest(content)
            try:
                config = parse_config(content.decode("utf-8"), str(self.path))
                await self._apply(config)
            except UnicodeDecodeError as err:
                return self._failed(f"{self.path}: not UTF-8 text: {err}")
            except (ConfigError, ReloadRejected) as err:
                return self._failed(str(err))
            except Exception as err:  # a new config must never take the serving process down
                log.debug("applying %s failed", self.path, exc_info=True)
                return self._failed(f"{self.path}: cannot apply the new config: {err}")
            self.stats = ReloadStats(
                successes=self.stats.successes + 1,
                failures=self.stats.failures,
                last_success=self._wall_clock(),
            )
            log.info("config reloaded from %s (%s)", self.path, reason)
            return True

    def _failed(self, problem: str) -> bool:
        self.stats = ReloadStats(
            successes=self.stats.successes,
            failures=self.stats.failures + 1,
            last_success=self.stats.last_success,
            last_error=problem,
        )
        # One line per problem, each naming file, rule and field.
        for line in problem.splitlines():
            log.error("config reload failed, keeping the last good config: %s", line)
        return False


def rules_applier(
    discovery: Discovery,
    resource: ResourceMetricsProvider | None,
    mapper: RestMapper,
    *,
    custom: bool,
    external: bool,
) -> Callable[[MetricsDiscoveryConfig], Awaitable[None]]:
    """What applying a new config means for the parts `serving` built: the REST-mapping
    checks start-up runs, new rules for discovery (of the groups this process serves)
    and for the resource provider, then a relist.

    The set of served API groups is fixed at start-up (the aggregator's APIServices point
    at it): rules for a group not served are logged as needing a restart, and dropping
    `resourceRules` while metrics.k8s.io is served is refused."""

    async def apply(config: MetricsDiscoveryConfig) -> None:
        problems: list[object] = list(check_against_mapper(config, mapper))
        if resource is not None and config.resource_rules is None:
            problems.append(
                ConfigProblem(
                    config.source,
                    "resourceRules",
                    "missing, but this process serves metrics.k8s.io: "
                    "removing the group needs a restart",
                )
            )
        if problems:
            raise ReloadRejected(problems)
        for group, served, wanted in (
            ("custom.metrics.k8s.io", custom, bool(config.rules)),
            ("external.metrics.k8s.io", external, bool(config.external_rules)),
        ):
            if wanted and not served:
                log.warning(
                    "%s is not served by this process (switched off, or no rules at "
                    "start-up): its rules take effect after a restart",
                    group,
                )
        discovered = dataclasses.replace(
            config,
            rules=config.rules if custom else (),
            external_rules=config.external_rules if external else (),
        )
        rules = RuleSet(discovered, mapper)
        if resource is not None and config.resource_rules is not None:
            resource.replace_rules(config.resource_rules)
        await discovery.replace_rules(rules)

    return apply


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
