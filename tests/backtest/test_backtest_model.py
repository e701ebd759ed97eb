"""The backtest's pure parts: the window, the load model, the replay loop, the figures.

No server: history is built by hand, so each case says exactly what ran. The sync is
the real one (adapter.hpa.sync); what is pinned here is what the backtest feeds it and
keeps between steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.backtest import loadmodel, report, simulation
from adapter.backtest.history import History, MetricHistory
from adapter.backtest.specs import BacktestSpec, SpecError, load_spec, metric_reads
from adapter.settings import FeatureGates, Window
from adapter.settings.fromflags import FlagError, backtest_window

NOW = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)

SPEC = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 20
  metrics:
  - type: Pods
    pods:
      metric: {name: rps}
      target: {type: AverageValue, averageValue: "10"}
"""


# -- the window -------------------------------------------------------------------------


def test_window_takes_rfc3339_and_durations_before_now() -> None:
    window = backtest_window("7d", "0s", "15s", now=NOW)
    assert window.start == NOW - timedelta(days=7) and window.end == NOW
    assert window.count == 40_321
    window = backtest_window("2026-03-02T10:00:00Z", "2026-03-02T12:00:00+01:00", "1m", now=NOW)
    assert window.end == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert window.count == 61


@pytest.mark.parametrize(
    ("start", "end", "step", "flag"),
    [
        ("yesterday", "0s", "15s", "--from"),
        ("1h", "2h", "15s", "--from"),
        ("1h", "0s", "1.5s", "--step"),
        ("1h", "0s", "soon", "--step"),
        ("1h", "0s", "500ms", "--step"),
    ],
)
def test_window_errors_name_the_flag(start: str, end: str, step: str, flag: str) -> None:
    with pytest.raises(FlagError, match=flag):
        backtest_window(start, end, step, now=NOW)


@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=12))
def test_window_flags_never_fail_other_than_window_error(start: str, end: str, step: str) -> None:
    """The flags come from the user: any text is a window or a FlagError (exit 2)."""
    with contextlib.suppress(FlagError):
        backtest_window(start, end, step, now=NOW)


def test_window_index_puts_range_samples_on_their_step() -> None:
    window = Window(NOW, NOW + timedelta(minutes=1), 15.0)
    assert window.index(NOW.timestamp() + 30) == 2
    assert window.index(NOW.timestamp() + 31) is None
    assert window.index(NOW.timestamp() + 75) is None


# -- the load model ---------------------------------------------------------------------


def test_redistribution_keeps_the_total_and_never_invents_a_zero() -> None:
    assert loadmodel.redistribute(12.0, 4, 6) == pytest.approx(8.0)
    assert loadmodel.redistribute(12.0, None, 6) is None
    assert loadmodel.redistribute(12.0, 0, 6) is None
    assert loadmodel.redistribute(12.0, 4, 0) is None


def test_served_values_follow_the_adapter() -> None:
    assert str(loadmodel.served_custom(0.016)) == "16m"
    assert loadmodel.served_custom(float("nan")) is None  # no value, never 0
    assert loadmodel.served_custom(float("inf")) is None
    assert loadmodel.served_custom(9e18) is None  # beyond int64 milli-units
    assert loadmodel.served_resource("cpu", float("nan")) is None
    assert str(loadmodel.served_resource("cpu", 0.25)) == "250m"
    assert loadmodel.served_resource("memory", float("inf")) is None
    assert loadmodel.served_resource("cpu", 1e300) is None  # nanocores beyond int64
    assert loadmodel.served_resource("memory", 2.0**63) is None


@given(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["cpu", "memory"]))
def test_reading_converts_samples_as_the_served_quantities(value: float, resource: str) -> None:
    """Reading history keeps floats, not quantities: each must be exactly the served
    quantity's value (and None exactly where the adapter serves none), or a replay
    would decide on numbers the live HPA was never shown."""
    custom = loadmodel.served_custom(value)
    assert loadmodel.served_custom_float(value) == (None if custom is None else custom.as_float())
    usage = loadmodel.served_resource(resource, value)
    assert loadmodel.served_resource_float(resource, value) == (
        None if usage is None else usage.as_float()
    )


