"""Metric values for the replica calculator, from metrics API responses already in hand.

Owns the metrics-client half of upstream's HPA (`podautoscaler/metrics/client.go`):
reducing a `metrics.k8s.io` PodMetricsList to one milli-value per pod (summed over
containers, or the named container; a pod missing the resource in any container, or
missing the container, has no sample), a `custom.metrics.k8s.io` MetricValueList to
per-pod or per-object values, an `external.metrics.k8s.io` list to its values, with
upstream's errors when nothing came back.

`ResponsesMetricsSource` answers the calculator's questions from responses that were
fetched earlier (a snapshot's `metrics`, or what the controller loop fetched before a
sync), selecting items as the APIs would: resource items by the pod selector on their
labels and namespace, custom items by metric name, described object and metric
selector, external items by name and by the metric selector on their labels. A
response that is absent, or holds no matching item, is an unavailable metric.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapter.hpa.calculation import MetricUnavailable
from adapter.hpa.model import (
    ZERO_TIME,
    CrossVersionObjectReference,
    LabelSelectorRequirement,
    LabelSelectorSpec,
    PodMetric,
)
from adapter.hpa.wire import (
    WireError,
    as_map,
    child,
    index,
    items,
    opt_int,
    opt_list,
    opt_map,
    opt_quantity,
    opt_str,
    opt_string_map,
    opt_time,
)
from adapter.k8s import timefmt
from adapter.k8s.quantity import Quantity
from adapter.k8s.selectors import LabelSelector, SelectorError

__all__ = [
    "ContainerUsage",
    "CustomMetricItem",
    "ExternalMetricItem",
    "PodMetricsItem",
    "ResponsesMetricsSource",
    "parse_custom_metric_lists",
    "parse_external_metric_lists",
    "parse_go_duration",
    "parse_label_selector_spec",
    "parse_pod_metrics_list",
    "selector_from_spec",
]

DEFAULT_CUSTOM_METRIC_WINDOW = timedelta(minutes=1)
"""metricServerDefaultMetricWindow: a custom metric without windowSeconds."""


def parse_go_duration(text: str, path: str) -> timedelta:
    """A metav1.Duration (Go `time.Duration` text such as "30s" or "1m0s")."""
    try:
        return timedelta(seconds=timefmt.parse_go_duration(text))
    except ValueError as err:
        raise WireError(path, str(err)) from err


def parse_label_selector_spec(value: Any, path: str) -> LabelSelectorSpec:
    raw = as_map(value, path)
    labels = opt_string_map(raw, "matchLabels", path) or {}
    expressions: list[LabelSelectorRequirement] = []
    for position, item in enumerate(items(opt_list(raw, "matchExpressions", path))):
        epath = index(child(path, "matchExpressions"), position)
        expression = as_map(item, epath)
        values = opt_list(expression, "values", epath) or []
        for vpos, entry in enumerate(values):
            if not isinstance(entry, str):
                raise WireError(index(child(epath, "values"), vpos), "must be a string")
        expressions.append(
            LabelSelectorRequirement(
                key=opt_str(expression, "key", epath) or "",
                operator=opt_str(expression, "operator", epath) or "",
                values=tuple(values),
            )
        )
    return LabelSelectorSpec(tuple(sorted(labels.items())), tuple(expressions))


@functools.lru_cache(maxsize=1024)
def selector_from_spec(selector: LabelSelectorSpec | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector; raises SelectorError for an invalid selector.

    Cached: both are immutable values, and every sync converts each metric's selector
    (an invalid one raises, which is not cached, so it fails the same way each time).
    """
    if selector is None:
        return LabelSelector.from_api(None)
    return LabelSelector.from_api(selector.to_wire())


def _match_selector(selector: LabelSelectorSpec | None) -> str:
    """The canonical text of a metric selector for matching, absent meaning `{}`."""
    try:
        return str(LabelSelector.from_api((selector or LabelSelectorSpec()).to_wire()))
    except SelectorError:
        return repr(selector)


@dataclass(frozen=True, slots=True)
class ContainerUsage:
    name: str
    usage: Mapping[str, Quantity]


