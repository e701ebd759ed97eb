"""The HPA loop's flags, shared by `hpa run` and `serve --hpa`.

Named as kube-controller-manager names them where it has them
(`--horizontal-pod-autoscaler-tolerance`, `--leader-elect-lease-duration`, ...;
`--hpa-sync-period` and `--hpa-workers` also answer to KCM's
`--horizontal-pod-autoscaler-sync-period` and `--concurrent-horizontal-pod-autoscaler-syncs`),
so settings carry over from a kube-controller-manager manifest. Turning them into
`HPASettings` is `adapter.settings.fromflags.hpa_settings`.
"""

from __future__ import annotations

import argparse

from adapter.cli import argtypes
from adapter.settings import LeaderElectionSettings, Mode, RecordSettings

__all__ = ["add_controller_flags", "add_loop_flags"]


def add_loop_flags(parser: argparse.ArgumentParser, *, embedded: bool) -> None:
    """The loop's flags; `embedded` (serve) adds `--hpa` to switch the loop on."""
    group = parser.add_argument_group("HPA loop" + (" (with --hpa)" if embedded else ""))
    if embedded:
        group.add_argument(
            "--hpa",
            action="store_true",
            help="run the HPA loop in this process, reading metrics from its own providers",
        )
    group.add_argument(
        "--hpa-sync-period",
        "--horizontal-pod-autoscaler-sync-period",
        dest="hpa_sync_period",
        type=argtypes.duration,
        default=15.0,
        metavar="DURATION",
        help="how often each HPA is synced (default 15s)",
    )
    group.add_argument(
        "--hpa-workers",
        "--concurrent-horizontal-pod-autoscaler-syncs",
        dest="hpa_workers",
        type=int,
        default=5,
        help="HPAs synced at once (default 5)",
    )
    group.add_argument(
        "--hpa-mode",
        choices=[mode.value for mode in Mode],
        default=Mode.ACTIVE.value,
        help="active: scale and write status and events; shadow: decide, record and "
        "export only (default active)",
    )
    group.add_argument(
        "--hpa-selector",
        default="",
        metavar="SELECTOR",
        help="label selector on the HPA objects this loop manages (default: all)",
    )
    group.add_argument(
        "--hpa-record-dir",
        default=None,
        metavar="DIR",
        help="write a replayable snapshot of every sync that scaled or failed here",
    )
    group.add_argument(
        "--hpa-record-all",
        action="store_true",
        help="record every sync, not only those that scaled or failed",
    )
    group.add_argument(
        "--hpa-record-max-bytes",
        type=argtypes.size,
        default=RecordSettings().max_bytes,
        metavar="SIZE",
        help="keep the record directory under this size, deleting the oldest (default 256Mi)",
    )
    add_controller_flags(group)
    election = parser.add_argument_group("leader election")
    election.add_argument("--leader-elect", type=argtypes.boolean, default=True, metavar="BOOL")
    election.add_argument(
        "--leader-elect-lease-duration", type=argtypes.duration, default=15.0, metavar="DURATION"
    )
    election.add_argument(
        "--leader-elect-renew-deadline", type=argtypes.duration, default=10.0, metavar="DURATION"
    )
    election.add_argument(
        "--leader-elect-retry-period", type=argtypes.duration, default=2.0, metavar="DURATION"
    )
    election.add_argument(
        "--leader-elect-resource-name", default=LeaderElectionSettings().resource_name
    )
    election.add_argument(
        "--leader-elect-resource-namespace", default=LeaderElectionSettings().resource_namespace
    )


def add_controller_flags(group: argparse._ArgumentGroup) -> None:
    """kube-controller-manager's algorithm flags and the feature gates (`ControllerConfig`,
    made by `fromflags.controller_config`); the loop and `hpa backtest` share them."""
    group.add_argument(
        "--horizontal-pod-autoscaler-tolerance",
        type=float,
        default=0.1,
        help="minimum change (from 1.0) in the desired-to-actual metrics ratio for the "
        "HPA to consider scaling (default 0.1)",
    )
    group.add_argument(
        "--horizontal-pod-autoscaler-cpu-initialization-period",
        type=argtypes.duration,
        default=300.0,
        metavar="DURATION",
        help="period after pod start when CPU samples might be skipped (default 5m)",
    )
    group.add_argument(
        "--horizontal-pod-autoscaler-initial-readiness-delay",
        type=argtypes.duration,
        default=30.0,
        metavar="DURATION",
        help="period after pod start during which readiness changes count as initial "
        "readiness (default 30s)",
    )
    group.add_argument(
        "--horizontal-pod-autoscaler-downscale-stabilization",
        type=argtypes.duration,
        default=300.0,
        metavar="DURATION",
        help="period for which autoscaler looks backwards and does not scale down below "
        "any recommendation it made during that period (default 5m)",
    )
    group.add_argument(
        "--feature-gates",
        default="",
        metavar="NAME=BOOL,...",
        help="HPAConfigurableTolerance (default true), HPAScaleToZero (default false), "
        "PodLevelResources (default true)",
    )