def test_new_pods_are_unready_for_the_readiness_delay_and_newest_go_first() -> None:
    pods = loadmodel.PodSet("shop", {"app": "x"}, (), timedelta(seconds=30))
    pods.seed(2, NOW)
    assert all(p.is_ready() for p in pods.pods)
    pods.resize(4, NOW)
    assert [p.is_ready() for p in pods.pods] == [True, True, False, False]
    pods.advance(NOW + timedelta(seconds=15))
    assert [p.is_ready() for p in pods.pods] == [True, True, False, False]
    pods.advance(NOW + timedelta(seconds=45))
    assert all(p.is_ready() for p in pods.pods)
    ready = pods.pods[3].ready
    assert ready is not None and ready.last_transition_time == NOW + timedelta(seconds=30)
    names = [p.name for p in pods.pods]
    pods.resize(3, NOW + timedelta(minutes=1))
    assert [p.name for p in pods.pods] == names[:3]


# -- the replay -------------------------------------------------------------------------


def load_spec_text(tmp_path: Path, text: str) -> BacktestSpec:
    path = tmp_path / "hpa.yaml"
    path.write_text(text)
    return load_spec(str(path), FeatureGates())


def _history(
    tmp_path: Path, per_pod: Sequence[float | None], actual: int = 4
) -> tuple[BacktestSpec, History]:
    spec = load_spec_text(tmp_path, SPEC)
    window = Window(NOW, NOW + timedelta(seconds=15 * (len(per_pod) - 1)), 15.0)
    (read,) = metric_reads([spec])
    metric = MetricHistory(read, "q", per_pod=list(per_pod), values=[None] * len(per_pod))
    return spec, History(window, [actual] * len(per_pod), "test", {read: metric})


def test_load_spread_over_more_pods_settles_the_replica_count(tmp_path: Path) -> None:
    """4 pods at 20 rps each (target 10) scale to 8; at 8 the same total is 10 per pod."""
    spec, history = _history(tmp_path, [20.0] * 20)
    run = simulation.simulate(spec, history, simulation.Settings())
    assert run.simulated[0] == 8 and run.simulated[-1] == 8
    assert len(run.events) == 1
    assert run.metrics[-1][0].value == "10"


def test_scale_down_waits_for_the_stabilization_window(tmp_path: Path) -> None:
    """Load halves at step 0: the 5-minute window (the controller's memory, carried
    between syncs) holds the count until recommendations older than 300 s fall out."""
    spec, history = _history(tmp_path, [10.0] * 30 + [2.5] * 40)
    run = simulation.simulate(spec, history, simulation.Settings())
    assert run.simulated[29] == 4
    drop = next(i for i, r in enumerate(run.simulated) if r < 4)
    assert (drop - 30) * 15 >= 285
    assert run.simulated[-1] == 1


def test_a_gap_holds_the_replicas_and_is_listed(tmp_path: Path) -> None:
    spec, history = _history(tmp_path, [10.0] * 5 + [None] * 30 + [10.0] * 5)
    run = simulation.simulate(spec, history, simulation.Settings())
    assert set(run.simulated) == {4}
    assert len(run.gaps) == 1
    gap = run.gaps[0]
    assert (gap.start, gap.end, gap.metric) == (
        NOW + timedelta(seconds=75),
        NOW + timedelta(seconds=15 * 34),
        "rps",
    )
    assert all(points[0].value is None for points in run.metrics[5:35])


TWO_METRICS = (
    SPEC
    + """\
  - type: Pods
    pods:
      metric: {name: queue_wait}
      target: {type: AverageValue, averageValue: "1"}
"""
)


