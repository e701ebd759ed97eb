"""The replica calculator: from metric samples and pods to a proposed replica count.

Owns kube-controller-manager's `replica_calculator.go` and the metrics package's
utilization helpers, arithmetic for arithmetic: float64 ratios, `math.Ceil`, int32 and
int64 conversions with Go's wrap-around and saturation (an out-of-range float becomes
the minimum integer, as on amd64), the ready / unready / missing / ignored grouping of
pods with the CPU initialization period and the initial readiness delay, the
rebalancing that counts missing pods at 0 or 100% of target and unready pods at 0, and
the checks that refuse a proposal whose direction the rebalancing would reverse.
Error messages are upstream's, word for word, since they end up in conditions and
events that runbooks grep for.

Where metric values come from is a `MetricsSource` (snapshot responses, or what the
controller loop fetched); what the HPA does with the proposal is `adapter.hpa.sync`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from adapter.hpa.model import ZERO_TIME, CrossVersionObjectReference, Pod, PodMetric
from adapter.k8s.selectors import LabelSelector

__all__ = [
    "CalculationDetail",
    "CalculationError",
    "MetricUnavailable",
    "MetricsSource",
    "PlainReplicas",
    "ReplicaCalculator",
    "ResourceReplicas",
    "Tolerances",
    "go_div",
    "go_fdiv",
    "int32_from_float",
    "int64_from_float",
    "wrap_int32",
]


class MetricUnavailable(Exception):
    """A metrics API could not serve a metric at this sync.

    The message is what upstream's metrics client would say (for example "no metrics
    returned from resource metrics API"); the calculator wraps it like upstream does.
    """


class CalculationError(Exception):
    """The calculator could not propose a replica count; the message is upstream's."""


INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

CPU = "cpu"
_SUPPORTED_POD_LEVEL_RESOURCES = frozenset({"cpu", "memory"})


def wrap_int32(value: int) -> int:
    """Go's int32 conversion of an integer: keep the low 32 bits, two's complement."""
    return ((value + 2**31) % 2**32) - 2**31


def wrap_int64(value: int) -> int:
    return ((value + 2**63) % 2**64) - 2**63


def int32_from_float(value: float) -> int:
    """Go's `int32(f)`: truncate; NaN, infinities and out-of-range give MinInt32 (amd64)."""
    if math.isnan(value) or math.isinf(value):
        return INT32_MIN
    truncated = int(value)
    return truncated if INT32_MIN <= truncated <= INT32_MAX else INT32_MIN


def int64_from_float(value: float) -> int:
    """Go's `int64(f)`: truncate; NaN, infinities and out-of-range give MinInt64 (amd64)."""
    if math.isnan(value) or math.isinf(value):
        return INT64_MIN
    truncated = int(value)
    return truncated if INT64_MIN <= truncated <= INT64_MAX else INT64_MIN


def go_fdiv(numerator: float, denominator: float) -> float:
    """float64 division as Go does it: x/0 is ±Inf and 0/0 is NaN, never an exception."""
    if denominator == 0:
        if numerator == 0 or math.isnan(numerator):
            return math.nan
        positive = (numerator > 0) == (math.copysign(1.0, denominator) > 0)
        return math.inf if positive else -math.inf
    return numerator / denominator


