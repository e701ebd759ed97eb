"""external.metrics.k8s.io: a registry lookup and one PromQL query, every sample an item.

A request names a metric and a namespace; the metric selector (the request's
`labelSelector`) becomes `.LabelMatchers` through `adapter.rules.matchers`, followed by
the namespace matcher unless the rule says `resources.namespaced: false`, exactly as
prometheus-adapter's external provider builds it. The answer is every sample of the
result, each with all its labels and its own timestamp; a scalar result is one item
without labels. Values are milli-quantities, as upstream converts them.

Errors, as upstream words them where it has words: a metric discovery has not seen is
404 "the server could not find the metric M for R" (R is `namespaces` in the `default`
namespace and empty elsewhere, a quirk of custom-metrics-apiserver kept on purpose); a
query that cannot be built or that Prometheus rejects is 500 InternalError "unable to
fetch metrics". Three deliberate differences: Prometheus unreachable or slow is 503, as
for custom metrics; a result with no sample is 404, not an empty 200 list (unless the
rule says `emptyResult: zero`), because the HPA must see missing data as missing; and a
sample that is NaN or ±Inf (no value: 404, as no sample) or beyond a quantity (500) fails
the request rather than becoming the garbage quantity upstream writes, since the HPA
sums every item and one garbage or left-out item corrupts the sum.

The HTTP side (paths, JSON) is `adapter.server.external_metrics`'.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from adapter.k8s import status
from adapter.k8s.resources import GroupResource
from adapter.prometheus import errors as prom_errors
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.results import QueryResult, Sample
from adapter.providers import deadlines
from adapter.providers.base import (
    ExternalMetricInfo,
    ExternalMetricRequest,
    ExternalMetricValue,
)
from adapter.providers.failures import (
    check_metric_selector,
    metric_not_found,
    prometheus_failure,
    unreadable_value,
)
from adapter.providers.values import UnrepresentableValueError, milli_quantity
from adapter.rules import query as queries
from adapter.rules.config import EmptyResult
from adapter.rules.registry import ExternalEntry, Registry

log = logging.getLogger(__name__)

_NAMESPACES = GroupResource("", "namespaces")
_NOTHING = GroupResource("", "")


def external_metric_not_found(namespace: str, metric: str) -> status.StatusError:
    """custom-metrics-apiserver's NewMetricNotFoundError as prometheus-adapter's external
    provider calls it: the resource is `namespaces` only when the namespace is
    `default`, so elsewhere the message ends in "for " (trailing space)."""
    return metric_not_found(_NAMESPACES if namespace == "default" else _NOTHING, metric)


def unable_to_fetch(reason: str) -> status.StatusError:
    """Upstream's 500 for a query it could not build or run; we add the reason."""
    return status.internal_error(f"unable to fetch metrics: {reason}")


def _timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class ExternalMetricsProvider:
    def __init__(
        self,
        registry: Callable[[], Registry],
        prometheus: PrometheusClient,
        *,
        query_timeout: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registry = registry
        self._prometheus = prometheus
        self._query_timeout = query_timeout
        self._clock = clock

    def list_metrics(self) -> Sequence[ExternalMetricInfo]:
        return [ExternalMetricInfo(entry.metric) for entry in self._registry().external_entries()]

    def resolve(self, request: ExternalMetricRequest) -> ExternalEntry:
        entry = self._registry().lookup_external(request.metric)
        if entry is None:
            raise external_metric_not_found(request.namespace, request.metric)
        return entry

    def build_query(self, request: ExternalMetricRequest, entry: ExternalEntry) -> str:
        compiled = entry.rule
        namespace = request.namespace if entry.namespaced else None
        try:
            return queries.external_query(
                compiled.rule.metrics_query,
                compiled.converter,
                entry.series_name,
                namespace,
                request.metric_selector,
            )
        except queries.QueryBuildError as err:
            # Upstream: "unable to generate a query for the metric", answered as a 500.
            log.warning("no query for external metric %s: %s", request.metric, err)
            raise unable_to_fetch(f"unable to generate a query for the metric: {err}") from err

    async def query(self, promql: str) -> QueryResult:
        try:
            deadline = deadlines.query_deadline(self._query_timeout)
            result = await self._prometheus.query(promql, deadline=deadline)
        except prom_errors.PrometheusError as err:
            log.error("query failed: %s: %s", err, promql[:500])
            raise prometheus_failure(err) from err
        if result.result_type not in ("vector", "scalar"):
            log.error(
                "expected a vector or scalar from %s, got %s", promql[:500], result.result_type
            )
            raise unable_to_fetch(
                f"the query returned a {result.result_type}; external metrics need an instant "
                "vector or a scalar"
            )
        return result

    async def get_metrics(self, request: ExternalMetricRequest) -> Sequence[ExternalMetricValue]:
        check_metric_selector(request.metric_selector, "labelSelector")
        entry = self.resolve(request)
        result = await self.query(self.build_query(request, entry))
        samples: Sequence[Sample] = result.samples
        if result.result_type == "scalar" and result.scalar is not None:
            samples = (result.scalar,)
        if not samples:
            if entry.rule.rule.empty_result is EmptyResult.ZERO:
                return [ExternalMetricValue(request.metric, {}, self._clock(), "0")]
            log.info("external metric %s: the query returned no samples", request.metric)
            raise status.StatusError(
                404,
                "NotFound",
                f"the server could not find the metric {request.metric}: "
                "the query returned no samples",
            )
        return [self._value(request.metric, sample) for sample in samples]

    @staticmethod
    def _value(metric: str, sample: Sample) -> ExternalMetricValue:
        try:
            value = milli_quantity(sample.value)
        except UnrepresentableValueError as err:
            log.warning("external metric %s: sample %s: %s", metric, dict(sample.labels), err)
            series = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            raise unreadable_value(err, metric, f"the series {{{series}}}") from err
        return ExternalMetricValue(metric, dict(sample.labels), _timestamp(sample.timestamp), value)
