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
from datetime import datetime
from typing import Any, Final, NotRequired, TypedDict

from aiohttp import web

from adapter.k8s import gostrings, status, timefmt
from adapter.k8s.fields import FieldSelector, FieldSelectorError
from adapter.k8s.quantity import Quantity
from adapter.providers.base import (
    NodeMetricsRequest,
    NodeMetricsValue,
    PodMetricsRequest,
    PodMetricsValue,
    ResourceMetricsProvider,
)
from adapter.server import documents, params, responses

GROUP: Final = documents.GroupVersions(documents.METRICS_GROUP, ("v1beta1",))
API_VERSION: Final = f"{documents.METRICS_GROUP}/v1beta1"

_KNOWN_FIELDS: Final = ("metadata.name", "metadata.namespace")
_TABLE_VERSIONS: Final = ("v1", "v1beta1")


# --- wire types -------------------------------------------------------------------------


class ObjectMetaJSON(TypedDict):
    name: str
    namespace: NotRequired[str]
    creationTimestamp: str
    labels: NotRequired[dict[str, str]]


class ContainerMetricsJSON(TypedDict):
    name: str
    usage: dict[str, str]


class PodMetricsJSON(TypedDict):
    kind: NotRequired[str]
    apiVersion: NotRequired[str]
    metadata: ObjectMetaJSON
    timestamp: str
    window: str
    containers: list[ContainerMetricsJSON]


class NodeMetricsJSON(TypedDict):
    kind: NotRequired[str]
    apiVersion: NotRequired[str]
    metadata: ObjectMetaJSON
    timestamp: str
    window: str
    usage: dict[str, str]


class TableColumnDefinitionJSON(TypedDict):
    name: str
    type: str
    format: str
    description: str
    priority: int


class TableRowJSON(TypedDict):
    cells: list[str]
    object: dict[str, Any] | None


class TableJSON(TypedDict):
    kind: str
    apiVersion: str
    metadata: documents.ListMetaJSON
    columnDefinitions: list[TableColumnDefinitionJSON] | None
    rows: list[TableRowJSON] | None


# --- documents --------------------------------------------------------------------------


def _metadata(
    name: str, namespace: str | None, created: str, labels: Mapping[str, str]
) -> ObjectMetaJSON:
    meta: ObjectMetaJSON = {"name": name, "creationTimestamp": created}
    if namespace:
        meta = {"name": name, "namespace": namespace, "creationTimestamp": created}
    if labels:
        meta["labels"] = dict(sorted(labels.items()))
    return meta


def _usage(usage: Mapping[str, Quantity]) -> dict[str, str]:
    return {name: str(quantity) for name, quantity in sorted(usage.items())}


class Texts:
    """Time and window texts, made once per distinct value: the items of one list share
    their creation time, their sample time and their window, and a 5,000-pod list
    would otherwise format the same three strings 15,000 times."""

    __slots__ = ("_times", "_windows")

    def __init__(self) -> None:
        self._times: dict[datetime, str] = {}
        self._windows: dict[float, str] = {}

    def time(self, moment: datetime) -> str:
        text = self._times.get(moment)
        if text is None:
            text = self._times[moment] = timefmt.format_time(moment)
        return text

    def window(self, seconds: float) -> str:
        text = self._windows.get(seconds)
        if text is None:
            text = self._windows[seconds] = timefmt.format_go_duration(seconds)
        return text


def pod_metrics(
    value: PodMetricsValue, *, typed: bool = False, texts: Texts | None = None
) -> PodMetricsJSON:
    """One PodMetrics; `typed` adds kind/apiVersion (a GET has them, list items do not).
    Pass one `texts` for all items of a list."""
    texts = texts or Texts()
    doc: dict[str, Any] = {"kind": "PodMetrics", "apiVersion": API_VERSION} if typed else {}
    doc["metadata"] = _metadata(
        value.name,
        value.namespace,
        texts.time(value.creation_timestamp),
        value.labels,
    )
    doc["timestamp"] = texts.time(value.timestamp)
    doc["window"] = texts.window(value.window_seconds)
    doc["containers"] = [
        {"name": container.name, "usage": _usage(container.usage)} for container in value.containers
    ]
    return doc  # type: ignore[return-value]


