"""metrics.k8s.io v1beta1: PodMetrics and NodeMetrics, the API behind `kubectl top` and
CPU/memory HPAs, parsed into requests and written as metrics-server writes them.

Routes under `/apis/metrics.k8s.io/v1beta1`, as metrics-server's `pkg/api` installs its
two REST storages (get and list; no watch):

- `pods` (all namespaces), `namespaces/{ns}/pods`, `namespaces/{ns}/pods/{name}`;
- `nodes`, `nodes/{name}`.

Query parameters: `labelSelector` (a bad one is 400 BadRequest) and `fieldSelector`,
which, as for any resource without field-label conversions of its own, accepts only
`metadata.name` and `metadata.namespace` (anything else is the apiserver's 400
`"f" is not a known field selector: only "metadata.name", "metadata.namespace"`).
`watch=true` is 405, the storages being no watchers.

Bodies: PodMetrics/NodeMetrics and their lists in the field order of k8s.io/metrics
`pkg/apis/metrics/v1beta1/types.go` (metadata: name, namespace, creationTimestamp,
labels; then timestamp, window as a Go duration such as `5m0s`, containers or usage,
resource names in sorted order as Go writes a ResourceList map); list items carry no
kind/apiVersion. Clients asking for `as=Table` (`kubectl get podmetrics`) get the
metav1 Table metrics-server's `table.go` builds: Name, one column per resource (summed
over containers), Window, and each row's object as PartialObjectMetadata (or the whole
object with `includeObject=Object`, or none with `includeObject=None`).

What is measured, and every error about pods, nodes and metrics, is the provider's
(`adapter.providers.resource`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from aiohttp import web

from adapter.documents import metrics as metric_documents
from adapter.documents import resource as resource_documents
from adapter.k8s import gostrings, status
from adapter.k8s.fields import FieldSelector, FieldSelectorError
from adapter.k8s.quantity import Quantity
from adapter.providers.base import (
    NodeMetricsRequest,
    PodMetricsRequest,
    ResourceMetricsProvider,
)
from adapter.server import documents, params, responses

GROUP: Final = documents.GroupVersions(metric_documents.METRICS_GROUP, ("v1beta1",))

_KNOWN_FIELDS: Final = ("metadata.name", "metadata.namespace")
_TABLE_VERSIONS: Final = ("v1", "v1beta1")


# --- content negotiation ----------------------------------------------------------------


def table_version(accept: str) -> str | None:
    """The meta.k8s.io version of Table the client asks for first, or None for plain JSON.

    Media ranges are taken in the order given (kubectl lists Table v1, Table v1beta1,
    then plain JSON); a range this server cannot produce is passed over.
    """
    for media_range in accept.split(","):
        kind, *raw_params = (part.strip() for part in media_range.split(";"))
        parameters = dict(
            (key.strip(), value.strip()) for key, _, value in (p.partition("=") for p in raw_params)
        )
        if kind not in ("application/json", "application/*", "*/*"):
            continue
        as_kind = parameters.get("as")
        if as_kind is None:
            return None
        if (
            as_kind == "Table"
            and parameters.get("g") == "meta.k8s.io"
            and parameters.get("v") in _TABLE_VERSIONS
        ):
            return parameters["v"]
    return None


def field_selector(request: web.BaseRequest) -> FieldSelector:
    """`fieldSelector`, checked against the fields metav1's default conversion knows."""
    text = request.query.get("fieldSelector", "")
    if not text:
        return FieldSelector()
    try:
        selector = FieldSelector.parse(text)
    except FieldSelectorError as err:
        raise status.bad_request(str(err)) from err
    for requirement in selector.requirements:
        if requirement.field not in _KNOWN_FIELDS:
            raise status.bad_request(
                f"{gostrings.quote(requirement.field)} is not a known field selector: only "
                '"metadata.name", "metadata.namespace"'
            )
    return selector


# --- the API group ----------------------------------------------------------------------


