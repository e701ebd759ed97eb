"""`hpa backtest`'s flags become BacktestSettings in one place, with the flag named in
every complaint.

The flags are defined in `adapter.cli`; `adapter.settings.fromflags.backtest_settings`
converts and cross-checks them; `adapter.backtest` gets settings and never argparse.
A bad flag is one line on stderr and exit 2 (contracts/hpa-backtest.md), before any
file is read or Prometheus is asked.
"""

from __future__ import annotations

import ast
import io
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from adapter import cli
from adapter.settings import BacktestPrometheus, BacktestSettings
from adapter.settings.fromflags import FlagError, backtest_settings

NOW = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
BASE = ["hpa.yaml", "--prometheus-url", "http://127.0.0.1:9", "--config", "rules.yaml"]


def _settings(*argv: str) -> BacktestSettings:
    args = cli.build_parser().parse_args(["hpa", "backtest", *argv])
    return backtest_settings(args, now=NOW)


def test_flags_become_settings() -> None:
    settings = _settings(
        *BASE,
        "--compare", "slow.yaml",
        "--from", "7d", "--to", "0s", "--step", "30s",
        "--replicas", "3",
        "--pod-requests", "cpu=500m",
        "--pod-requests", "sidecar/memory=64Mi",
        "--prometheus-header", "X-Scope-OrgID=team-a",
        "--prometheus-timeout", "5s",
        "--horizontal-pod-autoscaler-tolerance", "0.2",
        "-o", "json",
    )  # fmt: skip
    assert settings.specs == ("hpa.yaml", "slow.yaml")
    window = settings.window
    assert window is not None
    assert (window.start, window.end, window.step) == (NOW - timedelta(days=7), NOW, 30.0)
    assert settings.step == 30.0 and settings.output == "json"
    assert settings.replicas == 3 and settings.rules_file == "rules.yaml"
    requests = settings.pod_requests
    assert requests["app"]["cpu"].value == Fraction(1, 2)
    assert str(requests["sidecar"]["memory"]) == "64Mi"
    assert settings.prometheus == BacktestPrometheus(
        url="http://127.0.0.1:9", headers=(("X-Scope-OrgID", "team-a"),), timeout=5.0
    )
    assert settings.controller.tolerance == 0.2


def test_records_need_no_window_and_no_prometheus() -> None:
    settings = _settings("hpa.yaml", "--records", "dir", "--step", "1m")
    assert settings.records == "dir" and settings.step == 60.0
    assert settings.window is None and settings.prometheus is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["hpa.yaml", "--from", "1h", "--to", "0s"], "--prometheus-url and --config are required"),
        (BASE, "--from and --to are required"),
        ([*BASE, "--from", "1h", "--to", "yesterday"], "--to 'yesterday'"),
        ([*BASE, "--from", "0s", "--to", "1h"], "is not before --to"),
        ([*BASE, "--from", "1h", "--to", "0s", "--step", "1.5s"], "--step '1.5s'"),
        ([*BASE, "--from", "400d", "--to", "0s", "--step", "1s"], "at most 1000000"),
        ([*BASE, "--from", "1h", "--to", "0s", "--replicas", "-1"], "--replicas -1"),
        ([*BASE, "--from", "1h", "--to", "0s", "--pod-requests", "cpu"], "--pod-requests 'cpu'"),
        ([*BASE, "--from", "1h", "--to", "0s", "--pod-requests", "cpu=lots"], "--pod-requests"),
        ([*BASE, "--from", "1h", "--to", "0s", "--prometheus-header", "X"], "--prometheus-header"),
        (["hpa.yaml", "--records", "d", "--feature-gates", "Nope=true"], "--feature-gates"),
        (["hpa.yaml", "--records", "d", "--step", "0s"], "--step '0s'"),
    ],
)
def test_bad_flags_name_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError, match=message.replace("(", r"\(")):
        _settings(*argv)


def test_a_bad_flag_is_one_line_and_exit_2_before_any_file_is_read(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    missing = str(tmp_path / "no-such-spec.yaml")
    args = cli.build_parser().parse_args(
        ["hpa", "backtest", missing, "--records", "d", "--step", "soon"]
    )
    assert cli.backtest(args, out, err) == 2
    assert out.getvalue() == ""
    assert err.getvalue().startswith("hpa backtest: --step 'soon'")
    assert err.getvalue().count("\n") == 1 and "no-such-spec" not in err.getvalue()


def test_the_backtest_package_never_sees_argparse() -> None:
    """The project rule: commands below the CLI get settings values, not the namespace."""
    package = Path(__file__).resolve().parents[2] / "adapter" / "backtest"
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            ) + ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert "argparse" not in names, f"{path.name} imports argparse"
