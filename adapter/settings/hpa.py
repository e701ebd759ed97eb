"""The HPA loop's settings, one frozen value per concern.

Owns what `hpa run` and `serve --hpa` are told on the command line, typed and with its
unit and default explained: the loop itself (sync period, workers, mode, which HPAs),
kube-controller-manager's algorithm flags and feature gates (`ControllerConfig`, which
the pure sync in `adapter.hpa.sync` takes), leader election and decision records. Each
value checks itself once, when made; turning flags into these is
`adapter.settings.fromflags`', using them is `adapter.hpa`'s.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import timedelta

from adapter.cluster import leaderelection
from adapter.settings.serving import ClusterSettings

__all__ = [
    "ControllerConfig",
    "FeatureGates",
    "HPARunSettings",
    "HPASettings",
    "LeaderElectionSettings",
    "Mode",
    "RecordSettings",
]


@dataclass(frozen=True, slots=True)
class FeatureGates:
    """The Kubernetes feature gates the HPA controller and API validation consult."""

    hpa_configurable_tolerance: bool = True
    """Per-HPA `behavior.*.tolerance` (KEP-4951); beta and on by default in v1.36."""
    hpa_scale_to_zero: bool = False
    """`minReplicas: 0` and the ScaledToZero condition (KEP-2021); alpha, off in v1.36."""
    pod_level_resources: bool = True
    """Pod-level `spec.resources.requests` count for utilization (KEP-2837); beta, on."""


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """kube-controller-manager's HPA flags; defaults are the flags' defaults."""

    tolerance: float = 0.1
    """--horizontal-pod-autoscaler-tolerance: ratio band around 1.0 that causes no scaling."""
    cpu_initialization_period: timedelta = timedelta(minutes=5)
    """--horizontal-pod-autoscaler-cpu-initialization-period: CPU samples of a pod this
    young are trusted only once a full metric window followed its readiness."""
    initial_readiness_delay: timedelta = timedelta(seconds=30)
    """--horizontal-pod-autoscaler-initial-readiness-delay: an unready pod whose readiness
    last changed within this long of its start counts as never having been ready."""
    downscale_stabilization_window: timedelta = timedelta(minutes=5)
    """--horizontal-pod-autoscaler-downscale-stabilization: how far back the highest
    recommendation holds a scale-down."""
    feature_gates: FeatureGates = field(default_factory=FeatureGates)


class Mode(enum.StrEnum):
    ACTIVE = "active"
    """Write what is decided: the target's /scale, the HPA's status, Events."""
    SHADOW = "shadow"
    """Decide, record and export, write nothing: safe beside the in-tree controller."""


@dataclass(frozen=True, slots=True)
class LeaderElectionSettings:
    enabled: bool = True
    """`--leader-elect`: on, as in kube-controller-manager, since two active loops on
    one HPA would fight over it."""
    lease_duration: float = 15.0
    """`--leader-elect-lease-duration` (seconds): how long a standby waits after the
    last renewal it saw before taking over."""
    renew_deadline: float = 10.0
    """`--leader-elect-renew-deadline` (seconds): how long the leader retries renewing
    before it stops acting."""
    retry_period: float = 2.0
    """`--leader-elect-retry-period` (seconds): between attempts to acquire or renew."""
    resource_name: str = "metrics-adapter-hpa-controller"
    """`--leader-elect-resource-name`: the Lease's name (not kube-controller-manager's,
    whose lease this loop must never take)."""
    resource_namespace: str = "kube-system"
    """`--leader-elect-resource-namespace`."""
    identity: str = ""
    """This candidate's holderIdentity; empty means `<hostname>_<uuid>`."""

    def __post_init__(self) -> None:
        if self.enabled:
            leaderelection.check_timing(self.lease_duration, self.renew_deadline, self.retry_period)


@dataclass(frozen=True, slots=True)
class RecordSettings:
    directory: str | None = None
    """`--hpa-record-dir`: where decision records (HPA snapshots) go; None: none kept."""
    record_all: bool = False
    """`--hpa-record-all`: every sync, not only those that scaled or failed."""
    max_bytes: int = 256 * 1024 * 1024
    """`--hpa-record-max-bytes`: the directory's budget; the oldest records are deleted
    beyond it. 256 MiB holds about ten thousand records of a 10-pod HPA."""


@dataclass(frozen=True, slots=True)
class HPASettings:
    sync_period: float = 15.0
    """`--hpa-sync-period` (seconds; kube-controller-manager's
    `--horizontal-pod-autoscaler-sync-period`): each HPA is synced this often."""
    workers: int = 5
    """`--hpa-workers` (`--concurrent-horizontal-pod-autoscaler-syncs`): HPAs synced at
    once. Syncs mostly wait on the API server and Prometheus, so more workers raise
    throughput until one of those is the bottleneck."""
    mode: Mode = Mode.ACTIVE
    selector: str = ""
    """`--hpa-selector`: a label selector on the HPA objects this loop manages; empty
    means all of them."""
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    leader_election: LeaderElectionSettings = field(default_factory=LeaderElectionSettings)
    records: RecordSettings = field(default_factory=RecordSettings)


@dataclass(frozen=True, slots=True)
class HPARunSettings:
    """`hpa run`: the loop as its own process, reading metrics through the API server."""

    loop: HPASettings = field(default_factory=HPASettings)
    cluster: ClusterSettings = field(default_factory=lambda: ClusterSettings(burst=30))
    """`--kubeconfig`, `--client-qps`, `--client-burst` (30, as kube-controller-manager's
    --kube-api-burst)."""
    metrics_address: tuple[str, int] | None = ("0.0.0.0", 8080)
    """`--metrics-bind-address` (`host:port`, default `:8080`; `0` turns it off): where
    plain-HTTP `/metrics` and `/healthz` are served."""