class ResourceMetricsAPI:
    """The metrics.k8s.io group, bound to one provider."""

    def __init__(self, provider: ResourceMetricsProvider) -> None:
        self._provider = provider

    @property
    def group(self) -> documents.GroupVersions:
        return GROUP

    def resources(self, version: str) -> list[documents.APIResourceJSON]:
        """metrics-server's APIResourceList: nodes then pods, get and list."""
        return [
            {
                "name": "nodes",
                "singularName": "",
                "namespaced": False,
                "kind": "NodeMetrics",
                "verbs": ["get", "list"],
            },
            {
                "name": "pods",
                "singularName": "",
                "namespaced": True,
                "kind": "PodMetrics",
                "verbs": ["get", "list"],
            },
        ]

    def add_routes(self, router: web.UrlDispatcher) -> None:
        base = f"/apis/{GROUP.name}/v1beta1"
        router.add_route("*", base + "/pods", self._pods)
        router.add_route("*", base + "/namespaces/{namespace}/pods", self._pods)
        router.add_route("*", base + "/namespaces/{namespace}/pods/{name}", self._pods)
        router.add_route("*", base + "/nodes", self._nodes)
        router.add_route("*", base + "/nodes/{name}", self._nodes)

    async def _pods(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name")
        _check_verb(request, "pods")
        pod_request = PodMetricsRequest(
            namespace=request.match_info.get("namespace"),
            name=name,
            label_selector=params.selector(request, "labelSelector"),
            field_selector=field_selector(request),
        )
        values = await self._provider.pod_metrics(pod_request)
        version = table_version(request.headers.get("Accept", ""))
        if version is not None:
            texts = resource_documents.Texts()
            rows = [
                (
                    v.name,
                    resource_documents.summed([c.usage for c in v.containers]),
                    v.window_seconds,
                    dict(resource_documents.pod_metrics(v, typed=True, texts=texts)),
                )
                for v in values
            ]
            return _table_response(request, rows, version)
        if name is not None:
            return responses.json_response(
                request, resource_documents.pod_metrics(values[0], typed=True)
            )
        texts = resource_documents.Texts()
        return responses.json_response(
            request,
            resource_documents.metrics_list(
                "PodMetricsList", [resource_documents.pod_metrics(v, texts=texts) for v in values]
            ),
        )

    async def _nodes(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name")
        _check_verb(request, "nodes")
        node_request = NodeMetricsRequest(
            name=name,
            label_selector=params.selector(request, "labelSelector"),
            field_selector=field_selector(request),
        )
        values = await self._provider.node_metrics(node_request)
        version = table_version(request.headers.get("Accept", ""))
        if version is not None:
            texts = resource_documents.Texts()
            rows = [
                (
                    v.name,
                    dict(v.usage),
                    v.window_seconds,
                    dict(resource_documents.node_metrics(v, typed=True, texts=texts)),
                )
                for v in values
            ]
            return _table_response(request, rows, version)
        if name is not None:
            return responses.json_response(
                request, resource_documents.node_metrics(values[0], typed=True)
            )
        texts = resource_documents.Texts()
        return responses.json_response(
            request,
            resource_documents.metrics_list(
                "NodeMetricsList", [resource_documents.node_metrics(v, texts=texts) for v in values]
            ),
        )


def _check_verb(request: web.Request, resource: str) -> None:
    if request.method not in responses.READ_METHODS:
        raise status.method_not_supported(GROUP.name, resource, responses.verb_for(request.method))
    if request.query.get("watch", "") in ("1", "t", "T", "true", "True", "TRUE"):
        raise status.method_not_supported(GROUP.name, resource, "watch")


def _table_response(
    request: web.Request,
    rows: Sequence[tuple[str, Mapping[str, Quantity], float, dict[str, Any]]],
    version: str,
) -> web.Response:
    include = request.query.get("includeObject", "") or "Metadata"
    if include not in ("None", "Metadata", "Object"):
        raise status.bad_request(
            f"includeObject: Unsupported value: {gostrings.quote(include)}: supported values: "
            '"None", "Metadata", "Object"'
        )
    document = resource_documents.table(rows, version=version, include_object=include)
    body = metric_documents.encode(document, pretty=responses.is_pretty(request))
    response = web.Response(status=200, body=body, headers=responses.COMMON_HEADERS)
    response.headers["Content-Type"] = f"application/json;as=Table;v={version};g=meta.k8s.io"
    return response