def go_div(numerator: int, denominator: int) -> int:
    """Integer division truncating toward zero, as Go's `/` on int64."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator >= 0) else -quotient


def ceil(value: float) -> float:
    """`math.Ceil`, keeping infinities and NaN as floats."""
    if math.isnan(value) or math.isinf(value):
        return value
    return float(math.ceil(value))


@dataclass(frozen=True, slots=True)
class Tolerances:
    """The usage-ratio band inside which no scaling happens, per direction."""

    scale_down: float
    scale_up: float

    def is_within(self, usage_ratio: float) -> bool:
        return (1.0 - self.scale_down) <= usage_ratio <= (1.0 + self.scale_up)


class MetricsSource(Protocol):
    """What the calculator asks the metrics APIs, in upstream's MetricsClient shape.

    Each call either answers or raises `MetricUnavailable`. Values are milli-units.
    """

    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str
    ) -> tuple[dict[str, PodMetric], datetime]: ...

    def get_raw_metric(
        self,
        metric_name: str,
        namespace: str,
        selector: LabelSelector,
        metric_selector: LabelSelector,
    ) -> tuple[dict[str, PodMetric], datetime]: ...

    def get_object_metric(
        self,
        metric_name: str,
        namespace: str,
        object_ref: CrossVersionObjectReference,
        metric_selector: LabelSelector,
    ) -> tuple[int, datetime]: ...

    def get_external_metric(
        self, metric_name: str, namespace: str, metric_selector: LabelSelector
    ) -> tuple[list[int], datetime]: ...


@dataclass(frozen=True, slots=True)
class CalculationDetail:
    """How a proposal came about, for the explanation `hpa evaluate` prints."""

    usage_ratio: float | None = None
    within_tolerance: bool | None = None
    ready_pods: int | None = None
    unready_pods: tuple[str, ...] = ()
    missing_pods: tuple[str, ...] = ()
    ignored_pods: tuple[str, ...] = ()
    rebalanced_usage_ratio: float | None = None
    kept_current: str = ""
    """Why the current count was kept although the ratio was outside tolerance."""


@dataclass(frozen=True, slots=True)
class ResourceReplicas:
    replicas: int
    utilization: int
    raw_utilization: int
    timestamp: datetime
    detail: CalculationDetail = field(default_factory=CalculationDetail)


@dataclass(frozen=True, slots=True)
class PlainReplicas:
    replicas: int
    usage: int
    timestamp: datetime
    detail: CalculationDetail = field(default_factory=CalculationDetail)


@dataclass(frozen=True, slots=True)
class _Groups:
    ready_count: int
    unready: tuple[str, ...]
    missing: tuple[str, ...]
    ignored: tuple[str, ...]


def _resource_utilization_ratio(
    metrics: Mapping[str, PodMetric], requests: Mapping[str, int], target_utilization: int
) -> tuple[float, int, int]:
    """metrics.GetResourceUtilizationRatio: (ratio, utilization %, raw average)."""
    metrics_total = 0
    requests_total = 0
    entries = 0
    for pod_name, metric in metrics.items():
        request = requests.get(pod_name)
        if request is None:
            # Missing requests are checked elsewhere; these are extraneous metrics.
            continue
        metrics_total += metric.value
        requests_total += request
        entries += 1
    if requests_total == 0:
        raise CalculationError("no metrics returned matched known pods")
    utilization = wrap_int32(go_div(metrics_total * 100, requests_total))
    ratio = float(utilization) / float(target_utilization)
    return ratio, utilization, wrap_int64(go_div(metrics_total, entries))


def _metric_usage_ratio(metrics: Mapping[str, PodMetric], target_usage: int) -> tuple[float, int]:
    """metrics.GetMetricUsageRatio: (ratio, average usage)."""
    total = sum(metric.value for metric in metrics.values())
    usage = wrap_int64(go_div(total, len(metrics)))
    return go_fdiv(float(usage), float(target_usage)), usage


_Usage = TypeVar("_Usage")


def _replicas_for_ratio(
    metrics: dict[str, PodMetric],
    groups: _Groups,
    current_replicas: int,
    tolerances: Tolerances,
    ratio: Callable[[Mapping[str, PodMetric]], tuple[float, _Usage]],
    scale_down_fill: Callable[[str], int],
) -> tuple[int, CalculationDetail, _Usage]:
    """The replica count for a usage ratio, with upstream's care for pods without metrics.

    Shared by GetResourceReplicas and calcPlainMetricReplicas, which differ only in how
    the ratio is computed (`ratio`, which also gives the usage reported in status: that of
    the ready pods, as upstream) and what a missing pod is assumed to use when scaling
    down (`scale_down_fill`). Missing pods count as using nothing when scaling up, and so do
    unready pods; a rebalanced result within tolerance, or one reversing the direction,
    keeps the current count.
    """
    for name in (*groups.ignored, *groups.unready):
        metrics.pop(name, None)
    if not metrics:
        raise CalculationError("did not receive metrics for targeted pods (pods might be unready)")
    usage_ratio, usage = ratio(metrics)
    detail = CalculationDetail(
        usage_ratio=usage_ratio,
        within_tolerance=tolerances.is_within(usage_ratio),
        ready_pods=groups.ready_count,
        unready_pods=groups.unready,
        missing_pods=groups.missing,
        ignored_pods=groups.ignored,
    )
    scale_up_with_unready = bool(groups.unready) and usage_ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.is_within(usage_ratio):
            return current_replicas, detail, usage
        return int32_from_float(ceil(usage_ratio * float(groups.ready_count))), detail, usage

    if groups.missing:
        if usage_ratio < 1.0:
            for name in groups.missing:
                metrics[name] = PodMetric(scale_down_fill(name), ZERO_TIME, timedelta(0))
        elif usage_ratio > 1.0:
            for name in groups.missing:
                metrics[name] = PodMetric(0, ZERO_TIME, timedelta(0))
    if scale_up_with_unready:
        for name in groups.unready:
            metrics[name] = PodMetric(0, ZERO_TIME, timedelta(0))

    new_usage_ratio, _ = ratio(metrics)
    detail = _with_rebalance(detail, new_usage_ratio)
    if (
        tolerances.is_within(new_usage_ratio)
        or (usage_ratio < 1.0 < new_usage_ratio)
        or (usage_ratio > 1.0 > new_usage_ratio)
    ):
        reason = (
            "within tolerance after counting pods without metrics"
            if tolerances.is_within(new_usage_ratio)
            else "counting pods without metrics would reverse the scale direction"
        )
        return current_replicas, _kept(detail, reason), usage
    new_replicas = int32_from_float(ceil(new_usage_ratio * float(len(metrics))))
    if (new_usage_ratio < 1.0 and new_replicas > current_replicas) or (
        new_usage_ratio > 1.0 and new_replicas < current_replicas
    ):
        reason = "the pod count after rebalancing would reverse the scale direction"
        return current_replicas, _kept(detail, reason), usage
    return new_replicas, detail, usage


class ReplicaCalculator:
    """Proposals from one metric at a time, over the pods of one sync.

    `pods` are the pods the scale's selector picks (the pod lister's answer); `now` is
    the controller's clock, which upstream reads with `time.Now()`.
    """

    def __init__(
        self,
        metrics: MetricsSource,
        pods: Sequence[Pod],
        *,
        cpu_initialization_period: timedelta,
        delay_of_initial_readiness_status: timedelta,
        now: datetime,
        pod_level_resources: bool = True,
    ) -> None:
        self._metrics = metrics
        self._pods = tuple(pods)
        self._cpu_initialization_period = cpu_initialization_period
        self._delay_of_initial_readiness_status = delay_of_initial_readiness_status
        self._now = now
        self._pod_level_resources = pod_level_resources
        self._listed: tuple[str, LabelSelector, tuple[Pod, ...]] | None = None

    def _list_pods(self, namespace: str, selector: LabelSelector) -> tuple[Pod, ...]:
        # Every metric of a sync lists by the same selector: match the pods once.
        listed = self._listed
        if listed is not None and listed[0] == namespace and listed[1] is selector:
            return listed[2]
        pods = tuple(
            pod
            for pod in self._pods
            if pod.namespace in ("", namespace) and selector.matches(pod.labels)
        )
        self._listed = (namespace, selector, pods)
        return pods

    # -- resource metrics -------------------------------------------------------------

    def get_resource_replicas(
        self,
        current_replicas: int,
        target_utilization: int,
        resource: str,
        tolerances: Tolerances,
        namespace: str,
        selector: LabelSelector,
        container: str,
    ) -> ResourceReplicas:
        """GetResourceReplicas: a utilization target as a percentage of requests."""
        try:
            metrics, timestamp = self._metrics.get_resource_metric(
                resource, namespace, selector, container
            )
        except MetricUnavailable as err:
            raise CalculationError(f"unable to get metrics for resource {resource}: {err}") from err
        metrics = dict(metrics)
        pods = self._list_pods(namespace, selector)
        if not pods:
            raise CalculationError("no pods returned by selector while calculating replica count")
        groups = self._group_pods(pods, metrics, resource)
        requests = self._calculate_requests(pods, container, resource)
        # Scaling down, a pod without metrics counts as using 100% of its request, or the
        # target itself when the target is above 100%.
        fallback = max(100, target_utilization)

        def ratio(values: Mapping[str, PodMetric]) -> tuple[float, tuple[int, int]]:
            usage_ratio, utilization, raw = _resource_utilization_ratio(
                values, requests, target_utilization
            )
            return usage_ratio, (utilization, raw)

        replicas, detail, (utilization, raw) = _replicas_for_ratio(
            metrics,
            groups,
            current_replicas,
            tolerances,
            ratio,
            lambda name: go_div(requests[name] * fallback, 100),
        )
        return ResourceReplicas(replicas, utilization, raw, timestamp, detail)

    def get_raw_resource_replicas(
        self,
        current_replicas: int,
        target_usage: int,
        resource: str,
        tolerances: Tolerances,
        namespace: str,
        selector: LabelSelector,
        container: str,
    ) -> PlainReplicas:
        """GetRawResourceReplicas: an average-value target on a resource metric."""
        try:
            metrics, timestamp = self._metrics.get_resource_metric(
                resource, namespace, selector, container
            )
        except MetricUnavailable as err:
            raise CalculationError(f"unable to get metrics for resource {resource}: {err}") from err
        replicas, usage, detail = self._plain_metric_replicas(
            dict(metrics), current_replicas, target_usage, tolerances, namespace, selector, resource
        )
        return PlainReplicas(replicas, usage, timestamp, detail)

    # -- pods metrics -----------------------------------------------------------------

    def get_metric_replicas(
        self,
        current_replicas: int,
        target_usage: int,
        metric_name: str,
        tolerances: Tolerances,
        namespace: str,
        selector: LabelSelector,
        metric_selector: LabelSelector,
    ) -> PlainReplicas:
        """GetMetricReplicas: a per-pod average of a custom metric."""
        try:
            metrics, timestamp = self._metrics.get_raw_metric(
                metric_name, namespace, selector, metric_selector
            )
        except MetricUnavailable as err:
            raise CalculationError(f"unable to get metric {metric_name}: {err}") from err
        replicas, usage, detail = self._plain_metric_replicas(
            dict(metrics), current_replicas, target_usage, tolerances, namespace, selector, ""
        )
        return PlainReplicas(replicas, usage, timestamp, detail)

    def _plain_metric_replicas(
        self,
        metrics: dict[str, PodMetric],
        current_replicas: int,
        target_usage: int,
        tolerances: Tolerances,
        namespace: str,
        selector: LabelSelector,
        resource: str,
    ) -> tuple[int, int, CalculationDetail]:
        """calcPlainMetricReplicas: like the resource case, on averages of raw values."""
        pods = self._list_pods(namespace, selector)
        if not pods:
            raise CalculationError("no pods returned by selector while calculating replica count")
        groups = self._group_pods(pods, metrics, resource)
        # Scaling down, a pod without metrics counts as using exactly the target.
        replicas, detail, usage = _replicas_for_ratio(
            metrics,
            groups,
            current_replicas,
            tolerances,
            lambda values: _metric_usage_ratio(values, target_usage),
            lambda _name: target_usage,
        )
        return replicas, usage, detail

    # -- object metrics ---------------------------------------------------------------

    def get_object_metric_replicas(
        self,
        current_replicas: int,
        target_usage: int,
        metric_name: str,
        tolerances: Tolerances,
        namespace: str,
        object_ref: CrossVersionObjectReference,
        selector: LabelSelector,
        metric_selector: LabelSelector,
    ) -> PlainReplicas:
        """GetObjectMetricReplicas: a value target on one object's metric.

        Upstream drops the metric's timestamp here and reports the zero time.
        """
        try:
            usage, _ = self._metrics.get_object_metric(
                metric_name, namespace, object_ref, metric_selector
            )
        except MetricUnavailable as err:
            # The argument order is upstream's own (kind and namespace land oddly).
            raise CalculationError(
                f"unable to get metric {metric_name}: {object_ref.kind} on {namespace} "
                f"{object_ref.name}/{err}"
            ) from err
        usage_ratio = go_fdiv(float(usage), float(target_usage))
        replicas, detail = self._usage_ratio_replica_count(
            current_replicas, usage_ratio, tolerances, namespace, selector
        )
        return PlainReplicas(replicas, usage, ZERO_TIME, detail)

    def get_object_per_pod_metric_replicas(
        self,
        status_replicas: int,
        target_average_usage: int,
        metric_name: str,
        tolerances: Tolerances,
        namespace: str,
        object_ref: CrossVersionObjectReference,
        metric_selector: LabelSelector,
    ) -> PlainReplicas:
        """GetObjectPerPodMetricReplicas: an average-value target on an object's metric."""
        try:
            usage, timestamp = self._metrics.get_object_metric(
                metric_name, namespace, object_ref, metric_selector
            )
        except MetricUnavailable as err:
            raise CalculationError(
                f"unable to get metric {metric_name}: {object_ref.kind} on {namespace} "
                f"{object_ref.name}/{err}"
            ) from err
        replicas = status_replicas
        usage_ratio = go_fdiv(float(usage), float(target_average_usage) * float(replicas))
        within = tolerances.is_within(usage_ratio)
        if not within:
            replicas = int32_from_float(ceil(go_fdiv(float(usage), float(target_average_usage))))
        per_pod = int64_from_float(ceil(go_fdiv(float(usage), float(status_replicas))))
        detail = CalculationDetail(usage_ratio=usage_ratio, within_tolerance=within)
        return PlainReplicas(replicas, per_pod, timestamp, detail)

    # -- external metrics -------------------------------------------------------------

    def get_external_metric_replicas(
        self,
        current_replicas: int,
        target_usage: int,
        metric_name: str,
        tolerances: Tolerances,
        namespace: str,
        metric_selector: LabelSelector,
        selector_text: str,
        pod_selector: LabelSelector,
    ) -> PlainReplicas:
        """GetExternalMetricReplicas: a value target on the sum of an external metric.

        `selector_text` is the spec's selector as upstream's `%+v` prints it. Upstream
        drops the metric's timestamp here and reports the zero time.
        """
        try:
            values, _ = self._metrics.get_external_metric(metric_name, namespace, metric_selector)
        except MetricUnavailable as err:
            raise CalculationError(
                f"unable to get external metric {namespace}/{metric_name}/{selector_text}: {err}"
            ) from err
        usage = 0
        for value in values:
            if value > 0 and usage > INT64_MAX - value:
                usage = INT64_MAX
                break
            usage = wrap_int64(usage + value)
        usage_ratio = go_fdiv(float(usage), float(target_usage))
        replicas, detail = self._usage_ratio_replica_count(
            current_replicas, usage_ratio, tolerances, namespace, pod_selector
        )
        return PlainReplicas(replicas, usage, ZERO_TIME, detail)

    def get_external_per_pod_metric_replicas(
        self,
        status_replicas: int,
        target_usage_per_pod: int,
        metric_name: str,
        tolerances: Tolerances,
        namespace: str,
        metric_selector: LabelSelector,
        selector_text: str,
    ) -> PlainReplicas:
        """GetExternalPerPodMetricReplicas: an average-value target on an external metric."""
        try:
            values, timestamp = self._metrics.get_external_metric(
                metric_name, namespace, metric_selector
            )
        except MetricUnavailable as err:
            raise CalculationError(
                f"unable to get external metric {namespace}/{metric_name}/{selector_text}: {err}"
            ) from err
        usage = 0
        for value in values:
            usage = wrap_int64(usage + value)
            if usage < 0:
                # Upstream reads a negative sum as an int64 overflow.
                usage = INT64_MAX
                break
        replicas = status_replicas
        usage_ratio = go_fdiv(float(usage), float(target_usage_per_pod) * float(replicas))
        within = tolerances.is_within(usage_ratio)
        if not within:
            result = ceil(go_fdiv(float(usage), float(target_usage_per_pod)))
            replicas = INT32_MAX if result > float(INT32_MAX) else int32_from_float(result)
        if float(usage) >= float(INT64_MAX):
            per_pod = INT64_MAX
        else:
            per_pod = int64_from_float(ceil(go_fdiv(float(usage), float(status_replicas))))
        detail = CalculationDetail(usage_ratio=usage_ratio, within_tolerance=within)
        return PlainReplicas(replicas, per_pod, timestamp, detail)

    def _usage_ratio_replica_count(
        self,
        current_replicas: int,
        usage_ratio: float,
        tolerances: Tolerances,
        namespace: str,
        selector: LabelSelector,
    ) -> tuple[int, CalculationDetail]:
        """getUsageRatioReplicaCount: scale by ready pods, or from zero ignoring tolerance."""
        if current_replicas == 0:
            return int32_from_float(ceil(usage_ratio)), CalculationDetail(usage_ratio=usage_ratio)
        within = tolerances.is_within(usage_ratio)
        if within:
            return current_replicas, CalculationDetail(
                usage_ratio=usage_ratio, within_tolerance=True
            )
        pods = self._list_pods(namespace, selector)
        if not pods:
            raise CalculationError(
                "unable to calculate ready pods: "
                "no pods returned by selector while calculating replica count"
            )
        ready = sum(1 for pod in pods if pod.phase == "Running" and pod.is_ready())
        replica_count_float = usage_ratio * float(ready)
        if replica_count_float > INT32_MAX:
            replicas = INT32_MAX
        else:
            replicas = int32_from_float(ceil(replica_count_float))
        return replicas, CalculationDetail(
            usage_ratio=usage_ratio, within_tolerance=False, ready_pods=ready
        )

    # -- pod grouping and requests ----------------------------------------------------

    def _group_pods(
        self, pods: Sequence[Pod], metrics: Mapping[str, PodMetric], resource: str
    ) -> _Groups:
        """groupPods: which pods count, which wait, which have no sample, which are gone."""
        ready = 0
        unready: list[str] = []
        missing: list[str] = []
        ignored: list[str] = []
        for pod in pods:
            if pod.deleted or pod.phase == "Failed":
                ignored.append(pod.name)
                continue
            if pod.phase == "Pending":
                unready.append(pod.name)
                continue
            metric = metrics.get(pod.name)
            if metric is None:
                missing.append(pod.name)
                continue
            if resource == CPU and self._cpu_sample_unready(pod, metric):
                unready.append(pod.name)
                continue
            ready += 1
        return _Groups(ready, tuple(unready), tuple(missing), tuple(ignored))

    def _cpu_sample_unready(self, pod: Pod, metric: PodMetric) -> bool:
        condition = pod.ready
        if condition is None or pod.start_time is None:
            return True
        transition = condition.last_transition_time or ZERO_TIME
        if pod.start_time + self._cpu_initialization_period > self._now:
            # Still initializing: ignore the sample if the pod is unready, or if no full
            # metric window has passed since the pod's last readiness transition.
            return condition.status == "False" or metric.timestamp < transition + metric.window
        # Past initialization: ignore an unready pod only if it has never been ready.
        return (
            condition.status == "False"
            and pod.start_time + self._delay_of_initial_readiness_status > transition
        )

    def _calculate_requests(
        self, pods: Sequence[Pod], container: str, resource: str
    ) -> dict[str, int]:
        requests: dict[str, int] = {}
        # Pods of one workload usually share their container specs (the same objects
        # when they come from one template); sum each set of containers once.
        summed: dict[tuple[int, int], int] = {}
        for pod in pods:
            use_pod_level = (
                self._pod_level_resources and _pod_level_requests_set(pod) and container == ""
            )
            if use_pod_level:
                requests[pod.name] = _pod_level_request(pod, resource)
                continue
            key = (id(pod.containers), id(pod.init_containers))
            request = summed.get(key)
            if request is None:
                request = _container_requests(pod, container, resource)
                summed[key] = request
            requests[pod.name] = request
        return requests


