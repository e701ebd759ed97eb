"""The backtest's window: where it starts and ends, and the instants it syncs at.

Owns reading `--from`/`--to` (RFC 3339, or a Prometheus duration before now: `7d`,
`90m`) and `--step`, and the grid of sync times `start, start + step, ... <= end`: the
same instants a Prometheus range query with that start and step evaluates at, so a
sample read from the range answer lands on exactly one sync. Pure; the clock is passed
in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapter.k8s import timefmt

__all__ = ["MAX_STEPS", "Window", "WindowError", "parse_window"]

MAX_STEPS = 1_000_000
"""More syncs than this (a year at 30 s) is almost surely a mistyped flag."""


class WindowError(ValueError):
    """A window that cannot be replayed; the message names the flag."""


@dataclass(frozen=True, slots=True)
class Window:
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


def _moment(text: str, flag: str, now: datetime) -> datetime:
    try:
        return timefmt.parse_time(text)
    except ValueError:
        pass
    try:
        seconds = timefmt.parse_prometheus_duration(text)
    except ValueError as err:
        raise WindowError(
            f"{flag} {text!r}: neither an RFC 3339 time nor a duration before now ({err})"
        ) from err
    return now - timedelta(seconds=seconds)


def parse_window(start: str, end: str, step: str, *, now: datetime | None = None) -> Window:
    """The window the flags say; times are cut to whole seconds."""
    clock = (now or datetime.now(UTC)).replace(microsecond=0)
    begin = _moment(start, "--from", clock).replace(microsecond=0)
    finish = _moment(end, "--to", clock).replace(microsecond=0)
    try:
        seconds = timefmt.parse_go_duration(step)
    except ValueError:
        try:
            seconds = timefmt.parse_prometheus_duration(step)
        except ValueError as err:
            raise WindowError(f"--step {step!r}: not a duration ({err})") from err
    if seconds < 1 or not math.isclose(seconds, round(seconds)):
        raise WindowError(f"--step {step!r}: must be a whole number of seconds, at least 1s")
    if finish <= begin:
        raise WindowError(
            f"--from {timefmt.format_time(begin)} is not before --to {timefmt.format_time(finish)}"
        )
    window = Window(begin, finish, float(round(seconds)))
    if window.count > MAX_STEPS:
        raise WindowError(
            f"the window holds {window.count} steps of {step}; at most {MAX_STEPS} are replayed"
        )
    return window
