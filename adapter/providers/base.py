"""What the metrics APIs ask of a provider and what a provider answers, as values.

The server parses a request path into one of the request types here and hands it to a
provider; the provider answers with value types or raises
`adapter.k8s.status.StatusError`. Neither side sees the other's machinery: providers
never format HTTP, the server never builds PromQL.

Three APIs, three pairs: custom.metrics.k8s.io (`CustomMetricRequest` ->
`CustomMetricValue`), external.metrics.k8s.io (`ExternalMetricRequest` ->
`ExternalMetricValue`) and metrics.k8s.io (`PodMetricsRequest`/`NodeMetricsRequest` ->
`PodMetricsValue`/`NodeMetricsValue`). metrics.k8s.io requests may carry a
`fieldSelector`, parsed here into `FieldSelector` (the grammar of apimachinery's
`fields.ParseSelector`), because label selectors have their own type in `adapter.k8s`
and field selectors are only ever read by this API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from adapter.k8s.fields import FieldSelector
from adapter.k8s.quantity import Quantity
from adapter.k8s.resources import GroupResource
from adapter.k8s.selectors import LabelSelector


@dataclass(frozen=True, slots=True)
class ObjectReference:
    """The object a custom metric describes (`describedObject` on the wire)."""

    kind: str
    name: str
    api_version: str
    """`group/version`; for the core group `/v1`, as custom-metrics-apiserver writes it."""
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class CustomMetricInfo:
    """One entry of the custom metrics discovery document: `<resource>/<metric>`."""

    group_resource: GroupResource
    metric: str
    namespaced: bool


@dataclass(frozen=True, slots=True)
class CustomMetricRequest:
    """`GET /apis/custom.metrics.k8s.io/{v}/...`, parsed.

    `/namespaces/NS/metrics/M` arrives as resource `namespaces`, name `NS` and no
    namespace: the metric describes the namespace object itself, which is root-scoped.
    """

    resource: str
    """The path segment as given (`pods`, `pod`, `deployments.apps`): the provider resolves it."""
    name: str
    """An object name, or `*` for every object that `label_selector` matches."""
    metric: str
    namespace: str | None
    label_selector: LabelSelector
    metric_selector: LabelSelector


@dataclass(frozen=True, slots=True)
class CustomMetricValue:
    described_object: ObjectReference
    metric: str
    timestamp: datetime
    value: str
    """A Kubernetes quantity in canonical form (`16m`, `2k`)."""
    selector: LabelSelector | None = None
    """The request's metric selector, echoed; None when the request had none."""
    window_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class ExternalMetricInfo:
    metric: str


@dataclass(frozen=True, slots=True)
class ExternalMetricRequest:
    """`GET /apis/external.metrics.k8s.io/v1beta1/namespaces/NS/METRIC?labelSelector=...`."""

    namespace: str
    metric: str
    metric_selector: LabelSelector


@dataclass(frozen=True, slots=True)
class ExternalMetricValue:
    metric_name: str
    metric_labels: Mapping[str, str]
    """Every label of the sample, `__name__` included when the query keeps it; empty for
    a scalar result (upstream writes `null` there; our serialiser writes `{}`)."""
    timestamp: datetime
    """The sample's own time, as upstream reports it (not the response time)."""
    value: str
    window_seconds: int | None = None


# --- metrics.k8s.io ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PodMetricsRequest:
    """`GET /apis/metrics.k8s.io/v1beta1/[namespaces/NS/]pods[/NAME]`, parsed."""

    namespace: str | None
    """None: every namespace (`/pods`)."""
    name: str | None
    """None: a list; otherwise one pod, and a 404 when it has no metrics."""
    label_selector: LabelSelector
    field_selector: FieldSelector


@dataclass(frozen=True, slots=True)
class NodeMetricsRequest:
    """`GET /apis/metrics.k8s.io/v1beta1/nodes[/NAME]`, parsed."""

    name: str | None
    label_selector: LabelSelector
    field_selector: FieldSelector


@dataclass(frozen=True, slots=True)
class ContainerMetricsValue:
    name: str
    usage: Mapping[str, Quantity]
    """`cpu` (cores, DecimalSI, nanocore precision) and `memory` (bytes, BinarySI). A
    resource the query had no sample for is absent, never zero."""


@dataclass(frozen=True, slots=True)
class PodMetricsValue:
    name: str
    namespace: str
    labels: Mapping[str, str]
    """The pod's labels, as metrics-server copies them."""
    creation_timestamp: datetime
    """When this answer was made (metrics-server and prometheus-adapter both say "now")."""
    timestamp: datetime
    """The earliest sample time among the pod's samples."""
    window_seconds: float
    containers: tuple[ContainerMetricsValue, ...]


@dataclass(frozen=True, slots=True)
class NodeMetricsValue:
    name: str
    labels: Mapping[str, str]
    creation_timestamp: datetime
    timestamp: datetime
    window_seconds: float
    usage: Mapping[str, Quantity]


class CustomMetricsProvider(Protocol):
    def list_metrics(self) -> Sequence[CustomMetricInfo]: ...

    async def get_metrics(self, request: CustomMetricRequest) -> Sequence[CustomMetricValue]: ...


class ExternalMetricsProvider(Protocol):
    def list_metrics(self) -> Sequence[ExternalMetricInfo]: ...

    async def get_metrics(
        self, request: ExternalMetricRequest
    ) -> Sequence[ExternalMetricValue]: ...


class ResourceMetricsProvider(Protocol):
    """metrics.k8s.io. A request with a name answers one item or raises the 404 upstream
    words; a list leaves out the objects Prometheus has no data for."""

    async def pod_metrics(self, request: PodMetricsRequest) -> Sequence[PodMetricsValue]: ...

    async def node_metrics(self, request: NodeMetricsRequest) -> Sequence[NodeMetricsValue]: ...
