"""external.metrics.k8s.io v1beta1: `namespaces/{ns}/{metric}` parsed into
`ExternalMetricRequest`, answers written as ExternalMetricValueList.

As in custom-metrics-apiserver (`installer/emhandlers.go`, `registry/external_metrics`),
the `labelSelector` query parameter is the *metric* selector, and a bad one is a 400
BadRequest. Every metric is namespaced in discovery, whatever its rule says. Errors about
metrics (404s and Prometheus failures, including upstream's odd 404 wording) are the
provider's.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from adapter.documents import metrics as metric_documents
from adapter.k8s import status
from adapter.providers.base import (
    ExternalMetricRequest,
    ExternalMetricsProvider,
)
from adapter.server import documents, params, responses

GROUP: Final = documents.GroupVersions(metric_documents.EXTERNAL_GROUP, ("v1beta1",))


class ExternalMetricsAPI:
    """The external metrics group, bound to one provider."""

    def __init__(self, provider: ExternalMetricsProvider) -> None:
        self._provider = provider

    @property
    def group(self) -> documents.GroupVersions:
        return GROUP

    def resources(self, version: str) -> list[documents.APIResourceJSON]:
        return documents.external_metric_resources(self._provider.list_metrics())

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_route(
            "*", f"/apis/{GROUP.name}/v1beta1/namespaces/{{namespace}}/{{metric}}", self._metric
        )

    async def _metric(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        if request.method not in responses.READ_METHODS:
            raise status.method_not_supported(
                GROUP.name, info["metric"], responses.verb_for(request.method)
            )
        metric_request = ExternalMetricRequest(
            namespace=info["namespace"],
            metric=info["metric"],
            metric_selector=params.selector(request, "labelSelector"),
        )
        values = await self._provider.get_metrics(metric_request)
        return responses.json_response(request, metric_documents.external_metric_value_list(values))
