"""The HPA loop's decisions and health as Prometheus metrics (prometheus_client).

Owns the series the loop exports on the adapter's `/metrics`, named after
kube-controller-manager's (pkg/controller/podautoscaler/monitor) so dashboards built
for the in-tree controller keep working:

* `horizontal_pod_autoscaler_controller_reconciliations_total{action,error}` and
  `..._reconciliation_duration_seconds{action,error}` (buckets 1 ms x 2^0..14);
* `..._metric_computation_total{action,error,metric_type}` and
  `..._metric_computation_duration_seconds{...}` (here: the metric's fetch);
* `..._num_horizontal_pod_autoscalers` and `..._desired_replicas{namespace,hpa_name}`;

and, beyond upstream, per HPA: `..._current_replicas` and `..._metric_value`
(`value_type` = value, average_value or average_utilization, as status.currentMetrics
reports it), so a shadow-mode loop can be compared with the in-tree controller series
by series. `leader_election_master_status{name}` is client-go's leader gauge. In shadow
mode `action` says what the loop would have done.

Per-HPA series are kept few (three for a one-metric HPA) because a scrape costs about
20 us per series: 10,000 HPAs are 30,000 series, well under a second per scrape. Targets
and conditions are in the HPA object itself. The label sets of an HPA are removed when
it is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from adapter.hpa.model import (
    CONTAINER_RESOURCE,
    EXTERNAL,
    OBJECT,
    PODS,
    RESOURCE,
    HorizontalPodAutoscaler,
    MetricSpec,
    MetricStatus,
    MetricValueStatus,
)
from adapter.hpa.sync import SyncResult

__all__ = ["HPAExporter", "MetricObservation"]

SUBSYSTEM = "horizontal_pod_autoscaler_controller"
BUCKETS = tuple(0.001 * 2**i for i in range(15))
ACTION_NONE = "none"
ACTION_UP = "scale_up"
ACTION_DOWN = "scale_down"
ERROR_NONE = "none"
ERROR_SPEC = "spec"
ERROR_INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class MetricObservation:
    """One metric spec's part of a sync, for metric_computation_*."""

    metric_type: str
    action: str
    error: str
    seconds: float


def _metric_name(spec: MetricSpec) -> str:
    if spec.resource is not None:
        return spec.resource.name
    if spec.container_resource is not None:
        return f"{spec.container_resource.name}/{spec.container_resource.container}"
    for source in (spec.pods, spec.object, spec.external):
        if source is not None:
            return source.metric.name
    return ""


def _values(value: MetricValueStatus) -> Iterable[tuple[str, float]]:
    if value.value is not None:
        yield "value", value.value.as_float()
    if value.average_value is not None:
        yield "average_value", value.average_value.as_float()
    if value.average_utilization is not None:
        yield "average_utilization", float(value.average_utilization)


