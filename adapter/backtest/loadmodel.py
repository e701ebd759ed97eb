"""The load model: what each simulated sync is shown, given what really ran.

Owns turning one step of history into the inputs of one sync, for a replica count that
differs from the one that ran:

* Per-pod metrics (Resource, ContainerResource, Pods) are redistributed: the load the
  real pods carried (their average × the replicas that actually ran) is spread evenly
  over the simulated pods. Object and External metrics are taken as they were; with an
  AverageValue target the controller divides them by the simulated count itself.
* Pods the simulation adds start unready and turn ready after the controller's initial
  readiness delay (`--horizontal-pod-autoscaler-initial-readiness-delay`); pods it
  removes are the newest.
* A value the live adapter could not have served (no sample, or no replicas to
  redistribute over) is missing, exactly as a failed metrics-API fetch: never a zero.
  The simulation holds the replicas at such a step (`adapter.backtest.simulation`).

Values are quantized as the adapter serves them (`adapter.providers.values` for custom
and external metrics, metrics-server's units for resources), so a step can be written
as an `hpa evaluate` snapshot (`snapshot_metrics`, `wire_pod`) that decides the same.
`StepMetrics` answers the sync directly (the `MetricsSource` protocol) without
building and re-matching wire objects at every one of a long window's syncs. Pure.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from adapter.hpa.calculation import MetricUnavailable
from adapter.hpa.model import (
    Container,
    CrossVersionObjectReference,
    LabelSelectorSpec,
    Pod,
    PodMetric,
    PodReadyCondition,
)
from adapter.hpa.sources import DEFAULT_CUSTOM_METRIC_WINDOW
from adapter.k8s.quantity import Quantity, QuantityFormat
from adapter.k8s.selectors import LabelSelector
from adapter.k8s.timefmt import format_go_duration, format_time
from adapter.providers.values import UnrepresentableValueError, check_number
from adapter.settings.backtest import MAIN_CONTAINER

__all__ = [
    "MAIN_CONTAINER",
    "MODEL",
    "PodSet",
    "StepMetrics",
    "redistribute",
    "served_custom",
    "served_custom_float",
    "served_resource",
    "served_resource_float",
]

MODEL = (
    "per-pod metrics (Resource, ContainerResource, Pods) keep their total load (per-pod "
    "average x replicas that actually ran) spread evenly over the simulated pods; Object "
    "and External metrics are taken as they were (an AverageValue target divides them by "
    "the simulated count); new pods are unready for the initial readiness delay and the "
    "newest go first; a step where any metric has no data (a gap) holds the replicas, "
    "never reading the gap as zero. Limits: load does not react to latency or queueing, all pods "
    "carry the same share, pod start-up cost and node capacity are not modelled."
)


_NANO = 1_000_000_000
_INT64_MAX = 2**63 - 1


# -- values as the adapter serves them ---------------------------------------------------


def _served_milli(value: float) -> int | None:
    """A custom or external sample in the adapter's milli-units, or None when it has
    none (NaN, ±Inf, beyond int64 milli-units), as `adapter.providers.values` checks."""
    try:
        check_number(value)
    except UnrepresentableValueError:
        return None
    milli = math.trunc(value * 1000.0)
    if not -_INT64_MAX <= milli <= _INT64_MAX:  # float rounding at the very edge
        return None
    return milli


def served_custom(value: float) -> Quantity | None:
    """A custom or external sample as the adapter's quantity; None when it has none,
    which the adapter refuses to serve."""
    milli = _served_milli(value)
    return None if milli is None else Quantity.from_milli(milli)


def served_custom_float(value: float) -> float | None:
    """`served_custom(value).as_float()` without building the quantity: reading a
    week of history converts every sample, and milli/1000 is the same float (both are
    the correctly rounded quotient)."""
    milli = _served_milli(value)
    return None if milli is None else milli / 1000


def served_resource(resource: str, value: float) -> Quantity | None:
    """A usage sample as metrics-server writes it (cores to nanocores, bytes), with the
    resource provider's clamp of negatives; None for NaN, ±Inf and what no quantity
    holds, which the adapter leaves out."""
    whole = _served_units(resource, value)
    if whole is None:
        return None
    if resource == "cpu":
        return Quantity(Fraction(whole, _NANO), QuantityFormat.DECIMAL_SI)
    return Quantity(Fraction(whole), QuantityFormat.BINARY_SI)


def served_resource_float(resource: str, value: float) -> float | None:
    """`served_resource(resource, value).as_float()` without building the quantity."""
    whole = _served_units(resource, value)
    if whole is None:
        return None
    return whole / _NANO if resource == "cpu" else float(whole)


def _served_units(resource: str, value: float) -> int | None:
    """The sample in whole nanocores (cpu) or bytes, clamped at zero; None if none."""
    if math.isnan(value) or math.isinf(value):
        return None
    scaled = max(value, 0.0) * _NANO if resource == "cpu" else max(value, 0.0)
    if scaled >= 2.0**63:  # beyond int64 (or overflowed to +Inf): no quantity holds it
        return None
    return math.trunc(scaled)


def redistribute(per_pod_average: float, actual: int | None, simulated: int) -> float | None:
    """The per-pod value on `simulated` pods carrying what `actual` pods carried; None
    when it is unknown (no replica history, or nothing ran, or no pods to carry it)."""
    if actual is None or actual <= 0 or simulated <= 0:
        return None
    return per_pod_average * actual / simulated


# -- the simulated pods ------------------------------------------------------------------


@dataclass(slots=True)
class PodSet:
    """The target's pods in the simulation: ready ones, and new ones turning ready."""

    namespace: str
    labels: Mapping[str, str]
    containers: tuple[Container, ...]
    readiness_delay: timedelta
    pods: list[Pod] = field(default_factory=list)
    _ready_at: dict[str, datetime] = field(default_factory=dict)
    _serial: int = 0

    def _pod(self, start: datetime, ready: bool, transition: datetime) -> Pod:
        self._serial += 1
        return Pod(
            name=f"backtest-{self._serial}",
            namespace=self.namespace,
            labels=self.labels,
            phase="Running",
            start_time=start,
            ready=PodReadyCondition("True" if ready else "False", transition),
            containers=self.containers,
        )

    def seed(self, count: int, now: datetime) -> None:
        """The pods running when the window opens: ready for an hour already."""
        since = now - timedelta(hours=1)
        self.pods = [self._pod(since, True, since) for _ in range(count)]

    def resize(self, count: int, now: datetime) -> None:
        while len(self.pods) > count:
            gone = self.pods.pop()
            self._ready_at.pop(gone.name, None)
        while len(self.pods) < count:
            pod = self._pod(now, self.readiness_delay <= timedelta(0), now)
            if not pod.is_ready():
                self._ready_at[pod.name] = now + self.readiness_delay
            self.pods.append(pod)

    def advance(self, now: datetime) -> None:
        """New pods whose delay has passed turn ready (at the moment it passed)."""
        if not self._ready_at:
            return
        for position, pod in enumerate(self.pods):
            at = self._ready_at.get(pod.name)
            if at is not None and at <= now:
                self.pods[position] = replace(pod, ready=PodReadyCondition("True", at))
                del self._ready_at[pod.name]


