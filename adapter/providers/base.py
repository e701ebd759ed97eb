"""What the metrics APIs ask of a provider and what a provider answers, as values.

The server parses a request path into one of the request types here and hands it to a
provider; the provider answers with value types or raises
`adapter.k8s.status.StatusError`. Neither side sees the other's machinery: providers
never format HTTP, the server never builds PromQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

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
    timestamp: datetime
    value: str
    window_seconds: int | None = None


class CustomMetricsProvider(Protocol):
    def list_metrics(self) -> Sequence[CustomMetricInfo]: ...

    async def get_metrics(self, request: CustomMetricRequest) -> Sequence[CustomMetricValue]: ...


class ExternalMetricsProvider(Protocol):
    def list_metrics(self) -> Sequence[ExternalMetricInfo]: ...

    async def get_metrics(
        self, request: ExternalMetricRequest
    ) -> Sequence[ExternalMetricValue]: ...