def node_metrics(
    value: NodeMetricsValue, *, typed: bool = False, texts: Texts | None = None
) -> NodeMetricsJSON:
    texts = texts or Texts()
    doc: dict[str, Any] = {"kind": "NodeMetrics", "apiVersion": API_VERSION} if typed else {}
    doc["metadata"] = _metadata(
        value.name, None, texts.time(value.creation_timestamp), value.labels
    )
    doc["timestamp"] = texts.time(value.timestamp)
    doc["window"] = texts.window(value.window_seconds)
    doc["usage"] = _usage(value.usage)
    return doc  # type: ignore[return-value]


def metrics_list(kind: str, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "apiVersion": API_VERSION, "metadata": {}, "items": list(items)}


def _summed(usages: Sequence[Mapping[str, Quantity]]) -> dict[str, Quantity]:
    """Usage added up over containers; each sum keeps the format of its first term, as
    Quantity.Add does on a zero Quantity."""
    total: dict[str, Quantity] = {}
    for usage in usages:
        for name, quantity in usage.items():
            before = total.get(name)
            total[name] = (
                quantity
                if before is None
                else Quantity(before.value + quantity.value, before.format)
            )
    return total


def table(
    rows: Sequence[tuple[str, Mapping[str, Quantity], float, dict[str, Any]]],
    *,
    version: str,
    include_object: str,
) -> TableJSON:
    """metav1.Table of metrics: (name, usage, window seconds, object) per row.

    The resource columns come from the first row's usage, as metrics-server's
    `addPodMetricsToTable` takes them; an empty list has no columns and no rows (null).
    """
    columns: list[TableColumnDefinitionJSON] | None = None
    table_rows: list[TableRowJSON] | None = None
    names: list[str] = []
    for name, usage, window, obj in rows:
        if columns is None:
            names = sorted(usage)
            columns = [_column("Name", "name", "Name of the resource")]
            columns += [_column(resource, "quantity") for resource in names]
            columns.append(_column("Window", "duration"))
            table_rows = []
        assert table_rows is not None
        cells = [name]
        cells += [str(usage[r]) if r in usage else "0" for r in names]
        cells.append(timefmt.format_go_duration(window))
        table_rows.append({"cells": cells, "object": _row_object(obj, version, include_object)})
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": {},
        "columnDefinitions": columns,
        "rows": table_rows,
    }


def _column(name: str, fmt: str, description: str = "") -> TableColumnDefinitionJSON:
    return {
        "name": name,
        "type": "string",
        "format": fmt,
        "description": description,
        "priority": 0,
    }


def _row_object(obj: dict[str, Any], version: str, include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": obj["metadata"],
    }


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
            texts = Texts()
            rows = [
                (
                    v.name,
                    _summed([c.usage for c in v.containers]),
                    v.window_seconds,
                    dict(pod_metrics(v, typed=True, texts=texts)),
                )
                for v in values
            ]
            return _table_response(request, rows, version)
        if name is not None:
            return responses.json_response(request, pod_metrics(values[0], typed=True))
        texts = Texts()
        return responses.json_response(
            request,
            metrics_list("PodMetricsList", [pod_metrics(v, texts=texts) for v in values]),
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
            texts = Texts()
            rows = [
                (
                    v.name,
                    dict(v.usage),
                    v.window_seconds,
                    dict(node_metrics(v, typed=True, texts=texts)),
                )
                for v in values
            ]
            return _table_response(request, rows, version)
        if name is not None:
            return responses.json_response(request, node_metrics(values[0], typed=True))
        texts = Texts()
        return responses.json_response(
            request,
            metrics_list("NodeMetricsList", [node_metrics(v, texts=texts) for v in values]),
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
    document = table(rows, version=version, include_object=include)
    body = documents.encode(document, pretty=responses.is_pretty(request))
    response = web.Response(status=200, body=body, headers=responses.COMMON_HEADERS)
    response.headers["Content-Type"] = f"application/json;as=Table;v={version};g=meta.k8s.io"
    return response
