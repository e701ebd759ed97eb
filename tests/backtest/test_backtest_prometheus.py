"""`hpa backtest` against a real Prometheus holding generated history.

The history (backtest_history.py) has a load curve, a step, a spike, a gap and
kube-state-metrics' replica series. What these tests pin: every sync of the replay
decides what `hpa evaluate` decides on the same inputs written as a snapshot (so the
backtest is the loop's own decision code, carrying its memory from step to step); a
longer scale-down stabilization window (autoscaling/v2 `behavior.scaleDown`, see
https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window)
makes fewer scale events and more replica-hours; a gap is reported and holds the
replicas instead of reading as zero load; bad input exits 2 with one line, an
unreachable Prometheus exits 1.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from backtest_history import END, GAP, RULES, STEP, WINDOW, build
from prometheus_api_client import PrometheusConnect
from support.prometheus import PrometheusProcess, SeriesData, free_port

from adapter import cli
from adapter.backtest import reading, simulation
from adapter.backtest.specs import load_spec, metric_reads
from adapter.hpa import snapshot
from adapter.hpa.sync import SyncResult
from adapter.k8s.quantity import Quantity
from adapter.k8s.timefmt import format_time
from adapter.rules.config import load_config
from adapter.settings import ControllerConfig, FeatureGates, fromflags

SPEC = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 30
  metrics:
  - type: Pods
    pods:
      metric: {name: http_requests_per_second}
      target: {type: AverageValue, averageValue: "10"}
%s"""

THREE_METRICS = """\
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  - type: External
    external:
      metric: {name: queue_depth, selector: {matchLabels: {queue: orders}}}
      target: {type: AverageValue, averageValue: "5"}
"""

SLOW_DOWN = """\
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 1800
"""


@pytest.fixture(scope="module")
def history_prometheus(prometheus_factory: Callable[..., PrometheusProcess]) -> PrometheusProcess:
    data = SeriesData(history=0, horizon=0)
    build(data)
    return prometheus_factory(data)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    paths = {
        "rules": RULES,
        "web": SPEC % "",
        "slow": SPEC % SLOW_DOWN,
        "three": SPEC % THREE_METRICS,
    }
    result = {}
    for name, text in paths.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        result[name] = str(path)
    return result


def _times(prom: PrometheusProcess) -> tuple[str, str]:
    start = datetime.fromtimestamp(prom.now - WINDOW - END, UTC)
    end = datetime.fromtimestamp(prom.now - END, UTC)
    return format_time(start), format_time(end)


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = cli.build_parser().parse_args(["hpa", "backtest", *argv])
    status = cli.backtest(args, out, err)
    return status, out.getvalue(), err.getvalue()


def _window_args(prom: PrometheusProcess, files: dict[str, str]) -> list[str]:
    start, end = _times(prom)
    return ["--prometheus-url", prom.url, "--config", files["rules"], "--from", start, "--to", end]


def test_each_sync_decides_what_hpa_evaluate_decides(
    history_prometheus: PrometheusProcess, files: dict[str, str]
) -> None:
    start, end = _times(history_prometheus)
    window = fromflags.backtest_window(start, end, f"{STEP}s")
    spec = load_spec(files["three"], FeatureGates())
    reader = reading.Reader(
        PrometheusConnect(url=history_prometheus.url), load_config(files["rules"]), window
    )
    history = reader.history([spec], metric_reads([spec]), None)
    settings = simulation.Settings(
        config=ControllerConfig(), requests={"app": {"cpu": Quantity.parse("500m")}}
    )
    checked: list[int] = []

    def observe(inputs: simulation.StepInputs, result: SyncResult) -> None:
        # JSON round trip: the snapshot is exactly what a file would hold.
        document = json.loads(json.dumps(inputs.document()))
        replayed = snapshot.evaluate_document(document)
        assert replayed["desiredReplicas"] == result.desired_replicas, format_time(inputs.now)
        assert replayed["history"] == snapshot.render_memory(result.memory)
        assert replayed["status"] == result.status.to_wire(format_time)
        checked.append(result.desired_replicas)

    run = simulation.simulate(spec, history, settings, observe=observe)
    assert len(checked) == window.count == len(run.simulated)
    ups = [e for e in run.events if e.to_replicas > e.from_replicas]
    downs = [e for e in run.events if e.to_replicas < e.from_replicas]
    assert ups and downs, "the history should make the spec scale both ways"
    assert max(run.simulated) > 6, "the step and spike should scale beyond what ran"
    assert reader.stats.queries >= 5 and reader.stats.samples > 0


def test_longer_scale_down_window_scales_less_and_costs_more(
    history_prometheus: PrometheusProcess, files: dict[str, str]
) -> None:
    status, out, err = _cli(
        files["web"],
        "--compare",
        files["slow"],
        *_window_args(history_prometheus, files),
        "-o",
        "json",
    )
    assert status == 0, err
    report = json.loads(out)
    fast, slow = report["specs"]
    assert (fast["file"], slow["file"]) == (files["web"], files["slow"])
    assert report["window"]["step"] == "15s" and report["model"]
    assert len(fast["timeline"]) == len(slow["timeline"]) == WINDOW // STEP + 1
    assert 0 < slow["scaleEvents"] < fast["scaleEvents"]
    assert slow["replicaHours"] > fast["replicaHours"]
    entry = fast["timeline"][0]
    assert entry["actualReplicas"] == 4
    assert entry["metrics"][0]["name"] == "http_requests_per_second"
    assert entry["metrics"][0]["target"] == "10"
    assert fast["peakLoadRatio"] > 1.5 and fast["overTargetSeconds"] > 0
    event = fast["events"][0]
    assert set(event) >= {"time", "from", "to", "explanation"}
    assert event["explanation"]["metrics"][0]["name"]


