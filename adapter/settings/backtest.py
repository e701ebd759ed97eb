"""`hpa backtest`'s settings: what to replay, over which window, against which Prometheus.

Owns the typed values the backtest command runs with, so `adapter.backtest` never sees
argparse: the spec files, the window and its grid of sync times (`Window`), the
replicas and pod requests history cannot give, the controller's settings
(`ControllerConfig`, the loop's own) and how to reach Prometheus. Turning flags into
these, with every check across flags, is `adapter.settings.fromflags.backtest_settings`;
replaying with them is `adapter.backtest`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from adapter.k8s import timefmt
from adapter.k8s.quantity import Quantity
from adapter.settings.hpa import ControllerConfig

__all__ = [
    "MAIN_CONTAINER",
    "MAX_STEPS",
    "BacktestPrometheus",
    "BacktestSettings",
    "Window",
]

MAX_STEPS = 1_000_000
"""More syncs than this (a year at 30 s) is almost surely a mistyped flag."""

MAIN_CONTAINER = "app"
"""The container a simulated pod's Resource usage and requests sit on (`--pod-requests
RESOURCE=Q` without a container names it)."""


@dataclass(frozen=True, slots=True)
class Window:
    """The window a backtest replays and the instants it syncs at: `start, start +
    step, ... <= end`, the same instants a Prometheus range query with that start and
    step evaluates at, so a sample read from the range answer lands on exactly one sync.
    """

    start: datetime
    end: datetime
    step: float
    """Seconds between syncs, whole (Prometheus' range API takes whole-second bounds)."""

    @property
    def count(self) -> int:
        return int((self.end - self.start).total_seconds() // self.step) + 1

    @property
    def start_seconds(self) -> float:
        return self.start.timestamp()

    def time(self, index: int) -> datetime:
        return self.start + timedelta(seconds=index * self.step)

    def index(self, unix_seconds: float) -> int | None:
        """The step a range-query sample at this time belongs to, or None off the grid."""
        offset = (unix_seconds - self.start_seconds) / self.step
        position = round(offset)
        if abs(offset - position) > 1e-6 or not 0 <= position < self.count:
            return None
        return position

    def step_text(self) -> str:
        return timefmt.format_go_duration(self.step)


@dataclass(frozen=True, slots=True)
class BacktestPrometheus:
    """The Prometheus the history is read from (the `--prometheus-*` flags the
    backtest's client honours)."""

    url: str
    verb: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    """Extra request headers, in flag order (`--prometheus-header KEY=VALUE`)."""
    token_file: str | None = None
    """A file holding a bearer token, read when the connection is made."""
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    timeout: float = 30.0
    """Seconds one call may take."""


@dataclass(frozen=True, slots=True)
class BacktestSettings:
    specs: tuple[str, ...]
    """The spec files: the first, then each `--compare`, in the order given."""
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    step: float = 15.0
    """Seconds between syncs; the HPA sync period by default."""
    output: Literal["json", "table"] = "table"
    plot: str | None = None
    """A PNG file to draw the report in."""
    records: str | None = None
    """Replay this directory of decision records instead of reading Prometheus; the
    fields below are then unused."""
    window: Window | None = None
    """Set exactly when `records` is not."""
    rules_file: str | None = None
    prometheus: BacktestPrometheus | None = None
    replicas: int | None = None
    """The replicas that ran, when no history holds them (`--replicas N`)."""
    pod_requests: Mapping[str, Mapping[str, Quantity]] = field(default_factory=dict)
    """Per container (MAIN_CONTAINER unless named): the simulated pods' requests,
    which Utilization targets divide by and history does not hold."""
