"""The HPA loop's command-line flags, and turning them into `HPASettings`.

Owns the flags `hpa run` and `serve --hpa` share, named as kube-controller-manager
names them where it has them (`--horizontal-pod-autoscaler-tolerance`,
`--leader-elect-lease-duration`, ...; `--hpa-sync-period` and `--hpa-workers` also
answer to KCM's `--horizontal-pod-autoscaler-sync-period` and
`--concurrent-horizontal-pod-autoscaler-syncs`), so settings carry over from a
kube-controller-manager manifest. Durations take Go's syntax (`1m30s`). Invalid
combinations are refused before anything starts (`FlagError`, exit status 2).
Registering the subcommands is `adapter.cli`'s.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from adapter.hpa.settings import HPASettings, LeaderElectionSettings, Mode, RecordSettings
from adapter.hpa.sync import ControllerConfig, FeatureGates
from adapter.k8s import timefmt
from adapter.k8s.quantity import Quantity, QuantityError
from adapter.k8s.selectors import LabelSelector, SelectorError

__all__ = ["FlagError", "add_loop_flags", "settings_from_args"]

_GATES = {
    "HPAConfigurableTolerance": "hpa_configurable_tolerance",
    "HPAScaleToZero": "hpa_scale_to_zero",
    "PodLevelResources": "pod_level_resources",
}


class FlagError(ValueError):
    """A flag value the loop cannot run with; the message names the flag."""


def _duration(text: str) -> float:
    try:
        return timefmt.parse_go_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: {err}") from err


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "t", "true", "yes"):
        return True
    if lowered in ("0", "f", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def _bytes(text: str) -> int:
    """A byte count, plain or as a quantity (`512Mi`, `1G`)."""
    try:
        value = Quantity.parse(text).value
    except QuantityError as err:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: {err}") from err
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: must not be negative")
    return int(value)


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
        type=_duration,
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
        type=_bytes,
        default=RecordSettings().max_bytes,
        metavar="SIZE",
        help="keep the record directory under this size, deleting the oldest (default 256Mi)",
    )
    group.add_argument(
        "--horizontal-pod-autoscaler-tolerance",
        type=float,
        default=0.1,
        help="minimum change (from 1.0) in the desired-to-actual metrics ratio for the "
        "HPA to consider scaling (default 0.1)",
    )
    group.add_argument(
        "--horizontal-pod-autoscaler-cpu-initialization-period",
        type=_duration,
        default=300.0,
        metavar="DURATION",
        help="period after pod start when CPU samples might be skipped (default 5m)",
    )
    group.add_argument(
        "--horizontal-pod-autoscaler-initial-readiness-delay",
        type=_duration,
        default=30.0,
        metavar="DURATION",
        help="period after pod start during which readiness changes count as initial "
        "readiness (default 30s)",
    )
    group.add_argument(
        "--horizontal-pod-autoscaler-downscale-stabilization",
        type=_duration,
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
    election = parser.add_argument_group("leader election")
    election.add_argument("--leader-elect", type=_bool, default=True, metavar="BOOL")
    election.add_argument(
        "--leader-elect-lease-duration", type=_duration, default=15.0, metavar="DURATION"
    )
    election.add_argument(
        "--leader-elect-renew-deadline", type=_duration, default=10.0, metavar="DURATION"
    )
    election.add_argument(
        "--leader-elect-retry-period", type=_duration, default=2.0, metavar="DURATION"
    )
    election.add_argument(
        "--leader-elect-resource-name", default=LeaderElectionSettings().resource_name
    )
    election.add_argument(
        "--leader-elect-resource-namespace", default=LeaderElectionSettings().resource_namespace
    )


def _feature_gates(text: str) -> FeatureGates:
    values: dict[str, bool] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, separator, raw = item.partition("=")
        if not separator or name not in _GATES:
            known = ", ".join(sorted(_GATES))
            raise FlagError(f"--feature-gates: unrecognized feature gate {item!r} (known: {known})")
        try:
            values[_GATES[name]] = _bool(raw)
        except argparse.ArgumentTypeError as err:
            raise FlagError(f"--feature-gates: {name}: {err}") from err
    return FeatureGates(**values)


def settings_from_args(args: argparse.Namespace) -> HPASettings:
    """The flags as settings; FlagError for values the loop cannot run with."""
    if args.hpa_sync_period <= 0:
        raise FlagError("--hpa-sync-period: must be positive")
    if args.hpa_workers < 1:
        raise FlagError("--hpa-workers: must be at least 1")
    try:
        LabelSelector.parse(args.hpa_selector)
    except SelectorError as err:
        raise FlagError(f"--hpa-selector: {err}") from err
    if args.horizontal_pod_autoscaler_tolerance < 0:
        raise FlagError("--horizontal-pod-autoscaler-tolerance: must not be negative")
    election = LeaderElectionSettings(
        enabled=args.leader_elect,
        lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline,
        retry_period=args.leader_elect_retry_period,
        resource_name=args.leader_elect_resource_name,
        resource_namespace=args.leader_elect_resource_namespace,
    )
    if election.enabled:
        if election.lease_duration <= election.renew_deadline:
            raise FlagError(
                "--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline"
            )
        if election.renew_deadline <= 1.2 * election.retry_period:
            raise FlagError(
                "--leader-elect-renew-deadline must be greater than "
                "1.2 x --leader-elect-retry-period"
            )
        if election.retry_period <= 0:
            raise FlagError("--leader-elect-retry-period must be greater than zero")
    return HPASettings(
        sync_period=args.hpa_sync_period,
        workers=args.hpa_workers,
        mode=Mode(args.hpa_mode),
        selector=args.hpa_selector,
        controller=ControllerConfig(
            tolerance=args.horizontal_pod_autoscaler_tolerance,
            cpu_initialization_period=timedelta(
                seconds=args.horizontal_pod_autoscaler_cpu_initialization_period
            ),
            initial_readiness_delay=timedelta(
                seconds=args.horizontal_pod_autoscaler_initial_readiness_delay
            ),
            downscale_stabilization_window=timedelta(
                seconds=args.horizontal_pod_autoscaler_downscale_stabilization
            ),
            feature_gates=_feature_gates(args.feature_gates),
        ),
        leader_election=election,
        records=RecordSettings(
            directory=args.hpa_record_dir,
            record_all=args.hpa_record_all,
            max_bytes=args.hpa_record_max_bytes,
        ),
    )
