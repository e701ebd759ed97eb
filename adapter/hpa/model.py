"""The autoscaling/v2 HorizontalPodAutoscaler, the Pods and the Scale it reads, as values.

Owns the typed form of what the HPA controller looks at: the HPA spec after API
defaulting, its status, the target's `/scale` subresource (autoscaling/v1), the pods the
scale's selector picks, and the per-pod metric samples the metrics APIs return. Status
values serialise back to the wire (`to_wire`) with the same omitempty rules as the API
server, because `hpa evaluate` prints the status as Kubernetes would store it.

Parsing and validating raw JSON into these values is `adapter.hpa.snapshot` and
`adapter.hpa.defaults`; the arithmetic on them is `adapter.hpa.calculation`,
`adapter.hpa.behavior` and `adapter.hpa.sync`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adapter.k8s.quantity import Quantity

__all__ = [
    "ZERO_TIME",
    "Container",
    "ContainerResourceMetricSource",
    "CrossVersionObjectReference",
    "ExternalMetricSource",
    "HPABehavior",
    "HPACondition",
    "HPAScalingPolicy",
    "HPAScalingRules",
    "HPASpec",
    "HPAStatus",
    "HorizontalPodAutoscaler",
    "LabelSelectorRequirement",
    "LabelSelectorSpec",
    "MetricIdentifier",
    "MetricSpec",
    "MetricStatus",
    "MetricTarget",
    "MetricValueStatus",
    "ObjectMetricSource",
    "Pod",
    "PodMetric",
    "PodReadyCondition",
    "PodsMetricSource",
    "ResourceMetricSource",
    "Scale",
]

ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""Go's zero `time.Time`: what an absent timestamp compares as in upstream code."""

# Metric source types (MetricSourceType).
OBJECT = "Object"
PODS = "Pods"
RESOURCE = "Resource"
CONTAINER_RESOURCE = "ContainerResource"
EXTERNAL = "External"

# Metric target types (MetricTargetType).
UTILIZATION = "Utilization"
VALUE = "Value"
AVERAGE_VALUE = "AverageValue"

# Scaling policy types and select policies.
PODS_POLICY = "Pods"
PERCENT_POLICY = "Percent"
MAX_POLICY_SELECT = "Max"
MIN_POLICY_SELECT = "Min"
DISABLED_POLICY_SELECT = "Disabled"

# Condition types.
ABLE_TO_SCALE = "AbleToScale"
SCALING_ACTIVE = "ScalingActive"
SCALING_LIMITED = "ScalingLimited"
SCALED_TO_ZERO = "ScaledToZero"


SOURCE_KEYS = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}
"""Metric type -> the key of its source in a MetricSpec and of its status in a MetricStatus."""


def _go_string_list(values: tuple[str, ...]) -> str:
    return "[" + " ".join(values) + "]"


@dataclass(frozen=True, slots=True)
class LabelSelectorRequirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"key": self.key, "operator": self.operator}
        if self.values:
            wire["values"] = list(self.values)
        return wire


@dataclass(frozen=True, slots=True)
class LabelSelectorSpec:
    """A metav1.LabelSelector as written in the spec (not yet a matcher).

    Kept as written because the status echoes it and because upstream prints it with
    the generated protobuf `String()` in messages ("external metric qps(&LabelSelector{...})").
    """

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {}
        if self.match_labels:
            wire["matchLabels"] = dict(self.match_labels)
        if self.match_expressions:
            wire["matchExpressions"] = [r.to_wire() for r in self.match_expressions]
        return wire

    def go_string(self) -> str:
        """The gogo-protobuf `String()` of *metav1.LabelSelector, as `%+v` prints it."""
        labels = "".join(f"{k}: {v}," for k, v in sorted(self.match_labels))
        exprs = "".join(
            f"LabelSelectorRequirement{{Key:{r.key},Operator:{r.operator},"
            f"Values:{_go_string_list(r.values)},}},"
            for r in self.match_expressions
        )
        return (
            f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
        )


def go_selector_string(selector: LabelSelectorSpec | None) -> str:
    """`%+v` of a possibly-nil *metav1.LabelSelector."""
    return "nil" if selector is None else selector.go_string()


@dataclass(frozen=True, slots=True)
class CrossVersionObjectReference:
    kind: str
    name: str
    api_version: str = ""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.api_version:
            wire["apiVersion"] = self.api_version
        return wire


@dataclass(frozen=True, slots=True)
class MetricTarget:
    type: str
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: int | None = None


@dataclass(frozen=True, slots=True)
class MetricIdentifier:
    name: str
    selector: LabelSelectorSpec | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"name": self.name}
        if self.selector is not None:
            wire["selector"] = self.selector.to_wire()
        return wire


@dataclass(frozen=True, slots=True)
class ResourceMetricSource:
    name: str
    target: MetricTarget


@dataclass(frozen=True, slots=True)
class ContainerResourceMetricSource:
    name: str
    container: str
    target: MetricTarget


@dataclass(frozen=True, slots=True)
class PodsMetricSource:
    metric: MetricIdentifier
    target: MetricTarget


@dataclass(frozen=True, slots=True)
class ObjectMetricSource:
    described_object: CrossVersionObjectReference
    metric: MetricIdentifier
    target: MetricTarget


