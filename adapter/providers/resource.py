"""metrics.k8s.io (PodMetrics, NodeMetrics) from `resourceRules`: what `kubectl top` and
CPU/memory HPAs read, answered from Prometheus instead of metrics-server.

Per request: the running pods (or the nodes) come from the cluster's metadata informers
(`CachedResourceObjects`, as prometheus-adapter keeps a pod informer), or where those
cannot serve from one metadata-only list call (`ClusterResourceObjects`); field
selectors (`metadata.name`, `metadata.namespace`) are applied here, as metrics-server
filters its informer's objects.
Pods are grouped by namespace and each namespace costs exactly two PromQL queries, the
rule's cpu and memory `containerQuery` with `.LabelMatchers` =
`<ns>="NS",<pod>=~"a|b|..."` and `.GroupBy` = `<pod>,<container>`; nodes cost one
`nodeQuery` per resource for all of them. All queries of one request are evaluated at
the same instant and run concurrently, a bounded number at a time. This is
prometheus-adapter's `pkg/resourceprovider` plan; the JSON and the errors are
metrics-server's `pkg/api` (written by `adapter.server.resource_metrics`).

What an item holds, as metrics-server writes it: CPU in cores with nanocore precision
(`2082398n`), memory in bytes in binary form (`13980Ki`), the pod's labels, `timestamp`
= the earliest sample time, `window` = `resourceRules.window`. Negative samples count
as 0, as upstream clamps them (counter resets make rates dip below zero). A NaN or ±Inf
sample (upstream clamps NaN to 0) or one whose milli-value overflows int64 (the HPA reads
`MilliValue()`; see `adapter.providers.values`) makes the whole pod or node unreadable:
left out of lists, and the Status of `failures.unreadable_value` when asked by name —
never a partial pod that silently lacks its CPU.

Never a silent zero: a pod without a cpu or a memory sample is left out of lists (and a
404 when asked for by name), as upstream does; a container that has one resource and
not the other carries only the one it has, where upstream writes a 0 for the other (the
HPA then treats the pod as missing that resource instead of using a false 0). When every
query of a request fails, the request fails (503 when Prometheus is unreachable or
slow, 500 otherwise) where upstream answers an empty list; when some namespaces fail,
their pods are left out and the failure is logged, as upstream does.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Final, Protocol
from urllib.parse import quote

from adapter.cluster import informers
from adapter.cluster import objects as cluster_objects
from adapter.cluster.connection import Cluster, ClusterError
from adapter.k8s import status
from adapter.k8s.fields import FieldRequirement, FieldSelector
from adapter.k8s.quantity import Quantity, QuantityFormat
from adapter.k8s.resources import GroupResource, ResourceInfo, RestMapper
from adapter.k8s.selectors import LabelSelector
from adapter.prometheus import errors as prom_errors
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.results import QueryResult, Sample
from adapter.providers import deadlines
from adapter.providers import values as sample_values
from adapter.providers.base import (
    ContainerMetricsValue,
    NodeMetricsRequest,
    NodeMetricsValue,
    PodMetricsRequest,
    PodMetricsValue,
)
from adapter.providers.failures import prometheus_failure, unreadable_value
from adapter.rules import query as queries
from adapter.rules.config import ResourceRule, ResourceRules
from adapter.rules.resources import NODES, PODS, ResourceConverter

log = logging.getLogger(__name__)

METRICS_GROUP: Final = "metrics.k8s.io"
CPU: Final = "cpu"
MEMORY: Final = "memory"

_NANO: Final = 10**9
_INT64_MAX: Final = 2**63 - 1


class ObjectListingError(RuntimeError):
    """The cluster did not list the pods or nodes a request needs."""


@dataclass(frozen=True, slots=True)
class ObjectMetadata:
    """What metrics.k8s.io needs of a pod or node: who it is and its labels."""

    name: str
    namespace: str = ""
    labels: Mapping[str, str] | None = None

    def fields(self) -> dict[str, str]:
        """The field set metrics-server matches field selectors against
        (`generic.AddObjectMetaFieldsSet`; nodes have no namespace field)."""
        if self.namespace:
            return {"metadata.name": self.name, "metadata.namespace": self.namespace}
        return {"metadata.name": self.name}


class ResourceObjects(Protocol):
    """The pods and nodes requests are about, as the cluster lists them."""

    async def running_pods(
        self, namespace: str | None, labels: LabelSelector, fields: FieldSelector
    ) -> list[ObjectMetadata]:
        """Pods in phase Running (all namespaces for None) matching both selectors."""
        ...

    async def nodes(self, labels: LabelSelector, fields: FieldSelector) -> list[ObjectMetadata]: ...


class ClusterResourceObjects:
    """`ResourceObjects` from the API server: one metadata-only list call per request.

    What `--object-cache=false` uses, and the cache's fallback where RBAC does not let
    the adapter watch pods or nodes cluster-wide.
    """

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster

    async def running_pods(
        self, namespace: str | None, labels: LabelSelector, fields: FieldSelector
    ) -> list[ObjectMetadata]:
        path = (
            f"/api/v1/namespaces/{quote(namespace, safe='')}/pods" if namespace else "/api/v1/pods"
        )
        items = await self._list(path, labels, _server_fields(fields, "status.phase=Running"))
        return [item for item in items if fields.matches(item.fields())]

    async def nodes(self, labels: LabelSelector, fields: FieldSelector) -> list[ObjectMetadata]:
        items = await self._list("/api/v1/nodes", labels, _server_fields(fields, ""))
        return [item for item in items if fields.matches(item.fields())]

    async def _list(
        self, path: str, labels: LabelSelector, field_selector: str
    ) -> list[ObjectMetadata]:
        if labels.matches_nothing:
            return []
        query: list[tuple[str, str]] = []
        if not labels.is_empty():
            query.append(("labelSelector", str(labels)))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        try:
            body = await self._cluster.request_json(
                "GET", path, query=query, headers={"Accept": cluster_objects.METADATA_LIST_ACCEPT}
            )
        except ClusterError as err:
            raise ObjectListingError(f"failed listing {path}: {err}") from err
        items = body.get("items") if isinstance(body, Mapping) else None
        found: list[ObjectMetadata] = []
        for item in items or ():
            metadata = item.get("metadata") if isinstance(item, Mapping) else None
            if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
                continue
            labels_found = metadata.get("labels")
            found.append(
                ObjectMetadata(
                    name=metadata["name"],
                    namespace=str(metadata.get("namespace") or ""),
                    labels=dict(labels_found) if isinstance(labels_found, Mapping) else None,
                )
            )
        return found


class CachedResourceObjects:
    """`ResourceObjects` from the cluster's metadata informers: running pods and nodes
    kept current by watch, as prometheus-adapter keeps its pod informer, so a request
    asks the API server nothing. Where the cache cannot serve (RBAC without cluster-wide
    list and watch, a first list that failed), `fallback` lists per request.

    Field selectors are matched here on what the cache keeps (`metadata.name`,
    `metadata.namespace`), as `ClusterResourceObjects` matches them on its list.
    """

    def __init__(
        self, cache: informers.MetadataCache, fallback: ResourceObjects, mapper: RestMapper
    ) -> None:
        self._cache = cache
        self._fallback = fallback
        self._pods = mapper.resolve(PODS)
        self._nodes = mapper.resolve(NODES)

    async def running_pods(
        self, namespace: str | None, labels: LabelSelector, fields: FieldSelector
    ) -> list[ObjectMetadata]:
        informer = await self._informer(self._pods, "status.phase=Running")
        if informer is None:
            return await self._fallback.running_pods(namespace, labels, fields)
        return _selected(informer, namespace, labels, fields)

    async def nodes(self, labels: LabelSelector, fields: FieldSelector) -> list[ObjectMetadata]:
        informer = await self._informer(self._nodes, "")
        if informer is None:
            return await self._fallback.nodes(labels, fields)
        return _selected(informer, None, labels, fields)

    async def _informer(
        self, info: ResourceInfo, field_selector: str
    ) -> informers.MetadataInformer | None:
        try:
            return await self._cache.informer(info, field_selector)
        except informers.InformerStopped as err:
            raise status.service_unavailable(
                f"unable to list {info.group_resource}: {err}"
            ) from err


def _selected(
    informer: informers.MetadataInformer,
    namespace: str | None,
    labels: LabelSelector,
    fields: FieldSelector,
) -> list[ObjectMetadata]:
    pinned = _pinned_name(fields)
    found: tuple[informers.CachedObject, ...]
    if pinned is not None and (namespace is not None or not informer.info.namespaced):
        # A GET of one pod or node: look it up instead of scanning the namespace.
        one = informer.get(namespace, pinned)
        found = (one,) if one is not None and labels.matches(one.labels) else ()
    else:
        found = informer.objects(namespace, labels)
    items = [ObjectMetadata(obj.name, obj.namespace, obj.labels) for obj in found]
    if fields.is_empty():
        return items
    return [item for item in items if fields.matches(item.fields())]


def _pinned_name(fields: FieldSelector) -> str | None:
    for requirement in fields.requirements:
        if requirement.field == "metadata.name" and not requirement.negated:
            return requirement.value
    return None


def _server_fields(fields: FieldSelector, base: str) -> str:
    """The server-side field selector: `base`, plus `metadata.name=X` when the request
    pins one name (a GET), so one object comes back instead of the namespace."""
    terms = [base] if base else []
    for requirement in fields.requirements:
        if requirement.field == "metadata.name" and not requirement.negated:
            terms.append(str(requirement))
    return ",".join(terms)


class _Unreadable(Exception):
    """One of a pod's or node's samples has no quantity: the object has no metrics."""

    def __init__(self, resource: str, cause: sample_values.UnrepresentableValueError) -> None:
        self.resource = resource
        self.cause = cause
        super().__init__(f"{resource}: {cause}")

    def status(self, target: str) -> status.StatusError:
        return unreadable_value(self.cause, self.resource, target)


@dataclass(frozen=True, slots=True)
class ResourceQuery:
    """`resourceRules.cpu` or `.memory`, compiled against the cluster's REST mapping."""

    resource: str
    """`cpu` or `memory`: the key in `usage`."""
    rule: ResourceRule
    converter: ResourceConverter

    @property
    def unit(self) -> str:
        return "cores" if self.resource == CPU else "bytes"

    def read(self, value: float) -> Quantity:
        """`quantity`, with a refusal that says which resource it was about."""
        try:
            return self.quantity(value)
        except sample_values.UnrepresentableValueError as err:
            raise _Unreadable(self.resource, err) from err

    def pod_query(self, namespace: str, names: Sequence[str]) -> str:
        return queries.object_query(
            self.rule.container_query,
            self.converter,
            "",
            PODS,
            namespace,
            names,
            LabelSelector.everything(),
            extra_group_by=(self.rule.container_label,),
        )

    def node_query(self, names: Sequence[str]) -> str:
        return queries.object_query(
            self.rule.node_query,
            self.converter,
            "",
            NODES,
            None,
            names,
            LabelSelector.everything(),
        )

    def quantity(self, value: float) -> Quantity:
        """A sample as a usage quantity, as metrics-server writes it; raises
        `values.UnrepresentableValueError` for NaN, ±Inf and values out of range."""
        if math.isfinite(value) and value < 0:
            value = 0.0  # upstream's clamp (counter resets); -Inf is no value, not 0
        if self.resource == CPU:
            sample_values.check_number(value, unit="cores")
            nanocores = math.trunc(value * _NANO)
            if nanocores > _INT64_MAX:
                raise sample_values.OutOfRangeError(value, "cores")
            return Quantity(Fraction(nanocores, _NANO), QuantityFormat.DECIMAL_SI)
        octets = math.trunc(sample_values.check_number(value, unit="bytes"))
        return Quantity(Fraction(octets), QuantityFormat.BINARY_SI)


