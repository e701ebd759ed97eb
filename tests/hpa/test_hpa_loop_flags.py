"""The loop's flags: kube-controller-manager's names and defaults, refused combinations.

Defaults pinned from kube-controller-manager (cmd/kube-controller-manager options,
HPAControllerConfiguration defaults and component-base leader election): sync period
15s, 5 concurrent syncs, tolerance 0.1, CPU initialization period 5m, initial readiness
delay 30s, downscale stabilization 5m; lease 15s, renew deadline 10s, retry 2s,
leader election on. Leader election settings are checked as client-go's
NewLeaderElector checks them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapter import cli
from adapter.settings import fromflags
from adapter.settings.hpa import HPASettings, Mode


def parse(*argv: str) -> HPASettings:
    args = cli.build_parser().parse_args(["hpa", "run", *argv])
    return fromflags.hpa_settings(args)


def test_defaults_are_kube_controller_manager_s() -> None:
    settings = parse()
    assert (settings.sync_period, settings.workers, settings.mode) == (15.0, 5, Mode.ACTIVE)
    config = settings.controller
    assert config.tolerance == 0.1
    assert config.cpu_initialization_period == timedelta(minutes=5)
    assert config.initial_readiness_delay == timedelta(seconds=30)
    assert config.downscale_stabilization_window == timedelta(minutes=5)
    election = settings.leader_election
    assert election.enabled
    assert (election.lease_duration, election.renew_deadline, election.retry_period) == (
        15.0,
        10.0,
        2.0,
    )
    assert election.resource_name != "kube-controller-manager"
    assert settings.records.directory is None


def test_kube_controller_manager_spellings_are_accepted() -> None:
    settings = parse(
        "--horizontal-pod-autoscaler-sync-period=30s",
        "--concurrent-horizontal-pod-autoscaler-syncs=20",
        "--horizontal-pod-autoscaler-tolerance=0.05",
        "--horizontal-pod-autoscaler-downscale-stabilization=1m30s",
        "--feature-gates=HPAScaleToZero=true,HPAConfigurableTolerance=false",
        "--hpa-mode=shadow",
        "--hpa-selector=autoscaler=ours",
        "--hpa-record-dir=/tmp/records",
        "--hpa-record-all",
        "--hpa-record-max-bytes=64Mi",
        "--leader-elect=false",
    )
    assert (settings.sync_period, settings.workers) == (30.0, 20)
    assert settings.controller.tolerance == 0.05
    assert settings.controller.downscale_stabilization_window == timedelta(seconds=90)
    gates = settings.controller.feature_gates
    assert (gates.hpa_scale_to_zero, gates.hpa_configurable_tolerance) == (True, False)
    assert (settings.mode, settings.selector) == (Mode.SHADOW, "autoscaler=ours")
    assert settings.records.record_all and settings.records.max_bytes == 64 * 1024 * 1024
    assert not settings.leader_election.enabled


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hpa-selector=a in ("], "--hpa-selector"),
        (["--hpa-workers=0"], "--hpa-workers"),
        (["--hpa-sync-period=0s"], "--hpa-sync-period"),
        (["--horizontal-pod-autoscaler-tolerance=-1"], "tolerance"),
        (["--feature-gates=Bogus=true"], "unrecognized feature gate"),
        (["--leader-elect-lease-duration=5s"], "lease-duration must be greater"),
        (["--leader-elect-retry-period=9s"], "renew-deadline must be greater"),
    ],
)
def test_values_the_loop_cannot_run_with_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(fromflags.FlagError, match=message):
        parse(*argv)


def test_hpa_run_exits_2_on_a_bad_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["hpa", "run", "--hpa-selector", "a in ("]) == 2
    assert "--hpa-selector" in capsys.readouterr().err


def test_serve_takes_the_loop_flags_behind_hpa() -> None:
    args = cli.build_parser().parse_args(
        ["serve", "--prometheus-url=http://p", "--config=c.yaml", "--hpa", "--hpa-workers=3"]
    )
    assert args.hpa and fromflags.hpa_settings(args).workers == 3
    args = cli.build_parser().parse_args(["serve", "--prometheus-url=http://p", "--config=c"])
    assert not args.hpa
