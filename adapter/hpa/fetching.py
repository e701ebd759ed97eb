"""Metric values for one sync: which requests it needs, fetching them, answering from them.

Owns the loop's half of upstream's metrics client. The calculation
(`adapter.hpa.sync`) is pure and asks a `MetricsSource` synchronously, so a sync runs
in three steps:

1. **Probe.** `decide` runs once against `ProbeSource`, which answers nothing and
   writes down every question the calculation asked - so the requests are exactly
   upstream's (none when the target is at zero or outside its bounds, one per metric
   spec otherwise, with the same selectors), without restating the decision flow here.
2. **Fetch** the requests concurrently from a `MetricsBackend`: the cluster's metrics
   APIs through the API server (`ApiMetricsBackend`: the paths, query parameters and
   group versions client-go's metrics clients use), or the adapter's own providers
   in-process when the loop runs inside the adapter (`ProviderMetricsBackend`, which
   renders the provider's answers exactly as the server would, and falls back to the
   API server for a group it does not serve). Answers are kept as wire JSON because a
   decision record stores them as the snapshot's `metrics`.
3. **Answer.** `FetchedMetricsSource` answers each question from the response to its
   own request, or fails it with upstream's wording ("unable to fetch metrics from
   custom metrics API: ...") when the request failed, so the condition and event say
   which metric could not be read and why. A failed metric is never a zero.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from adapter.cluster.autoscaling import error_text
from adapter.cluster.connection import Cluster, ClusterError
from adapter.documents import metrics as metric_documents
from adapter.documents import resource as resource_documents
from adapter.hpa.calculation import MetricUnavailable
from adapter.hpa.model import CrossVersionObjectReference, PodMetric
from adapter.hpa.sources import (
    ResponsesMetricsSource,
    parse_custom_metric_lists,
    parse_external_metric_lists,
    parse_pod_metrics_list,
)
from adapter.hpa.wire import WireError
from adapter.k8s import fields, status
from adapter.k8s.resources import RestMapper, UnknownResourceError
from adapter.k8s.selectors import LabelSelector
from adapter.providers import base as providers

__all__ = [
    "ApiMetricsBackend",
    "ExternalRequest",
    "Fetched",
    "FetchedMetricsSource",
    "MetricRequest",
    "MetricsBackend",
    "MetricsFetchError",
    "ObjectRequest",
    "PodsRequest",
    "ProbeSource",
    "ProviderMetricsBackend",
    "ResourceRequest",
    "fetch_all",
    "record_metrics",
]

T = TypeVar("T")

RESOURCE_API = "/apis/metrics.k8s.io/v1beta1"
CUSTOM_API = "/apis/custom.metrics.k8s.io/v1beta2"
EXTERNAL_API = "/apis/external.metrics.k8s.io/v1beta1"


class MetricsFetchError(Exception):
    """A metrics request that failed; the message is what client-go would report."""


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    """`metrics.k8s.io` PodMetrics of the pods a selector picks (Resource and
    ContainerResource metrics share it)."""

    namespace: str
    selector: LabelSelector


@dataclass(frozen=True, slots=True)
class PodsRequest:
    """`custom.metrics.k8s.io` metric of every pod a selector picks (Pods metrics)."""

    namespace: str
    metric: str
    selector: LabelSelector
    metric_selector: LabelSelector


@dataclass(frozen=True, slots=True)
class ObjectRequest:
    """`custom.metrics.k8s.io` metric of one object (Object metrics)."""

    namespace: str
    metric: str
    kind: str
    api_version: str
    name: str
    metric_selector: LabelSelector

    @property
    def group(self) -> str:
        return self.api_version.split("/", 1)[0] if "/" in self.api_version else ""


@dataclass(frozen=True, slots=True)
class ExternalRequest:
    """`external.metrics.k8s.io` series of a metric matching a selector."""

    namespace: str
    metric: str
    metric_selector: LabelSelector


MetricRequest = ResourceRequest | PodsRequest | ObjectRequest | ExternalRequest


class MetricsBackend(Protocol):
    """Where metric values come from; each call returns the API's wire JSON or raises
    MetricsFetchError. `mapper` maps an Object metric's kind to its resource; the loop
    replaces it after a rediscovery."""

    mapper: RestMapper | None

    async def resource(self, request: ResourceRequest) -> dict[str, Any]: ...

    async def pods(self, request: PodsRequest) -> dict[str, Any]: ...

    async def object(self, request: ObjectRequest) -> dict[str, Any]: ...

    async def external(self, request: ExternalRequest) -> dict[str, Any]: ...


# -- step 1: which requests -------------------------------------------------------------


class ProbeSource:
    """A MetricsSource that answers nothing and remembers what it was asked."""

    def __init__(self) -> None:
        self.requests: list[MetricRequest] = []

    def _want(self, request: MetricRequest) -> None:
        if request not in self.requests:
            self.requests.append(request)

    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str
    ) -> tuple[dict[str, PodMetric], datetime]:
        self._want(ResourceRequest(namespace, selector))
        raise MetricUnavailable("not fetched yet")

    def get_raw_metric(
        self,
        metric_name: str,
        namespace: str,
        selector: LabelSelector,
        metric_selector: LabelSelector,
    ) -> tuple[dict[str, PodMetric], datetime]:
        self._want(PodsRequest(namespace, metric_name, selector, metric_selector))
        raise MetricUnavailable("not fetched yet")

    def get_object_metric(
        self,
        metric_name: str,
        namespace: str,
        object_ref: CrossVersionObjectReference,
        metric_selector: LabelSelector,
    ) -> tuple[int, datetime]:
        self._want(
            ObjectRequest(
                namespace,
                metric_name,
                object_ref.kind,
                object_ref.api_version,
                object_ref.name,
                metric_selector,
            )
        )
        raise MetricUnavailable("not fetched yet")

    def get_external_metric(
        self, metric_name: str, namespace: str, metric_selector: LabelSelector
    ) -> tuple[list[int], datetime]:
        self._want(ExternalRequest(namespace, metric_name, metric_selector))
        raise MetricUnavailable("not fetched yet")


# -- step 2: fetching -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched:
    request: MetricRequest
    response: dict[str, Any] | None
    error: str | None
    seconds: float


async def _fetch_one(backend: MetricsBackend, request: MetricRequest) -> Fetched:
    started = time.perf_counter()
    try:
        if isinstance(request, ResourceRequest):
            response = await backend.resource(request)
        elif isinstance(request, PodsRequest):
            response = await backend.pods(request)
        elif isinstance(request, ObjectRequest):
            response = await backend.object(request)
        else:
            response = await backend.external(request)
    except MetricsFetchError as err:
        return Fetched(request, None, str(err), time.perf_counter() - started)
    return Fetched(request, response, None, time.perf_counter() - started)


async def fetch_all(
    backend: MetricsBackend, requests: Sequence[MetricRequest]
) -> dict[MetricRequest, Fetched]:
    """Every request at once (a sync's metrics do not depend on each other)."""
    if not requests:
        return {}
    if len(requests) == 1:
        results = [await _fetch_one(backend, requests[0])]
    else:
        results = list(await asyncio.gather(*(_fetch_one(backend, r) for r in requests)))
    return {result.request: result for result in results}


def _selector_query(name: str, selector: LabelSelector) -> list[tuple[str, str]]:
    return [] if selector.is_empty() else [(name, str(selector))]


class ApiMetricsBackend:
    """The metrics APIs through the API server, as client-go's metrics clients call them."""

    def __init__(self, cluster: Cluster, mapper: RestMapper | None = None) -> None:
        self._cluster = cluster
        self.mapper = mapper
        """Maps an Object metric's kind to its resource; set it (and replace it after a
        rediscovery) before Object metrics are fetched."""

    async def _get(self, path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
        try:
            answer = await self._cluster.request_json("GET", path, query=query)
        except ClusterError as err:
            raise MetricsFetchError(error_text(err)) from err
        if not isinstance(answer, dict):
            raise MetricsFetchError(f"unexpected answer from {path}: not an object")
        return answer

    async def resource(self, request: ResourceRequest) -> dict[str, Any]:
        namespace = quote(request.namespace, safe="")
        return await self._get(
            f"{RESOURCE_API}/namespaces/{namespace}/pods",
            _selector_query("labelSelector", request.selector),
        )

    async def pods(self, request: PodsRequest) -> dict[str, Any]:
        namespace = quote(request.namespace, safe="")
        metric = quote(request.metric, safe="")
        return await self._get(
            f"{CUSTOM_API}/namespaces/{namespace}/pods/*/{metric}",
            _selector_query("labelSelector", request.selector)
            + _selector_query("metricLabelSelector", request.metric_selector),
        )

    async def object(self, request: ObjectRequest) -> dict[str, Any]:
        namespace = quote(request.namespace, safe="")
        metric = quote(request.metric, safe="")
        query = _selector_query("metricLabelSelector", request.metric_selector)
        if request.kind == "Namespace" and request.group == "":
            # Root-scoped: the HPA's own namespace, never the one the reference names.
            return await self._get(f"{CUSTOM_API}/namespaces/{namespace}/metrics/{metric}", query)
        resource = _qualified_resource(self.mapper, request.kind, request.group)
        name = quote(request.name, safe="")
        return await self._get(
            f"{CUSTOM_API}/namespaces/{namespace}/{resource}/{name}/{metric}", query
        )

    async def external(self, request: ExternalRequest) -> dict[str, Any]:
        namespace = quote(request.namespace, safe="")
        metric = quote(request.metric, safe="")
        return await self._get(
            f"{EXTERNAL_API}/namespaces/{namespace}/{metric}",
            _selector_query("labelSelector", request.metric_selector),
        )


def _qualified_resource(mapper: RestMapper | None, kind: str, group: str) -> str:
    """qualResourceForKind: `deployments.apps`, or `pods` for the core group."""
    group_kind = f"{kind}.{group}" if group else kind
    if mapper is None:
        raise MetricsFetchError(f"unable to map kind {group_kind} to resource: no REST mapping")
    try:
        info = mapper.by_kind(group, kind)
    except UnknownResourceError as err:
        raise MetricsFetchError(f"unable to map kind {group_kind} to resource: {err}") from err
    return str(info.group_resource)


class ProviderMetricsBackend:
    """The adapter's own providers, in-process; groups it does not serve go to `fallback`."""

    def __init__(
        self,
        fallback: MetricsBackend,
        *,
        custom: providers.CustomMetricsProvider | None = None,
        external: providers.ExternalMetricsProvider | None = None,
        resource: providers.ResourceMetricsProvider | None = None,
        mapper: RestMapper | None = None,
    ) -> None:
        self._fallback = fallback
        self._custom = custom
        self._external = external
        self._resource = resource
        self.mapper = mapper

    async def resource(self, request: ResourceRequest) -> dict[str, Any]:
        if self._resource is None:
            return await self._fallback.resource(request)
        values = await _ask(
            self._resource.pod_metrics(
                providers.PodMetricsRequest(
                    namespace=request.namespace,
                    name=None,
                    label_selector=request.selector,
                    field_selector=fields.FieldSelector(),
                )
            )
        )
        items = [resource_documents.pod_metrics(value) for value in values]
        return resource_documents.metrics_list("PodMetricsList", items)

    async def pods(self, request: PodsRequest) -> dict[str, Any]:
        if self._custom is None:
            return await self._fallback.pods(request)
        values = await _ask(
            self._custom.get_metrics(
                providers.CustomMetricRequest(
                    resource="pods",
                    name="*",
                    metric=request.metric,
                    namespace=request.namespace,
                    label_selector=request.selector,
                    metric_selector=request.metric_selector,
                )
            )
        )
        return dict(metric_documents.metric_value_list_v1beta2(values))

    async def object(self, request: ObjectRequest) -> dict[str, Any]:
        if self._custom is None:
            return await self._fallback.object(request)
        if request.kind == "Namespace" and request.group == "":
            resource, name, namespace = "namespaces", request.namespace, None
        else:
            resource = _qualified_resource(self.mapper, request.kind, request.group)
            name, namespace = request.name, request.namespace
        values = await _ask(
            self._custom.get_metrics(
                providers.CustomMetricRequest(
                    resource=resource,
                    name=name,
                    metric=request.metric,
                    namespace=namespace,
                    label_selector=LabelSelector.everything(),
                    metric_selector=request.metric_selector,
                )
            )
        )
        return dict(metric_documents.metric_value_list_v1beta2(values))

    async def external(self, request: ExternalRequest) -> dict[str, Any]:
        if self._external is None:
            return await self._fallback.external(request)
        values = await _ask(
            self._external.get_metrics(
                providers.ExternalMetricRequest(
                    namespace=request.namespace,
                    metric=request.metric,
                    metric_selector=request.metric_selector,
                )
            )
        )
        return dict(metric_documents.external_metric_value_list(values))


async def _ask(call: Awaitable[T]) -> T:
    """A provider call; its Status error becomes the message the API would have sent."""
    try:
        return await call
    except status.StatusError as err:
        raise MetricsFetchError(err.message) from err


# -- step 3: answering ------------------------------------------------------------------


class FetchedMetricsSource:
    """A MetricsSource answering each question from its own request's response."""

    def __init__(self, fetched: Mapping[MetricRequest, Fetched]) -> None:
        self._fetched = fetched
        self._sources: dict[MetricRequest, ResponsesMetricsSource] = {}

    def _source(self, request: MetricRequest, api: str) -> ResponsesMetricsSource:
        fetched = self._fetched.get(request)
        if fetched is None:
            raise MetricUnavailable(f"no metrics returned from {api} metrics API")
        if fetched.error is not None:
            raise MetricUnavailable(
                f"unable to fetch metrics from {api} metrics API: {fetched.error}"
            )
        source = self._sources.get(request)
        if source is None:
            response = fetched.response
            try:
                if isinstance(request, ResourceRequest):
                    source = ResponsesMetricsSource(
                        parse_pod_metrics_list(response, "resource"), None, None
                    )
                elif isinstance(request, ExternalRequest):
                    source = ResponsesMetricsSource(
                        None, None, parse_external_metric_lists([response], "external")
                    )
                else:
                    source = ResponsesMetricsSource(
                        None, parse_custom_metric_lists([response], "custom"), None
                    )
            except WireError as err:
                raise MetricUnavailable(
                    f"unable to fetch metrics from {api} metrics API: {err}"
                ) from err
            self._sources[request] = source
        return source

    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str
    ) -> tuple[dict[str, PodMetric], datetime]:
        source = self._source(ResourceRequest(namespace, selector), "resource")
        return source.get_resource_metric(resource, namespace, selector, container)

    def get_raw_metric(
        self,
        metric_name: str,
        namespace: str,
        selector: LabelSelector,
        metric_selector: LabelSelector,
    ) -> tuple[dict[str, PodMetric], datetime]:
        request = PodsRequest(namespace, metric_name, selector, metric_selector)
        source = self._source(request, "custom")
        return source.get_raw_metric(metric_name, namespace, selector, metric_selector)

    def get_object_metric(
        self,
        metric_name: str,
        namespace: str,
        object_ref: CrossVersionObjectReference,
        metric_selector: LabelSelector,
    ) -> tuple[int, datetime]:
        request = ObjectRequest(
            namespace,
            metric_name,
            object_ref.kind,
            object_ref.api_version,
            object_ref.name,
            metric_selector,
        )
        source = self._source(request, "custom")
        return source.get_object_metric(metric_name, namespace, object_ref, metric_selector)

    def get_external_metric(
        self, metric_name: str, namespace: str, metric_selector: LabelSelector
    ) -> tuple[list[int], datetime]:
        request = ExternalRequest(namespace, metric_name, metric_selector)
        source = self._source(request, "external")
        return source.get_external_metric(metric_name, namespace, metric_selector)


def record_metrics(fetched: Mapping[MetricRequest, Fetched]) -> dict[str, Any]:
    """The snapshot's `metrics`: each successful response under its API; a failed
    request is left out, which the evaluator reads as an unavailable metric."""
    resource_items: list[Any] = []
    have_resource = False
    custom: list[dict[str, Any]] = []
    external: list[dict[str, Any]] = []
    for result in fetched.values():
        if result.response is None:
            continue
        if isinstance(result.request, ResourceRequest):
            have_resource = True
            resource_items.extend(result.response.get("items") or [])
        elif isinstance(result.request, ExternalRequest):
            external.append(result.response)
        else:
            custom.append(result.response)
    metrics: dict[str, Any] = {}
    if have_resource:
        metrics["resource"] = {
            "kind": "PodMetricsList",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": resource_items,
        }
    if custom:
        metrics["custom"] = custom
    if external:
        metrics["external"] = external
    return metrics
