"""custom.metrics.k8s.io: a registry lookup, at most one list call, one PromQL query.

For `*` requests the object names come from the cluster in one metadata-only list call
and go into one query (`pod=~"a|b|..."`), whatever their number; samples are matched back
to objects by the resource label, and objects without a sample are left out. Error
statuses follow custom-metrics-apiserver and prometheus-adapter (404 "the server could
not find the metric M for R"), except that Prometheus being unreachable or slow is a 503
(upstream: 500 for everything) so clients can tell an outage from a broken query.

No silent zero: when no object got a sample, a `*` request is a 404 too (upstream
answers 200 with no items), so "no data" never looks like an answer. A rule with
`emptyResult: zero` opts in to reading a missing sample as 0, for every object asked.
A sample that is NaN, ±Inf or beyond a quantity is no answer either (upstream turns NaN
into 0): the object is left out of a `*` list, and a named object gets the Status
`adapter.providers.failures.unreadable_value` words — never a 0, never a scale-down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from adapter.k8s import status
from adapter.k8s.resources import GroupResource, ResourceInfo, RestMapper, UnknownResourceError
from adapter.k8s.selectors import LabelSelector
from adapter.prometheus import errors as prom_errors
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.results import QueryResult
from adapter.providers import deadlines
from adapter.providers.base import (
    CustomMetricInfo,
    CustomMetricRequest,
    CustomMetricValue,
    ObjectReference,
)
from adapter.providers.failures import (
    check_metric_selector,
    metric_not_found,
    no_samples,
    prometheus_failure,
    unreadable_value,
)
from adapter.providers.values import UnrepresentableValueError, milli_quantity
from adapter.rules import query as queries
from adapter.rules.config import EmptyResult
from adapter.rules.registry import CustomEntry, Registry

log = logging.getLogger(__name__)


class ObjectLister(Protocol):
    """Names of the objects a label selector matches, in the API server's list order."""

    async def list_object_names(
        self, info: ResourceInfo, namespace: str | None, selector: LabelSelector
    ) -> list[str]: ...


class CustomMetricsProvider:
    def __init__(
        self,
        registry: Callable[[], Registry],
        mapper: Callable[[], RestMapper],
        prometheus: PrometheusClient,
        lister: ObjectLister,
        *,
        query_timeout: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registry = registry
        self._mapper = mapper
        self._prometheus = prometheus
        self._lister = lister
        self._query_timeout = query_timeout
        self._clock = clock

    def list_metrics(self) -> Sequence[CustomMetricInfo]:
        return [
            CustomMetricInfo(entry.group_resource, entry.metric, entry.namespaced)
            for entry in self._registry().custom_entries()
        ]

    def resolve(self, request: CustomMetricRequest) -> tuple[ResourceInfo, CustomEntry]:
        """The resource and registry entry serving a request, or the 404 upstream returns."""
        asked = GroupResource.parse(request.resource)
        try:
            info = self._mapper().resolve(asked)
        except UnknownResourceError as err:
            raise metric_not_found(asked, request.metric) from err
        namespaced = request.namespace is not None
        entry = self._registry().lookup_custom(info.group_resource, namespaced, request.metric)
        if entry is None:
            raise metric_not_found(info.group_resource, request.metric)
        return info, entry

    def build_query(
        self, request: CustomMetricRequest, entry: CustomEntry, names: Sequence[str]
    ) -> str:
        compiled = entry.rule
        try:
            return queries.object_query(
                compiled.rule.metrics_query,
                compiled.converter,
                entry.series_name,
                entry.group_resource,
                request.namespace,
                names,
                request.metric_selector,
            )
        except queries.QueryBuildError as err:
            # Upstream logs the reason and answers "metric not found"; we keep the
            # status but say why, since the reason is the user's own config.
            log.warning("no query for %s %s: %s", entry.group_resource, request.metric, err)
            raise status.StatusError(
                404,
                "NotFound",
                f"the server could not find the metric {request.metric} "
                f"for {entry.group_resource}: {err}",
            ) from err

    async def names_for(self, request: CustomMetricRequest, info: ResourceInfo) -> list[str]:
        if request.name != "*":
            return [request.name]
        try:
            names = await self._lister.list_object_names(
                info, request.namespace, request.label_selector
            )
        except status.StatusError:
            raise
        except Exception as err:
            log.error("unable to list %s: %s", info.group_resource, err)
            raise status.internal_error("unable to list matching resources") from err
        if not names:
            raise metric_not_found(info.group_resource, request.metric)
        return names

    async def query(self, promql: str) -> QueryResult:
        try:
            deadline = deadlines.query_deadline(self._query_timeout)
            result = await self._prometheus.query(promql, deadline=deadline)
        except prom_errors.PrometheusError as err:
            log.error("query failed: %s: %s", err, promql[:500])
            raise prometheus_failure(err) from err
        if result.result_type != "vector":
            log.error("expected a vector from %s, got %s", promql[:500], result.result_type)
            raise status.internal_error(
                "unable to fetch metrics: the query did not return a vector"
            )
        return result

    async def get_metrics(self, request: CustomMetricRequest) -> Sequence[CustomMetricValue]:
        check_metric_selector(request.metric_selector, "metricLabelSelector")
        info, entry = self.resolve(request)
        names = await self.names_for(request, info)
        result = await self.query(self.build_query(request, entry, names))
        label = entry.rule.converter.label_for_resource(entry.group_resource)
        by_name: dict[str, float] = {}
        for sample in result.samples:
            by_name[sample.labels.get(label, "")] = sample.value  # several samples: last wins
        now = self._clock()
        selector = None if request.metric_selector.is_empty() else request.metric_selector
        api_version = f"{info.group}/{info.version}"
        missing_is_zero = entry.rule.rule.empty_result is EmptyResult.ZERO

        unreadable: list[UnrepresentableValueError] = []

        def value_for(name: str) -> CustomMetricValue | None:
            if name in by_name:
                try:
                    quantity = milli_quantity(by_name[name])
                except UnrepresentableValueError as err:
                    log.warning(
                        "%s %s for %s left out: %s", info.group_resource, request.metric, name, err
                    )
                    unreadable.append(err)
                    return None
            elif missing_is_zero:
                quantity = "0"
            else:
                return None
            return CustomMetricValue(
                described_object=ObjectReference(
                    kind=info.kind, name=name, api_version=api_version, namespace=request.namespace
                ),
                metric=request.metric,
                timestamp=now,
                value=quantity,
                selector=selector,
            )

        if request.name != "*":
            single = value_for(request.name)
            if single is None:
                if unreadable:
                    target = f"{info.group_resource} {request.name}"
                    raise unreadable_value(unreadable[0], request.metric, target)
                raise metric_not_found(info.group_resource, request.metric, request.name)
            return [single]
        values = [value for name in names if (value := value_for(name)) is not None]
        if not values:
            log.info(
                "%s %s: no readable sample for any of %d object(s)",
                info.group_resource,
                request.metric,
                len(names),
            )
            if unreadable:
                raise unreadable_value(unreadable[0], request.metric, str(info.group_resource))
            raise no_samples(metric_not_found(info.group_resource, request.metric))
        return values