@dataclass(frozen=True, slots=True)
class ExternalMetricSource:
    metric: MetricIdentifier
    target: MetricTarget


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One entry of spec.metrics; exactly the source named by `type` is set once valid."""

    type: str
    resource: ResourceMetricSource | None = None
    container_resource: ContainerResourceMetricSource | None = None
    pods: PodsMetricSource | None = None
    object: ObjectMetricSource | None = None
    external: ExternalMetricSource | None = None


@dataclass(frozen=True, slots=True)
class HPAScalingPolicy:
    type: str
    value: int
    period_seconds: int


@dataclass(frozen=True, slots=True)
class HPAScalingRules:
    """One direction of spec.behavior after defaulting.

    `stabilization_window_seconds` stays None for scale-down when the user left it out:
    the controller then uses its `--horizontal-pod-autoscaler-downscale-stabilization`.
    """

    select_policy: str
    policies: tuple[HPAScalingPolicy, ...]
    stabilization_window_seconds: int | None = None
    tolerance: Quantity | None = None


@dataclass(frozen=True, slots=True)
class HPABehavior:
    scale_up: HPAScalingRules
    scale_down: HPAScalingRules


@dataclass(frozen=True, slots=True)
class HPASpec:
    scale_target_ref: CrossVersionObjectReference
    min_replicas: int
    max_replicas: int
    metrics: tuple[MetricSpec, ...]
    behavior: HPABehavior | None = None


@dataclass(frozen=True, slots=True)
class HPACondition:
    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_transition_time: datetime | None = None

    def to_wire(self, format_time: Callable[[datetime], str]) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": self.type, "status": self.status}
        # metav1.Time marshals its zero value as null; the field has no omitempty effect.
        wire["lastTransitionTime"] = (
            None if self.last_transition_time is None else format_time(self.last_transition_time)
        )
        if self.reason:
            wire["reason"] = self.reason
        if self.message:
            wire["message"] = self.message
        return wire


@dataclass(frozen=True, slots=True)
class MetricValueStatus:
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {}
        if self.value is not None:
            wire["value"] = str(self.value)
        if self.average_value is not None:
            wire["averageValue"] = str(self.average_value)
        if self.average_utilization is not None:
            wire["averageUtilization"] = self.average_utilization
        return wire


@dataclass(frozen=True, slots=True)
class MetricStatus:
    """One entry of status.currentMetrics.

    The empty value (`type=""`, nothing else) is what upstream leaves in the list for a
    metric it could not compute, and it reaches the stored status as `{"type": ""}`.
    """

    type: str = ""
    name: str = ""
    container: str = ""
    metric: MetricIdentifier | None = None
    described_object: CrossVersionObjectReference | None = None
    current: MetricValueStatus = field(default_factory=MetricValueStatus)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": self.type}
        current = self.current.to_wire()
        if self.type == RESOURCE:
            wire["resource"] = {"name": self.name, "current": current}
        elif self.type == CONTAINER_RESOURCE:
            wire["containerResource"] = {
                "name": self.name,
                "container": self.container,
                "current": current,
            }
        elif self.type == PODS and self.metric is not None:
            wire["pods"] = {"metric": self.metric.to_wire(), "current": current}
        elif self.type == OBJECT and self.metric is not None:
            assert self.described_object is not None
            wire["object"] = {
                "metric": self.metric.to_wire(),
                "current": current,
                "describedObject": self.described_object.to_wire(),
            }
        elif self.type == EXTERNAL and self.metric is not None:
            wire["external"] = {"metric": self.metric.to_wire(), "current": current}
        return wire


@dataclass(frozen=True, slots=True)
class HPAStatus:
    current_replicas: int = 0
    desired_replicas: int = 0
    last_scale_time: datetime | None = None
    current_metrics: tuple[MetricStatus, ...] | None = None
    conditions: tuple[HPACondition, ...] = ()

    def to_wire(self, format_time: Callable[[datetime], str]) -> dict[str, Any]:
        """The status as the API server stores it (omitempty as in the Go type)."""
        wire: dict[str, Any] = {}
        if self.last_scale_time is not None:
            wire["lastScaleTime"] = format_time(self.last_scale_time)
        if self.current_replicas:
            wire["currentReplicas"] = self.current_replicas
        wire["desiredReplicas"] = self.desired_replicas
        if self.current_metrics:
            wire["currentMetrics"] = [m.to_wire() for m in self.current_metrics]
        if self.conditions:
            wire["conditions"] = [c.to_wire(format_time) for c in self.conditions]
        return wire

    def condition(self, condition_type: str) -> HPACondition | None:
        for condition in self.conditions:
            if condition.type == condition_type:
                return condition
        return None


@dataclass(frozen=True, slots=True)
class HorizontalPodAutoscaler:
    namespace: str
    name: str
    spec: HPASpec
    status: HPAStatus = field(default_factory=HPAStatus)


@dataclass(frozen=True, slots=True)
class Scale:
    """The target's `/scale` as client-go's scale client hands it over (autoscaling/v1)."""

    spec_replicas: int
    status_replicas: int
    selector: str


@dataclass(frozen=True, slots=True)
class Container:
    name: str
    requests: Mapping[str, Quantity]
    restart_policy: str | None = None


@dataclass(frozen=True, slots=True)
class PodReadyCondition:
    status: str
    last_transition_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Pod:
    """The fields of a v1 Pod that the replica calculator reads."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    phase: str
    deleted: bool = False
    start_time: datetime | None = None
    ready: PodReadyCondition | None = None
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    pod_requests: Mapping[str, Quantity] | None = None
    """spec.resources.requests (pod-level resources), None when the pod sets none."""

    def is_ready(self) -> bool:
        """podutil.IsPodReady: the Ready condition is True."""
        return self.ready is not None and self.ready.status == "True"


@dataclass(frozen=True, slots=True)
class PodMetric:
    """One pod's sample as the metrics client reduces it: a milli-value with its time."""

    value: int
    timestamp: datetime
    window: timedelta