class HPAExporter:
    def __init__(self, registry: CollectorRegistry, *, mode: str, lease_name: str = "") -> None:
        # kube-controller-manager exports no `_created` series; neither does this.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.reconciliations = Counter(
            "reconciliations",
            "Number of reconciliations of the HPA loop, by action taken (scale_up, scale_down, "
            "none; decided but not written in shadow mode) and error (spec, internal, none).",
            ["action", "error"],
            subsystem=SUBSYSTEM,
            registry=registry,
        )
        self.reconciliation_duration = Histogram(
            "reconciliation_duration_seconds",
            "Seconds one reconciliation of an HPA takes, by action and error.",
            ["action", "error"],
            subsystem=SUBSYSTEM,
            registry=registry,
            buckets=BUCKETS,
        )
        self.metric_computations = Counter(
            "metric_computation",
            "Number of metric computations, by action, error and HPA metric type.",
            ["action", "error", "metric_type"],
            subsystem=SUBSYSTEM,
            registry=registry,
        )
        self.metric_computation_duration = Histogram(
            "metric_computation_duration_seconds",
            "Seconds fetching one metric of an HPA takes, by action, error and metric type.",
            ["action", "error", "metric_type"],
            subsystem=SUBSYSTEM,
            registry=registry,
            buckets=BUCKETS,
        )
        self.num_hpas = Gauge(
            "num_horizontal_pod_autoscalers",
            "Current number of HPA objects this loop manages.",
            subsystem=SUBSYSTEM,
            registry=registry,
        )
        self.desired_replicas = Gauge(
            "desired_replicas",
            "Desired replica count of each HPA after its last sync.",
            ["namespace", "hpa_name"],
            subsystem=SUBSYSTEM,
            registry=registry,
        )
        self.current_replicas = Gauge(
            "current_replicas",
            "Replica count of each HPA's target at its last sync.",
            ["namespace", "hpa_name"],
            subsystem=SUBSYSTEM,
            registry=registry,
        )
        metric_labels = [
            "namespace",
            "hpa_name",
            "metric_index",
            "metric_type",
            "metric_name",
            "value_type",
        ]
        self.metric_value = Gauge(
            "metric_value",
            "Current value of each HPA metric at its last sync, as in status.currentMetrics.",
            metric_labels,
            subsystem=SUBSYSTEM,
            registry=registry,
        )
        info = Gauge(
            "info",
            "The HPA loop's mode: active writes its decisions, shadow only records them.",
            ["mode"],
            subsystem=SUBSYSTEM,
            registry=registry,
        )
        info.labels(mode).set(1)
        self.leader = Gauge(
            "leader_election_master_status",
            "1 when this process holds the named lease, 0 otherwise.",
            ["name"],
            registry=registry,
        )
        self._lease_name = lease_name
        if lease_name:
            self.leader.labels(lease_name).set(0)
        self._labels: dict[tuple[str, str], list[tuple[Gauge, tuple[str, ...]]]] = {}

    def set_leader(self, leading: bool) -> None:
        if self._lease_name:
            self.leader.labels(self._lease_name).set(1 if leading else 0)

    def observe(
        self,
        *,
        action: str,
        error: str,
        seconds: float,
        metrics: Iterable[MetricObservation] = (),
    ) -> None:
        self.reconciliations.labels(action, error).inc()
        self.reconciliation_duration.labels(action, error).observe(seconds)
        for metric in metrics:
            labels = (metric.action, metric.error, metric.metric_type)
            self.metric_computations.labels(*labels).inc()
            self.metric_computation_duration.labels(*labels).observe(metric.seconds)

    def publish(self, hpa: HorizontalPodAutoscaler, result: SyncResult) -> None:
        """The HPA's per-object series after a sync (replacing the previous ones)."""
        key = (hpa.namespace, hpa.name)
        previous = self._labels.pop(key, [])
        current: list[tuple[Gauge, tuple[str, ...]]] = []

        def put(gauge: Gauge, labels: tuple[str, ...], value: float) -> None:
            gauge.labels(*labels).set(value)
            current.append((gauge, labels))

        put(self.desired_replicas, key, float(result.desired_replicas))
        put(self.current_replicas, key, float(result.status.current_replicas))
        statuses: tuple[MetricStatus, ...] = result.status.current_metrics or ()
        for position, spec in enumerate(hpa.spec.metrics):
            base = (*key, str(position), spec.type, _metric_name(spec))
            if position < len(statuses) and statuses[position].type in (
                RESOURCE,
                CONTAINER_RESOURCE,
                PODS,
                OBJECT,
                EXTERNAL,
            ):
                for value_type, value in _values(statuses[position].current):
                    put(self.metric_value, (*base, value_type), value)
        kept = {(id(gauge), labels) for gauge, labels in current}
        for gauge, labels in previous:
            if (id(gauge), labels) not in kept:
                gauge.remove(*labels)
        self._labels[key] = current

    def forget(self, namespace: str, name: str) -> None:
        for gauge, labels in self._labels.pop((namespace, name), []):
            gauge.remove(*labels)

    def set_count(self, count: int) -> None:
        self.num_hpas.set(count)
