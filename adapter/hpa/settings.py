"""The HPA loop's settings, one frozen value per concern.

Owns what `hpa run` and `serve --hpa` are told on the command line, typed and with its
unit and default explained: the loop itself (sync period, workers, mode, which HPAs),
the controller's algorithm flags (kube-controller-manager's, carried by
`adapter.hpa.sync.ControllerConfig`), leader election and decision records. Turning
flags into these is `adapter.hpa.flags`'; using them is `adapter.hpa.controller`'s.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from adapter.hpa.sync import ControllerConfig

__all__ = ["HPASettings", "LeaderElectionSettings", "Mode", "RecordSettings"]


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
