"""custom.metrics.k8s.io v1beta2 (preferred) and v1beta1: paths parsed into
`CustomMetricRequest`, answers written as MetricValueList.

Routes, as custom-metrics-apiserver `pkg/apiserver/installer/cmhandlers.go` installs them
under `/apis/custom.metrics.k8s.io/<version>`:

- `namespaces/{ns}/{resource}/{name}/{metric}`: namespaced objects (`name` may be `*`);
- `{resource}/{name}/{metric}`: root-scoped objects (nodes, namespaces, ...);
- `namespaces/{ns}/metrics/{metric}`: a metric of the namespace object itself, rewritten
  as upstream's REST storage does to resource `namespaces`, name `{ns}`, no namespace
  (so `namespaces/*/metrics/{metric}` asks for every namespace).

Query parameters: `labelSelector` selects objects (a bad one is a 400 BadRequest, as the
apiserver's parameter decoding makes it); `metricLabelSelector` filters series. A bad
`metricLabelSelector` is a 400 BadRequest here, where upstream returns a plain 500 with
no reason: the client sent it, so it is the client's error. Both versions carry the same
request; only the item shape differs (`adapter.server.documents`).

Resolving `{resource}` (`pods`, `pod`, `deployments.apps`) is the provider's job, as is
every error about metrics and objects (404s, Prometheus failures).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from adapter.documents import metrics as metric_documents
from adapter.k8s import status
from adapter.k8s.selectors import SelectorError
from adapter.providers.base import (
    CustomMetricRequest,
    CustomMetricsProvider,
    CustomMetricValue,
)
from adapter.server import documents, params, responses

GROUP: Final = documents.GroupVersions(metric_documents.CUSTOM_GROUP, ("v1beta2", "v1beta1"))

_SERIALISERS: Final = {
    "v1beta1": metric_documents.metric_value_list_v1beta1,
    "v1beta2": metric_documents.metric_value_list_v1beta2,
}


class CustomMetricsAPI:
    """The custom metrics group, bound to one provider."""

    def __init__(self, provider: CustomMetricsProvider) -> None:
        self._provider = provider

    @property
    def group(self) -> documents.GroupVersions:
        return GROUP

    def resources(self, version: str) -> list[documents.APIResourceJSON]:
        """Both versions list the same metrics, rebuilt from the provider on each call:
        discovery is fetched rarely (the aggregator, kubectl's cache) and must follow
        registry swaps at once."""
        return documents.custom_metric_resources(self._provider.list_metrics())

    def add_routes(self, router: web.UrlDispatcher) -> None:
        for version in GROUP.versions:
            base = f"/apis/{GROUP.name}/{version}"
            router.add_route(
                "*",
                base + "/namespaces/{namespace}/metrics/{metric}",
                self._namespace_metric(version),
            )
            router.add_route(
                "*",
                base + "/namespaces/{namespace}/{resource}/{name}/{metric}",
                self._object_metric(version, namespaced=True),
            )
            router.add_route(
                "*",
                base + "/{resource}/{name}/{metric}",
                self._object_metric(version, namespaced=False),
            )

    def _object_metric(self, version: str, *, namespaced: bool) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            info = request.match_info
            _require_get(request, info["resource"])
            metric_request = CustomMetricRequest(
                resource=info["resource"],
                name=info["name"],
                metric=info["metric"],
                namespace=info["namespace"] if namespaced else None,
                label_selector=params.selector(request, "labelSelector"),
                metric_selector=params.selector(request, "metricLabelSelector"),
            )
            return await self._answer(request, version, metric_request)

        return handle

    def _namespace_metric(self, version: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            info = request.match_info
            _require_get(request, "metrics")
            metric_request = CustomMetricRequest(
                resource="namespaces",
                name=info["namespace"],
                metric=info["metric"],
                namespace=None,
                label_selector=params.selector(request, "labelSelector"),
                metric_selector=params.selector(request, "metricLabelSelector"),
            )
            return await self._answer(request, version, metric_request)

        return handle

    async def _answer(
        self, request: web.Request, version: str, metric_request: CustomMetricRequest
    ) -> web.StreamResponse:
        values: Sequence[CustomMetricValue] = await self._provider.get_metrics(metric_request)
        try:
            document = _SERIALISERS[version](values)
        except SelectorError as err:
            # A selector metav1.LabelSelector cannot express even after our `!=` rewrite
            # (`>`/`<`): upstream's plain error, a 500 without reason.
            raise status.generic(500, str(err)) from err
        return responses.json_response(request, document)


def _require_get(request: web.Request, resource: str) -> None:
    if request.method not in responses.READ_METHODS:
        raise status.method_not_supported(GROUP.name, resource, responses.verb_for(request.method))