def _two_metric_history(
    tmp_path: Path, rps: Sequence[float | None], wait: Sequence[float | None]
) -> tuple[BacktestSpec, History]:
    spec = load_spec_text(tmp_path, TWO_METRICS)
    window = Window(NOW, NOW + timedelta(seconds=15 * (len(rps) - 1)), 15.0)
    first, second = metric_reads([spec])
    histories = {
        read: MetricHistory(read, "q", per_pod=list(values), values=[None] * len(values))
        for read, values in ((first, rps), (second, wait))
    }
    return spec, History(window, [4] * len(rps), "test", histories)


def test_a_gap_in_one_metric_holds_even_when_another_rises(tmp_path: Path) -> None:
    """contracts/hpa-backtest.md: the simulation holds its replicas in a gap. Upstream's
    controller would scale up on the metric that still answers (a failed metric only
    blocks scale-down); the backtest holds instead of deciding on part of the picture."""
    rising = [0.5] * 5 + [3.0] * 30 + [0.5] * 5
    spec, history = _two_metric_history(tmp_path, [10.0] * 5 + [None] * 30 + [10.0] * 5, rising)
    run = simulation.simulate(spec, history, simulation.Settings())
    assert run.simulated[:35] == [4] * 35, "held through the whole gap"
    assert not run.events
    assert [gap.metric for gap in run.gaps] == ["rps"]
    inside = run.metrics[5:35]
    assert all(points[0].value is None for points in inside), "the gap is no value, not 0"
    assert all(points[1].value == "3" for points in inside), "the other metric is shown"
    assert report.figures(run, 15.0).over_target_seconds == 30 * 15.0, "and counted as risk"

    # The same rising load without the gap scales up at once: the hold is the gap's.
    spec, history = _two_metric_history(tmp_path, [10.0] * 40, rising)
    run = simulation.simulate(spec, history, simulation.Settings())
    assert run.simulated[5] > 4 and run.events[0].time == NOW + timedelta(seconds=75)


def test_a_gap_does_not_hold_the_fix_to_min_replicas(tmp_path: Path) -> None:
    """Below minReplicas the controller sets minReplicas without reading any metric,
    so a gap (which only withholds metrics) does not stop it."""
    _, history = _history(tmp_path, [None] * 5 + [10.0] * 5, actual=2)
    spec = load_spec_text(tmp_path, SPEC.replace("minReplicas: 1", "minReplicas: 3"))
    run = simulation.simulate(spec, history, simulation.Settings())
    assert run.simulated[0] == 3 and run.events[0].from_replicas == 2
    assert run.gaps and run.gaps[0].start == NOW


def test_figures(tmp_path: Path) -> None:
    spec, history = _history(tmp_path, [20.0] * 241)
    run = simulation.simulate(spec, history, simulation.Settings())
    figs = report.figures(run, 15.0)
    assert figs.scale_events == 1
    assert figs.replica_hours == pytest.approx(8 * 241 * 15 / 3600)
    assert figs.actual_replica_hours == pytest.approx(4 * 241 * 15 / 3600)
    assert figs.over_target_seconds == 15.0 and figs.peak_load_ratio == pytest.approx(2.0)


def test_invalid_manifests_name_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"hpa\.yaml: .*autoscaling/v2"):
        load_spec_text(tmp_path, SPEC.replace("autoscaling/v2", "autoscaling/v1"))
    with pytest.raises(SpecError, match=r"hpa\.spec\.maxReplicas"):
        load_spec_text(tmp_path, SPEC.replace("maxReplicas: 20", "maxReplicas: 0"))
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec_text(tmp_path, "a: [")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec_text(tmp_path, "\x1f" + SPEC)
    # The API server accepts any metric selector; the backtest cannot query a bad one.
    bad_selector = SPEC.replace(
        "metric: {name: rps}",
        "metric: {name: rps, selector: {matchExpressions: [{key: a, operator: Near}]}}",
    )
    with pytest.raises(SpecError, match=r"hpa\.spec\.metrics\[0\]\.pods\.metric\.selector"):
        load_spec_text(tmp_path, bad_selector)
