"""`CallOutcomes`: when "every call to Prometheus failed for a while" holds, on an injected
clock. Readiness (`/readyz`'s `prometheus` check) is exactly `outage(threshold)`."""

from __future__ import annotations

from adapter.prometheus.errors import (
    PrometheusQueryError,
    PrometheusServerError,
    PrometheusUnreachable,
)
from adapter.prometheus.outcomes import CallOutcomes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


DOWN = PrometheusUnreachable("/api/v1/query: cannot reach Prometheus at 127.0.0.1:9: refused")


def test_failures_spanning_the_threshold_are_an_outage_and_one_success_ends_it() -> None:
    clock = Clock()
    outcomes = CallOutcomes(clock=clock)
    outcomes.succeeded()
    for _ in range(4):
        clock.now += 10
        outcomes.failed(DOWN)
    assert outcomes.failing_for() == 30
    assert outcomes.outage(31) is None
    reason = outcomes.outage(30)
    assert reason is not None
    assert "failed for 30s (4 calls)" in reason and "cannot reach Prometheus" in reason
    clock.now += 1
    outcomes.succeeded()
    assert outcomes.outage(0) is None and outcomes.failing_for() == 0


def test_one_failure_then_silence_is_not_an_outage() -> None:
    # Evidence is measured between failures, not up to now: one failed call and nothing
    # after it says nothing about the last five minutes.
    clock = Clock()
    outcomes = CallOutcomes(clock=clock)
    outcomes.failed(DOWN)
    clock.now += 3600
    assert outcomes.outage(1) is None


def test_query_errors_mean_prometheus_answered() -> None:
    # A rule's bad PromQL (400 bad_data) must not take every replica out of the Service.
    clock = Clock()
    outcomes = CallOutcomes(clock=clock)
    outcomes.failed(PrometheusServerError("/api/v1/query: 503", status=503))
    clock.now += 60
    outcomes.failed(PrometheusQueryError("bad_data", status=400))
    clock.now += 60
    outcomes.failed(PrometheusServerError("/api/v1/query: 503", status=503))
    assert outcomes.outage(1) is None
    assert outcomes.failures == 1
