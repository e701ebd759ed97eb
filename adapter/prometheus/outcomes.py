"""Whether Prometheus has been answering: the outcome of every call the client made.

Owns the record `/readyz` reads to say "not ready while Prometheus has failed every call
for a while". The client (`adapter.prometheus.client`) records each call once, after it
finished; what "a while" is and how readiness shows it is the caller's business
(`adapter.serving` picks the threshold, `adapter.server.health` prints the check).

A call that got a Prometheus answer counts as a success even when the answer is an
error about the query (`PrometheusQueryError`: 400 `bad_data`, 422 `execution`): the
backend is up, one rule is wrong, and taking every replica out of the Service for that
would hide the good metrics too. No answer, a timeout, a 5xx and an answer that is not
the Prometheus API count as failures.

The outage is measured between failures (first failure after the last success up to
the latest failure), not up to now: one failed call followed by silence is not evidence
of a long outage, and it takes only one success to end it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from adapter.prometheus.errors import PrometheusError, PrometheusQueryError

__all__ = ["CallOutcomes"]


@dataclass(slots=True)
class CallOutcomes:
    """Mutable: the client's running record of successes and failures."""

    clock: Callable[[], float] = field(default=time.monotonic)
    last_success: float | None = None
    failing_since: float | None = None
    """When the first failure after the last success happened; None while succeeding."""
    last_failure: float | None = None
    last_error: str = ""
    failures: int = 0
    """Failures in the current run of failures."""

    def succeeded(self) -> None:
        self.last_success = self.clock()
        self.failing_since = None
        self.failures = 0

    def failed(self, error: PrometheusError) -> None:
        if isinstance(error, PrometheusQueryError):
            self.succeeded()  # Prometheus answered: the query was wrong, not the backend
            return
        now = self.clock()
        if self.failing_since is None:
            self.failing_since = now
        self.last_failure = now
        self.last_error = error.message
        self.failures += 1

    def failing_for(self) -> float:
        """Seconds from the first to the latest failure of the current run (0 if none)."""
        if self.failing_since is None or self.last_failure is None:
            return 0.0
        return self.last_failure - self.failing_since

    def outage(self, threshold: float) -> str | None:
        """A reason when every call has failed for at least `threshold` seconds."""
        span = self.failing_for()
        if self.failing_since is None or self.failures < 2 or span < threshold:
            return None
        return (
            f"every call to Prometheus failed for {span:.0f}s ({self.failures} calls); "
            f"the last: {self.last_error}"
        )