def _pod_level_requests_set(pod: Pod) -> bool:
    return bool(pod.pod_requests) and any(
        name in _SUPPORTED_POD_LEVEL_RESOURCES for name in (pod.pod_requests or {})
    )


def _pod_level_request(pod: Pod, resource: str) -> int:
    """calculatePodLevelRequests via component-helpers' PodRequests."""
    totals: dict[str, int] = {}
    for container in pod.containers:
        for name, quantity in container.requests.items():
            totals[name] = totals.get(name, 0) + quantity.milli_value()
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for container in pod.init_containers:
        current = {name: q.milli_value() for name, q in container.requests.items()}
        if container.restart_policy == "Always":
            for name, value in current.items():
                totals[name] = totals.get(name, 0) + value
                sidecars[name] = sidecars.get(name, 0) + value
            current = dict(sidecars)
        else:
            for name, value in sidecars.items():
                current[name] = current.get(name, 0) + value
        for name, value in current.items():
            init_peak[name] = max(init_peak.get(name, value), value)
    for name, value in init_peak.items():
        totals[name] = max(totals.get(name, value), value)
    for name, quantity in (pod.pod_requests or {}).items():
        if name in _SUPPORTED_POD_LEVEL_RESOURCES:
            totals[name] = quantity.milli_value()
    if resource not in totals:
        raise CalculationError(f"missing pod-level request for {resource} in Pod {pod.name}")
    return totals[resource]


def _container_requests(pod: Pod, container: str, resource: str) -> int:
    """calculatePodRequestsFromContainers: sum, or the named container alone."""
    candidates = list(pod.containers) + [
        c for c in pod.init_containers if c.restart_policy == "Always"
    ]
    request = 0
    for candidate in candidates:
        if container in ("", candidate.name):
            quantity = candidate.requests.get(resource)
            if quantity is None:
                raise CalculationError(
                    f"missing request for {resource} in container {candidate.name} "
                    f"of Pod {pod.name}"
                )
            request += quantity.milli_value()
        if container == candidate.name:
            return request
    if container:
        raise CalculationError(f"container {container} not found in Pod {pod.name}")
    return request


def _with_rebalance(detail: CalculationDetail, new_ratio: float) -> CalculationDetail:
    return replace(detail, rebalanced_usage_ratio=new_ratio)


def _kept(detail: CalculationDetail, reason: str) -> CalculationDetail:
    return replace(detail, kept_current=reason)