# -- one step's metrics ------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _selector_text(selector: LabelSelector) -> str:
    """The key a metric selector is looked up by; cached, as every sync asks again."""
    return str(selector)


@dataclass(frozen=True, slots=True)
class ObjectValue:
    described: CrossVersionObjectReference
    selector: LabelSelectorSpec | None
    value: Quantity


@dataclass(frozen=True, slots=True)
class PodsValue:
    selector: LabelSelectorSpec | None
    value: Quantity


@dataclass(slots=True)
class StepMetrics:
    """What the metrics APIs would answer at one sync of the simulation.

    Keys are what the sync asks by: (resource, container) for resource usage (the
    container is MAIN_CONTAINER for a pod-level Resource metric), (metric, canonical
    selector) for Pods and External metrics, (metric, kind, name, selector) for Object
    metrics. A key that is absent is a metric the API could not serve at this step.
    """

    now: datetime
    pods: Sequence[Pod]
    resource_window: timedelta
    usage: dict[tuple[str, str], Quantity] = field(default_factory=dict)
    resource_served: bool = False
    """Whether the resource metrics API answered at all (some usage read had data)."""
    per_pod: dict[tuple[str, str], PodsValue] = field(default_factory=dict)
    objects: dict[tuple[str, str, str, str], ObjectValue] = field(default_factory=dict)
    external: dict[tuple[str, str], list[tuple[Mapping[str, str], Quantity]]] = field(
        default_factory=dict
    )

    # the MetricsSource protocol (adapter.hpa.calculation), answered as
    # adapter.hpa.sources.ResponsesMetricsSource answers the same responses

    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str
    ) -> tuple[dict[str, PodMetric], datetime]:
        if not self.resource_served or not self.pods:
            raise MetricUnavailable("no metrics returned from resource metrics API")
        if container:
            quantity = self.usage.get((resource, container))
            if quantity is None:
                return {}, self.now
            milli = quantity.milli_value()
        else:
            containers = {name for _, name in self.usage}
            quantities = [self.usage.get((resource, name)) for name in containers]
            if not quantities or any(q is None for q in quantities):
                return {}, self.now
            milli = sum(q.milli_value() for q in quantities if q is not None)
        metric = PodMetric(milli, self.now, self.resource_window)
        return {pod.name: metric for pod in self.pods}, self.now

    def get_raw_metric(
        self,
        metric_name: str,
        namespace: str,
        selector: LabelSelector,
        metric_selector: LabelSelector,
    ) -> tuple[dict[str, PodMetric], datetime]:
        found = self.per_pod.get((metric_name, _selector_text(metric_selector)))
        if found is None or not self.pods:
            raise MetricUnavailable("no metrics returned from custom metrics API")
        metric = PodMetric(found.value.milli_value(), self.now, DEFAULT_CUSTOM_METRIC_WINDOW)
        return {pod.name: metric for pod in self.pods}, self.now

    def get_object_metric(
        self,
        metric_name: str,
        namespace: str,
        object_ref: CrossVersionObjectReference,
        metric_selector: LabelSelector,
    ) -> tuple[int, datetime]:
        key = (metric_name, object_ref.kind, object_ref.name, _selector_text(metric_selector))
        found = self.objects.get(key)
        if found is None:
            raise MetricUnavailable(
                "unable to fetch metrics from custom metrics API: the custom metrics API "
                "server returned 0 results when we asked for exactly one"
            )
        return found.value.milli_value(), self.now

    def get_external_metric(
        self, metric_name: str, namespace: str, metric_selector: LabelSelector
    ) -> tuple[list[int], datetime]:
        found = self.external.get((metric_name, _selector_text(metric_selector)))
        if not found:
            raise MetricUnavailable("no metrics returned from external metrics API")
        return [quantity.milli_value() for _, quantity in found], self.now

    # the same answers as metrics-API responses, for an `hpa evaluate` snapshot

    def snapshot_metrics(self, namespace: str) -> dict[str, Any]:
        """`metrics` of a snapshot holding these answers (see contracts/hpa-snapshot.md)."""
        stamp = format_time(self.now)
        document: dict[str, Any] = {}
        if self.resource_served:
            containers: dict[str, dict[str, str]] = {}
            for (resource, container), quantity in self.usage.items():
                containers.setdefault(container, {})[resource] = str(quantity)
            document["resource"] = {
                "kind": "PodMetricsList",
                "apiVersion": "metrics.k8s.io/v1beta1",
                "items": [
                    {
                        "metadata": {
                            "name": pod.name,
                            "namespace": pod.namespace,
                            "labels": dict(pod.labels),
                        },
                        "timestamp": stamp,
                        "window": format_go_duration(self.resource_window.total_seconds()),
                        "containers": [
                            {"name": name, "usage": usage} for name, usage in containers.items()
                        ],
                    }
                    for pod in self.pods
                ],
            }
        custom: list[dict[str, Any]] = []
        for (name, _selector), found in self.per_pod.items():
            metric = _metric_wire(name, found.selector)
            custom.extend(
                {
                    "describedObject": {
                        "kind": "Pod",
                        "namespace": pod.namespace,
                        "name": pod.name,
                        "apiVersion": "/v1",
                    },
                    "metric": metric,
                    "timestamp": stamp,
                    "value": str(found.value),
                }
                for pod in self.pods
            )
        for (name, _kind, _obj, _selector), value in self.objects.items():
            custom.append(
                {
                    "describedObject": {
                        "kind": value.described.kind,
                        "namespace": namespace,
                        "name": value.described.name,
                        "apiVersion": value.described.api_version,
                    },
                    "metric": _metric_wire(name, value.selector),
                    "timestamp": stamp,
                    "value": str(value.value),
                }
            )
        if custom:
            document["custom"] = [
                {
                    "kind": "MetricValueList",
                    "apiVersion": "custom.metrics.k8s.io/v1beta2",
                    "items": custom,
                }
            ]
        external: list[dict[str, Any]] = []
        for (name, _selector), values in self.external.items():
            external.extend(
                {
                    "metricName": name,
                    "metricLabels": dict(labels),
                    "timestamp": stamp,
                    "value": str(quantity),
                }
                for labels, quantity in values
            )
        if external:
            document["external"] = [
                {
                    "kind": "ExternalMetricValueList",
                    "apiVersion": "external.metrics.k8s.io/v1beta1",
                    "items": external,
                }
            ]
        return document


def _metric_wire(name: str, selector: LabelSelectorSpec | None) -> dict[str, Any]:
    wire: dict[str, Any] = {"name": name}
    if selector is not None:
        wire["selector"] = selector.to_wire()
    return wire


def wire_pod(pod: Pod) -> dict[str, Any]:
    """A simulated pod as the v1 Pod a snapshot's `pods` holds."""
    conditions = []
    if pod.ready is not None:
        condition: dict[str, Any] = {"type": "Ready", "status": pod.ready.status}
        if pod.ready.last_transition_time is not None:
            condition["lastTransitionTime"] = format_time(pod.ready.last_transition_time)
        conditions.append(condition)
    status: dict[str, Any] = {"phase": pod.phase, "conditions": conditions}
    if pod.start_time is not None:
        status["startTime"] = format_time(pod.start_time)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": dict(pod.labels)},
        "spec": {
            "containers": [
                {
                    "name": container.name,
                    "resources": {
                        "requests": {name: str(q) for name, q in container.requests.items()}
                    },
                }
                for container in pod.containers
            ]
        },
        "status": status,
    }