def test_gap_is_reported_and_holds_replicas_never_zero_load(
    history_prometheus: PrometheusProcess, files: dict[str, str]
) -> None:
    status, out, err = _cli(files["web"], *_window_args(history_prometheus, files), "-o", "json")
    assert status == 0, err
    spec = json.loads(out)["specs"][0]
    gaps = [g for g in spec["gaps"] if g["metric"] == "http_requests_per_second"]
    assert len(gaps) == 1
    start = datetime.fromisoformat(gaps[0]["from"]).timestamp()
    end = datetime.fromisoformat(gaps[0]["to"]).timestamp()
    anchor = datetime.fromisoformat(spec["timeline"][0]["time"]).timestamp() + WINDOW + END
    # Prometheus' 5m lookback bridges the first five minutes of missing samples.
    assert start - anchor == pytest.approx(GAP[0] + 300, abs=STEP)
    assert end - anchor == pytest.approx(GAP[1] - STEP, abs=STEP)
    inside = [e for e in spec["timeline"] if gaps[0]["from"] <= e["time"] <= gaps[0]["to"]]
    assert inside and all(e["metrics"][0]["value"] is None for e in inside)
    assert len({e["simulatedReplicas"] for e in inside}) == 1, "replicas held through the gap"
    assert not any(gaps[0]["from"] <= e["time"] <= gaps[0]["to"] for e in spec["events"])


def test_table_and_plot(
    history_prometheus: PrometheusProcess, files: dict[str, str], tmp_path: Path
) -> None:
    plot = tmp_path / "backtest.png"
    status, out, err = _cli(
        files["web"], "--compare", files["slow"], *_window_args(history_prometheus, files),
        "-o", "table", "--plot", str(plot),
    )  # fmt: skip
    assert status == 0, err
    assert "replica-hours" in out and "scale events" in out and "model:" in out
    assert "kube_deployment_status_replicas" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_records_replay_reproduces_the_loop_and_applies_a_changed_spec(
    history_prometheus: PrometheusProcess, files: dict[str, str], tmp_path: Path
) -> None:
    """Records written for every sync of a run replay to the same decisions with the
    same spec, and to fewer rescales with a longer scale-down window."""
    start, end = _times(history_prometheus)
    window = fromflags.backtest_window(start, end, f"{STEP}s")
    spec = load_spec(files["web"], FeatureGates())
    reader = reading.Reader(
        PrometheusConnect(url=history_prometheus.url), load_config(files["rules"]), window
    )
    history = reader.history([spec], metric_reads([spec]), None)
    records = tmp_path / "records"
    records.mkdir()
    decided: list[int] = []

    def observe(inputs: simulation.StepInputs, result: SyncResult) -> None:
        document = inputs.document()
        stamp = inputs.now.strftime("%Y%m%dT%H%M%S")
        (records / f"{stamp}Z-shop-web.json").write_text(json.dumps(document))
        decided.append(result.desired_replicas)

    original = simulation.simulate(spec, history, simulation.Settings(), observe=observe)
    status, out, err = _cli(
        files["web"], "--compare", files["slow"], "--records", str(records), "-o", "json"
    )
    assert status == 0, err
    same, slow = json.loads(out)["specs"]
    assert [e["simulatedReplicas"] for e in same["timeline"]] == decided
    assert same["scaleEvents"] == len(original.events)
    assert slow["scaleEvents"] < same["scaleEvents"]


def _error(status: int, out: str, err: str) -> str:
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("hpa backtest: "), err
    assert "Traceback" not in err
    return err


def test_bad_input_is_one_line_and_exit_2(
    history_prometheus: PrometheusProcess, files: dict[str, str], tmp_path: Path
) -> None:
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text((SPEC % "").replace("maxReplicas: 30", "maxReplicas: 1"))
    status, out, err = _cli(str(invalid), *_window_args(history_prometheus, files))
    assert status == 2 and "maxReplicas" in _error(status, out, err) and str(invalid) in err

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text((SPEC % "").replace("http_requests_per_second", "no_such_metric"))
    status, out, err = _cli(str(unknown), *_window_args(history_prometheus, files))
    assert status == 2 and "no_such_metric" in _error(status, out, err)

    args = _window_args(history_prometheus, files)
    args[args.index("--from") + 1] = "2001-01-01T00:00:00Z"
    args[args.index("--to") + 1] = "2001-01-01T01:00:00Z"
    status, out, err = _cli(files["web"], *args)
    assert status == 2 and "no data in the window" in _error(status, out, err)

    status, out, err = _cli(files["three"], *_window_args(history_prometheus, files))
    assert status == 2 and "--pod-requests cpu=" in _error(status, out, err)

    status, out, err = _cli(
        files["web"], *_window_args(history_prometheus, files)[:-2], "--to", "yesterday"
    )
    assert status == 2 and "--to" in _error(status, out, err)


def test_unreachable_prometheus_exits_1(files: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status, out, err = _cli(
        files["web"],
        "--prometheus-url",
        url,
        "--config",
        files["rules"],
        "--from",
        "1h",
        "--to",
        "0s",
    )
    assert status == 1 and "unreachable" in _error(status, out, err)