def _milli(quantity: Quantity) -> int:
    """`Quantity.MilliValue()`: ceil(q * 1000)."""
    return math.ceil(quantity.value * 1000)


SamplesByObject = dict[str, list[Sample]]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """Both queries of one namespace (or of the nodes), or why they failed."""

    cpu: SamplesByObject
    memory: SamplesByObject
    error: status.StatusError | None = None


class ResourceMetricsProvider:
    def __init__(
        self,
        rules: ResourceRules,
        mapper: RestMapper,
        prometheus: PrometheusClient,
        objects: ResourceObjects,
        *,
        query_timeout: float = 30.0,
        max_concurrent_queries: int = 16,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._mapper = mapper
        self.replace_rules(rules)
        self._prometheus = prometheus
        self._objects = objects
        self._query_timeout = query_timeout
        self._limit = asyncio.Semaphore(max_concurrent_queries)
        self._clock = clock
        self._wall_clock = wall_clock

    def replace_rules(self, rules: ResourceRules) -> None:
        """Queries from new rules (start-up, or a reloaded config); requests already
        running finish with the queries they started with."""
        mapper = self._mapper
        self.cpu = ResourceQuery(CPU, rules.cpu, ResourceConverter(rules.cpu.resources, mapper))
        self.memory = ResourceQuery(
            MEMORY, rules.memory, ResourceConverter(rules.memory.resources, mapper)
        )
        self.window_seconds = rules.window_seconds

    # -- pods ------------------------------------------------------------------------

    async def pod_metrics(self, request: PodMetricsRequest) -> Sequence[PodMetricsValue]:
        fields = request.field_selector
        labels = request.label_selector
        if request.name is not None:
            fields = FieldSelector((FieldRequirement("metadata.name", request.name),))
            labels = LabelSelector.everything()
        try:
            pods = await self._objects.running_pods(request.namespace, labels, fields)
        except ObjectListingError as err:
            log.error("%s", err)
            raise status.internal_error(f"failed listing pods: {err}") from err
        if request.name is not None:
            if not pods:
                # The pod lister's own answer: not there, or not Running.
                raise status.not_found("", "pods", request.name)
            pods = pods[:1]
        by_namespace: dict[str, list[ObjectMetadata]] = {}
        for pod in pods:
            by_namespace.setdefault(pod.namespace, []).append(pod)
        namespaces = sorted(by_namespace)
        at = self._wall_clock()
        deadline = deadlines.query_deadline(self._query_timeout)
        outcomes = await asyncio.gather(
            *(
                self._namespace_outcome(ns, [pod.name for pod in by_namespace[ns]], at, deadline)
                for ns in namespaces
            )
        )
        self._raise_if_nothing_answered(list(outcomes))
        now = self._clock()
        moments: dict[float, datetime] = {}  # samples of one request share their time
        values: list[PodMetricsValue] = []
        for namespace, outcome in zip(namespaces, outcomes, strict=True):
            if outcome.error is not None:
                log.error(
                    "unable to fetch metrics for pods in namespace %r, skipping: %s",
                    namespace,
                    outcome.error.message,
                )
                continue
            for pod in sorted(by_namespace[namespace], key=lambda p: p.name):
                try:
                    value = self._pod_value(pod, outcome, now, moments)
                except _Unreadable as err:
                    log.warning("pod %s/%s left out: %s", pod.namespace, pod.name, err)
                    if request.name is not None:
                        raise err.status(f"pod {pod.namespace}/{pod.name}") from err.cause
                    continue
                if value is not None:
                    values.append(value)
        if request.name is not None and not values:
            raise status.not_found(
                METRICS_GROUP, "podmetrics", f"{request.namespace}/{request.name}"
            )
        return values

    def _pod_value(
        self,
        pod: ObjectMetadata,
        outcome: _Outcome,
        now: datetime,
        moments: dict[float, datetime],
    ) -> PodMetricsValue | None:
        cpu_samples = outcome.cpu.get(pod.name)
        memory_samples = outcome.memory.get(pod.name)
        if not cpu_samples or not memory_samples:
            log.debug(
                "no %s samples for pod %s/%s, leaving it out",
                "cpu" if not cpu_samples else "memory",
                pod.namespace,
                pod.name,
            )
            return None
        usage_by_container: dict[str, dict[str, Quantity]] = {}
        earliest = math.inf
        for resource_query, samples in ((self.cpu, cpu_samples), (self.memory, memory_samples)):
            label = resource_query.rule.container_label
            for sample in samples:
                quantity = resource_query.read(sample.value)
                container = sample.labels.get(label, "") if label else ""
                # Several samples for one container: the last wins, as upstream's map does.
                usage_by_container.setdefault(container, {})[resource_query.resource] = quantity
                if sample.timestamp < earliest:
                    earliest = sample.timestamp
        for resource_query in (self.cpu, self.memory):
            # The HPA adds up the containers' MilliValue() in an int64 (getPodMetrics).
            total = sum(
                _milli(usage[resource_query.resource])
                for usage in usage_by_container.values()
                if resource_query.resource in usage
            )
            if total > _INT64_MAX:
                raise _Unreadable(
                    resource_query.resource,
                    sample_values.OutOfRangeError(total / 1000, resource_query.unit),
                )
        if not usage_by_container:
            return None
        # cpu is read before memory, so each usage is already in ResourceList key order.
        names = sorted(usage_by_container) if len(usage_by_container) > 1 else usage_by_container
        containers = tuple(ContainerMetricsValue(name, usage_by_container[name]) for name in names)
        moment = moments.get(earliest)
        if moment is None:
            moment = moments[earliest] = datetime.fromtimestamp(earliest, UTC)
        return PodMetricsValue(
            name=pod.name,
            namespace=pod.namespace,
            labels=pod.labels or {},
            creation_timestamp=now,
            timestamp=moment,
            window_seconds=self.window_seconds,
            containers=containers,
        )

    # -- nodes -----------------------------------------------------------------------

    async def node_metrics(self, request: NodeMetricsRequest) -> Sequence[NodeMetricsValue]:
        fields = request.field_selector
        labels = request.label_selector
        if request.name is not None:
            fields = FieldSelector((FieldRequirement("metadata.name", request.name),))
            labels = LabelSelector.everything()
        try:
            nodes = await self._objects.nodes(labels, fields)
        except ObjectListingError as err:
            log.error("%s", err)
            raise status.internal_error(f"failed listing nodes: {err}") from err
        if request.name is not None:
            if not nodes:
                raise status.not_found("", "nodes", request.name)
            nodes = nodes[:1]
        values: list[NodeMetricsValue] = []
        if nodes:
            names = [node.name for node in nodes]
            at = self._wall_clock()
            deadline = deadlines.query_deadline(self._query_timeout)
            outcome = await self._both(lambda q: q.node_query(names), NODES, at, deadline)
            self._raise_if_nothing_answered([outcome])
            now = self._clock()
            for node in sorted(nodes, key=lambda n: n.name):
                try:
                    value = self._node_value(node, outcome, now)
                except _Unreadable as err:
                    log.warning("node %s left out: %s", node.name, err)
                    if request.name is not None:
                        raise err.status(f"node {node.name}") from err.cause
                    continue
                if value is not None:
                    values.append(value)
        if request.name is not None and not values:
            raise status.not_found(METRICS_GROUP, "nodemetrics", request.name)
        return values

    def _node_value(
        self, node: ObjectMetadata, outcome: _Outcome, now: datetime
    ) -> NodeMetricsValue | None:
        cpu_samples = outcome.cpu.get(node.name)
        memory_samples = outcome.memory.get(node.name)
        if not cpu_samples or not memory_samples:
            log.debug("no cpu or memory samples for node %s, leaving it out", node.name)
            return None
        # Upstream takes the first sample of each when a node has several.
        cpu = self.cpu.read(cpu_samples[0].value)
        memory = self.memory.read(memory_samples[0].value)
        return NodeMetricsValue(
            name=node.name,
            labels=dict(node.labels or {}),
            creation_timestamp=now,
            timestamp=datetime.fromtimestamp(
                min(cpu_samples[0].timestamp, memory_samples[0].timestamp), UTC
            ),
            window_seconds=self.window_seconds,
            usage={CPU: cpu, MEMORY: memory},
        )

    # -- queries ---------------------------------------------------------------------

    async def _namespace_outcome(
        self, namespace: str, names: list[str], at: float, deadline: float
    ) -> _Outcome:
        return await self._both(lambda q: q.pod_query(namespace, names), PODS, at, deadline)

    async def _both(
        self,
        build: Callable[[ResourceQuery], str],
        target: GroupResource,
        at: float,
        deadline: float,
    ) -> _Outcome:
        """The cpu and the memory query for one set of objects, side by side."""
        try:
            cpu_query, memory_query = build(self.cpu), build(self.memory)
        except queries.QueryBuildError as err:
            log.error("unable to construct a %s query: %s", target.resource, err)
            return _Outcome(
                {},
                {},
                status.internal_error(f"unable to fetch metrics: unable to construct query: {err}"),
            )
        results = await asyncio.gather(
            self._run(cpu_query, self.cpu, target, at, deadline),
            self._run(memory_query, self.memory, target, at, deadline),
            return_exceptions=True,
        )
        by_object: list[SamplesByObject] = []
        for result in results:
            if isinstance(result, status.StatusError):
                return _Outcome({}, {}, result)
            if isinstance(result, BaseException):
                raise result
            by_object.append(result)
        return _Outcome(by_object[0], by_object[1])

    async def _run(
        self,
        promql: str,
        resource_query: ResourceQuery,
        target: GroupResource,
        at: float,
        deadline: float,
    ) -> SamplesByObject:
        async with self._limit:
            result = await self.query(promql, at=at, deadline=deadline)
        if result.result_type != "vector":
            raise status.internal_error(
                f"unable to fetch metrics: the {resource_query.resource} query returned a "
                f"{result.result_type}, not a vector"
            )
        label = resource_query.converter.label_for_resource(target)
        by_object: SamplesByObject = {}
        for sample in result.samples:
            by_object.setdefault(sample.labels.get(label, ""), []).append(sample)
        return by_object

    async def query(self, promql: str, *, at: float, deadline: float) -> QueryResult:
        """One instant query at `at`; Prometheus' failures as the Status they become."""
        try:
            return await self._prometheus.query(promql, at=at, deadline=deadline)
        except prom_errors.PrometheusError as err:
            log.error("query failed: %s: %s", err, promql[:500])
            raise prometheus_failure(err) from err

    @staticmethod
    def _raise_if_nothing_answered(outcomes: list[_Outcome]) -> None:
        """Every query failed: say so, rather than answering "no pods have metrics"."""
        errors = [outcome.error for outcome in outcomes if outcome.error is not None]
        if outcomes and len(errors) == len(outcomes):
            raise errors[0]