@dataclass(frozen=True, slots=True)
class PodMetricsItem:
    """One item of a metrics.k8s.io/v1beta1 PodMetricsList."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    timestamp: datetime
    window: timedelta
    containers: tuple[ContainerUsage, ...]


@dataclass(frozen=True, slots=True)
class CustomMetricItem:
    """One item of a custom.metrics.k8s.io/v1beta2 MetricValueList."""

    kind: str
    name: str
    namespace: str
    api_version: str
    metric_name: str
    metric_selector: LabelSelectorSpec | None
    timestamp: datetime
    window_seconds: int | None
    value: Quantity


@dataclass(frozen=True, slots=True)
class ExternalMetricItem:
    """One item of an external.metrics.k8s.io/v1beta1 ExternalMetricValueList."""

    metric_name: str
    metric_labels: Mapping[str, str]
    timestamp: datetime
    value: Quantity


def parse_pod_metrics_list(value: Any, path: str) -> tuple[PodMetricsItem, ...]:
    raw = as_map(value, path)
    result: list[PodMetricsItem] = []
    for position, item in enumerate(items(opt_list(raw, "items", path))):
        ipath = index(child(path, "items"), position)
        entry = as_map(item, ipath)
        metadata = opt_map(entry, "metadata", ipath) or {}
        mpath = child(ipath, "metadata")
        window_text = opt_str(entry, "window", ipath)
        containers: list[ContainerUsage] = []
        for cpos, container in enumerate(items(opt_list(entry, "containers", ipath))):
            cpath = index(child(ipath, "containers"), cpos)
            craw = as_map(container, cpath)
            usage_raw = opt_map(craw, "usage", cpath) or {}
            usage: dict[str, Quantity] = {}
            for resource in usage_raw:
                quantity = opt_quantity(usage_raw, resource, child(cpath, "usage"))
                if quantity is not None:
                    usage[resource] = quantity
            containers.append(ContainerUsage(opt_str(craw, "name", cpath) or "", usage))
        result.append(
            PodMetricsItem(
                name=opt_str(metadata, "name", mpath) or "",
                namespace=opt_str(metadata, "namespace", mpath) or "",
                labels=opt_string_map(metadata, "labels", mpath) or {},
                timestamp=opt_time(entry, "timestamp", ipath) or ZERO_TIME,
                window=parse_go_duration(window_text, child(ipath, "window"))
                if window_text
                else timedelta(0),
                containers=tuple(containers),
            )
        )
    return tuple(result)


def parse_custom_metric_lists(value: Any, path: str) -> tuple[CustomMetricItem, ...]:
    result: list[CustomMetricItem] = []
    if not isinstance(value, list):
        raise WireError(path, f"must be a list of MetricValueList objects, not {value!r}")
    for lpos, metric_list in enumerate(value):
        lpath = index(path, lpos)
        for position, item in enumerate(
            items(opt_list(as_map(metric_list, lpath), "items", lpath))
        ):
            ipath = index(child(lpath, "items"), position)
            entry = as_map(item, ipath)
            described = opt_map(entry, "describedObject", ipath) or {}
            dpath = child(ipath, "describedObject")
            metric = opt_map(entry, "metric", ipath) or {}
            mpath = child(ipath, "metric")
            selector_raw = metric.get("selector")
            quantity = opt_quantity(entry, "value", ipath)
            if quantity is None:
                raise WireError(child(ipath, "value"), "Required value")
            result.append(
                CustomMetricItem(
                    kind=opt_str(described, "kind", dpath) or "",
                    name=opt_str(described, "name", dpath) or "",
                    namespace=opt_str(described, "namespace", dpath) or "",
                    api_version=opt_str(described, "apiVersion", dpath) or "",
                    metric_name=opt_str(metric, "name", mpath) or "",
                    metric_selector=None
                    if selector_raw is None
                    else parse_label_selector_spec(selector_raw, child(mpath, "selector")),
                    timestamp=opt_time(entry, "timestamp", ipath) or ZERO_TIME,
                    window_seconds=opt_int(entry, "windowSeconds", ipath),
                    value=quantity,
                )
            )
    return tuple(result)


def parse_external_metric_lists(value: Any, path: str) -> tuple[ExternalMetricItem, ...]:
    result: list[ExternalMetricItem] = []
    if not isinstance(value, list):
        raise WireError(path, f"must be a list of ExternalMetricValueList objects, not {value!r}")
    for lpos, metric_list in enumerate(value):
        lpath = index(path, lpos)
        for position, item in enumerate(
            items(opt_list(as_map(metric_list, lpath), "items", lpath))
        ):
            ipath = index(child(lpath, "items"), position)
            entry = as_map(item, ipath)
            quantity = opt_quantity(entry, "value", ipath)
            if quantity is None:
                raise WireError(child(ipath, "value"), "Required value")
            result.append(
                ExternalMetricItem(
                    metric_name=opt_str(entry, "metricName", ipath) or "",
                    metric_labels=opt_string_map(entry, "metricLabels", ipath) or {},
                    timestamp=opt_time(entry, "timestamp", ipath) or ZERO_TIME,
                    value=quantity,
                )
            )
    return tuple(result)


def _group_of(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


class ResponsesMetricsSource:
    """A MetricsSource over responses fetched before the sync (None: not fetched/failed)."""

    def __init__(
        self,
        pod_metrics: Sequence[PodMetricsItem] | None,
        custom: Sequence[CustomMetricItem] | None,
        external: Sequence[ExternalMetricItem] | None,
    ) -> None:
        self._pod_metrics = pod_metrics
        self._custom = custom
        self._external = external

    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str
    ) -> tuple[dict[str, PodMetric], datetime]:
        matching = [
            item
            for item in self._pod_metrics or ()
            if item.namespace in ("", namespace) and selector.matches(item.labels)
        ]
        if not matching:
            raise MetricUnavailable("no metrics returned from resource metrics API")
        result: dict[str, PodMetric] = {}
        for item in matching:
            if container:
                for usage in item.containers:
                    if usage.name == container:
                        quantity = usage.usage.get(resource)
                        if quantity is not None:
                            result[item.name] = PodMetric(
                                quantity.milli_value(), item.timestamp, item.window
                            )
                        break
                continue
            total = 0
            missing = not item.containers
            for usage in item.containers:
                quantity = usage.usage.get(resource)
                if quantity is None:
                    missing = True
                    break
                total += quantity.milli_value()
            if not missing:
                result[item.name] = PodMetric(total, item.timestamp, item.window)
        return result, matching[0].timestamp

    def get_raw_metric(
        self,
        metric_name: str,
        namespace: str,
        selector: LabelSelector,
        metric_selector: LabelSelector,
    ) -> tuple[dict[str, PodMetric], datetime]:
        wanted = str(metric_selector)
        matching = [
            item
            for item in self._custom or ()
            if item.metric_name == metric_name
            and item.kind == "Pod"
            and _group_of(item.api_version) == ""
            and item.namespace in ("", namespace)
            and _match_selector(item.metric_selector) == wanted
        ]
        if not matching:
            raise MetricUnavailable("no metrics returned from custom metrics API")
        result: dict[str, PodMetric] = {}
        for item in matching:
            window = (
                DEFAULT_CUSTOM_METRIC_WINDOW
                if item.window_seconds is None
                else timedelta(seconds=item.window_seconds)
            )
            result[item.name] = PodMetric(item.value.milli_value(), item.timestamp, window)
        return result, matching[0].timestamp

    def get_object_metric(
        self,
        metric_name: str,
        namespace: str,
        object_ref: CrossVersionObjectReference,
        metric_selector: LabelSelector,
    ) -> tuple[int, datetime]:
        wanted = str(metric_selector)
        group = _group_of(object_ref.api_version)
        # A Namespace is root-scoped: upstream asks about the HPA's own namespace.
        name = namespace if (object_ref.kind == "Namespace" and group == "") else object_ref.name
        matching = [
            item
            for item in self._custom or ()
            if item.metric_name == metric_name
            and item.kind == object_ref.kind
            and item.name == name
            and (not item.api_version or _group_of(item.api_version) == group)
            and (object_ref.kind == "Namespace" or item.namespace in ("", namespace))
            and _match_selector(item.metric_selector) == wanted
        ]
        if len(matching) != 1:
            raise MetricUnavailable(
                "unable to fetch metrics from custom metrics API: the custom metrics API "
                f"server returned {len(matching)} results when we asked for exactly one"
            )
        return matching[0].value.milli_value(), matching[0].timestamp

    def get_external_metric(
        self, metric_name: str, namespace: str, metric_selector: LabelSelector
    ) -> tuple[list[int], datetime]:
        matching = [
            item
            for item in self._external or ()
            if item.metric_name == metric_name and metric_selector.matches(item.metric_labels)
        ]
        if not matching:
            raise MetricUnavailable("no metrics returned from external metrics API")
        return [item.value.milli_value() for item in matching], matching[0].timestamp
