"""The OpenAPI documents of the served types: `/openapi/v2` (Swagger 2.0) and `/openapi/v3`
(an index of group-versions, and one OpenAPI 3.0 document per group-version), built from
one table.

What clients read here: `kubectl explain` and client-go's typed clients look a kind up by
the `x-kubernetes-group-version-kind` extension on its schema; the aggregator merges
`/openapi/v2` into kube-apiserver's. Schemas follow the Go types in k8s.io/metrics
(`pkg/apis/custom_metrics/v1beta1|v1beta2`, `external_metrics/v1beta1`, `metrics/v1beta1`
`types.go`), named as kube-openapi names them (`io.k8s.metrics.pkg.apis.<pkg>.<version>.
<Kind>`); the shared apimachinery types are reduced to the fields these documents use.
Each GET path carries its path and query parameters and `x-kubernetes-action` as the
apiserver's installer writes them (endpoints/installer.go). Which groups are served is the
caller's: pass the served group names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

Schema = dict[str, Any]
Ref = Callable[[str], Schema]

_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1."
_TIME: Final = _META + "Time"
_QUANTITY: Final = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_OBJECT_REFERENCE: Final = "io.k8s.api.core.v1.ObjectReference"
_LABEL_SELECTOR: Final = _META + "LabelSelector"
_OBJECT_META: Final = _META + "ObjectMeta"
_LIST_META: Final = _META + "ListMeta"

CUSTOM: Final = "custom.metrics.k8s.io"
EXTERNAL: Final = "external.metrics.k8s.io"
RESOURCE: Final = "metrics.k8s.io"
_PACKAGES: Final = {CUSTOM: "custom_metrics", EXTERNAL: "external_metrics", RESOURCE: "metrics"}


def definition_name(group: str, version: str, kind: str) -> str:
    return f"io.k8s.metrics.pkg.apis.{_PACKAGES[group]}.{version}.{kind}"


def _string(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def _object(description: str, properties: Schema, required: Iterable[str] = ()) -> Schema:
    schema: Schema = {"type": "object", "description": description, "properties": properties}
    if required:
        schema["required"] = sorted(required)
    return schema


def _typed(ref: Ref, meta: str) -> Schema:
    return {
        "kind": _string("Kind of the object."),
        "apiVersion": _string("Versioned schema of the object."),
        "metadata": ref(meta),
    }


def _shared(ref: Ref) -> dict[str, Schema]:
    """The apimachinery and core types the metrics types refer to."""
    return {
        _TIME: _string("RFC 3339 time, in UTC.", format="date-time"),
        _QUANTITY: _string("A Kubernetes quantity: `16m`, `2k`, `1Gi`."),
        _OBJECT_META: _object(
            "Standard object metadata.",
            {
                "name": _string("Name of the object."),
                "namespace": _string("Namespace of the object."),
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "creationTimestamp": ref(_TIME),
            },
        ),
        _LIST_META: _object(
            "Standard list metadata.",
            {"resourceVersion": _string(""), "selfLink": _string(""), "continue": _string("")},
        ),
        _OBJECT_REFERENCE: _object(
            "The object a metric describes.",
            {
                key: _string("")
                for key in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion")
            },
        ),
        _LABEL_SELECTOR: _object(
            "A label selector.",
            {
                "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                "matchExpressions": {
                    "type": "array",
                    "items": _object(
                        "One requirement.",
                        {
                            "key": _string("Label key."),
                            "operator": _string("In, NotIn, Exists or DoesNotExist."),
                            "values": {"type": "array", "items": {"type": "string"}},
                        },
                        ("key", "operator"),
                    ),
                },
            },
        ),
    }


@dataclass(frozen=True, slots=True)
class Kind:
    """One schema of a served group-version; `top_level` kinds carry their GVK."""

    group: str
    version: str
    name: str
    schema: Callable[[Ref, Kind], Schema]
    top_level: bool = False

    @property
    def definition(self) -> str:
        return definition_name(self.group, self.version, self.name)

    def sibling(self, name: str) -> str:
        return definition_name(self.group, self.version, name)


def _list_of(item: str, description: str) -> Callable[[Ref, Kind], Schema]:
    def build(ref: Ref, kind: Kind) -> Schema:
        properties = _typed(ref, _LIST_META)
        properties["items"] = {"type": "array", "items": ref(kind.sibling(item))}
        return _object(description, properties, ("items",))

    return build


def _custom_value_v1beta1(ref: Ref, kind: Kind) -> Schema:
    return _object(
        "The value of a metric for one object (custom.metrics.k8s.io/v1beta1).",
        {
            "describedObject": ref(_OBJECT_REFERENCE),
            "metricName": _string("Name of the metric."),
            "timestamp": ref(_TIME),
            "window": {"type": "integer", "format": "int64", "description": "Seconds."},
            "value": ref(_QUANTITY),
            "selector": ref(_LABEL_SELECTOR),
        },
        ("describedObject", "metricName", "timestamp", "value"),
    )


def _custom_value_v1beta2(ref: Ref, kind: Kind) -> Schema:
    return _object(
        "The value of a metric for one object (custom.metrics.k8s.io/v1beta2).",
        {
            "describedObject": ref(_OBJECT_REFERENCE),
            "metric": ref(kind.sibling("MetricIdentifier")),
            "timestamp": ref(_TIME),
            "windowSeconds": {"type": "integer", "format": "int64", "description": "Seconds."},
            "value": ref(_QUANTITY),
        },
        ("describedObject", "metric", "timestamp", "value"),
    )


def _metric_identifier(ref: Ref, kind: Kind) -> Schema:
    return _object(
        "A metric's name and the selector it was asked with.",
        {"name": _string("Name of the metric."), "selector": ref(_LABEL_SELECTOR)},
        ("name",),
    )


def _external_value(ref: Ref, kind: Kind) -> Schema:
    return _object(
        "One series of an external metric.",
        {
            "metricName": _string("Name of the metric."),
            "metricLabels": {"type": "object", "additionalProperties": {"type": "string"}},
            "timestamp": ref(_TIME),
            "window": {"type": "integer", "format": "int64", "description": "Seconds."},
            "value": ref(_QUANTITY),
        },
        ("metricName", "metricLabels", "timestamp", "value"),
    )


def _usage(ref: Ref) -> Schema:
    return {"type": "object", "additionalProperties": ref(_QUANTITY)}


def _node_metrics(ref: Ref, kind: Kind) -> Schema:
    properties = _typed(ref, _OBJECT_META)
    properties.update(timestamp=ref(_TIME), window=_string("A Go duration."), usage=_usage(ref))
    return _object("Resource usage of a node.", properties, ("timestamp", "window", "usage"))


def _pod_metrics(ref: Ref, kind: Kind) -> Schema:
    properties = _typed(ref, _OBJECT_META)
    properties.update(
        timestamp=ref(_TIME),
        window=_string("A Go duration."),
        containers={"type": "array", "items": ref(kind.sibling("ContainerMetrics"))},
    )
    return _object("Resource usage of a pod.", properties, ("timestamp", "window", "containers"))


def _container_metrics(ref: Ref, kind: Kind) -> Schema:
    return _object(
        "Resource usage of one container.",
        {"name": _string("Container name."), "usage": _usage(ref)},
        ("name", "usage"),
    )


KINDS: Final = (
    Kind(CUSTOM, "v1beta1", "MetricValueList", _list_of("MetricValue", "Metric values."), True),
    Kind(CUSTOM, "v1beta1", "MetricValue", _custom_value_v1beta1),
    Kind(CUSTOM, "v1beta2", "MetricValueList", _list_of("MetricValue", "Metric values."), True),
    Kind(CUSTOM, "v1beta2", "MetricValue", _custom_value_v1beta2),
    Kind(CUSTOM, "v1beta2", "MetricIdentifier", _metric_identifier),
    Kind(
        EXTERNAL,
        "v1beta1",
        "ExternalMetricValueList",
        _list_of("ExternalMetricValue", "External metric values."),
        True,
    ),
    Kind(EXTERNAL, "v1beta1", "ExternalMetricValue", _external_value),
    Kind(RESOURCE, "v1beta1", "NodeMetrics", _node_metrics, True),
    Kind(RESOURCE, "v1beta1", "NodeMetricsList", _list_of("NodeMetrics", "Node metrics."), True),
    Kind(RESOURCE, "v1beta1", "PodMetrics", _pod_metrics, True),
    Kind(RESOURCE, "v1beta1", "PodMetricsList", _list_of("PodMetrics", "Pod metrics."), True),
    Kind(RESOURCE, "v1beta1", "ContainerMetrics", _container_metrics),
)


@dataclass(frozen=True, slots=True)
class Route:
    """One GET path: `{...}` segments are path parameters."""

    group: str
    version: str
    path: str
    """Below `/apis/<group>/<version>`."""
    kind: str
    action: str
    """`get` or `list`, as `x-kubernetes-action`."""
    query: tuple[str, ...] = ("labelSelector",)


def _custom_routes(version: str) -> tuple[Route, ...]:
    query = ("labelSelector", "metricLabelSelector")
    return (
        Route(CUSTOM, version, "/namespaces/{namespace}/{resource}/{name}/{metric}",
              "MetricValueList", "get", query),
        Route(CUSTOM, version, "/namespaces/{namespace}/metrics/{metric}",
              "MetricValueList", "get", query),
        Route(CUSTOM, version, "/{resource}/{name}/{metric}", "MetricValueList", "get", query),
    )  # fmt: skip


ROUTES: Final = (
    *_custom_routes("v1beta2"),
    *_custom_routes("v1beta1"),
    Route(EXTERNAL, "v1beta1", "/namespaces/{namespace}/{metric}", "ExternalMetricValueList",
          "get"),
    Route(RESOURCE, "v1beta1", "/nodes", "NodeMetricsList", "list"),
    Route(RESOURCE, "v1beta1", "/nodes/{name}", "NodeMetrics", "get", ()),
    Route(RESOURCE, "v1beta1", "/pods", "PodMetricsList", "list"),
    Route(RESOURCE, "v1beta1", "/namespaces/{namespace}/pods", "PodMetricsList", "list"),
    Route(RESOURCE, "v1beta1", "/namespaces/{namespace}/pods/{name}", "PodMetrics", "get", ()),
)  # fmt: skip

_PARAMETERS: Final = {
    "namespace": "object name and auth scope, such as for teams and projects",
    "resource": "the described objects' resource, `pods` or `deployments.apps`",
    "name": "name of the object, or `*` for every object the labelSelector selects",
    "metric": "name of the metric",
    "labelSelector": "selects the described objects (custom) or the series (external)",
    "metricLabelSelector": "selects the series of the metric",
}


def group_versions(served: Iterable[str]) -> list[tuple[str, str]]:
    """The (group, version) pairs documented for the served groups, in table order."""
    wanted = set(served)
    pairs: list[tuple[str, str]] = []
    for kind in KINDS:
        if kind.group in wanted and (kind.group, kind.version) not in pairs:
            pairs.append((kind.group, kind.version))
    return pairs


def _schemas(ref: Ref, pairs: list[tuple[str, str]]) -> dict[str, Schema]:
    schemas = _shared(ref)
    for kind in KINDS:
        if (kind.group, kind.version) not in pairs:
            continue
        schema = kind.schema(ref, kind)
        if kind.top_level:
            schema["x-kubernetes-group-version-kind"] = [
                {"group": kind.group, "version": kind.version, "kind": kind.name}
            ]
        schemas[kind.definition] = schema
    return dict(sorted(schemas.items()))


def _operation(route: Route, ref: Ref, *, v3: bool) -> tuple[str, Schema]:
    path = f"/apis/{route.group}/{route.version}{route.path}"
    names = [part[1:-1] for part in route.path.split("/") if part.startswith("{")]
    parameters: list[Schema] = []
    for name, where in [(n, "path") for n in names] + [(q, "query") for q in route.query]:
        parameter: Schema = {
            "name": name,
            "in": where,
            "description": _PARAMETERS[name],
            "required": where == "path",
        }
        if v3:
            parameter["schema"] = {"type": "string"}
        else:
            parameter["type"] = "string"
        parameters.append(parameter)
    schema = ref(definition_name(route.group, route.version, route.kind))
    ok: Schema = {"description": "OK"}
    if v3:
        ok["content"] = {"application/json": {"schema": schema}}
    else:
        ok["schema"] = schema
    words = [p.strip("{}").title() for p in route.path.split("/") if p and p != "namespaces"]
    operation: Schema = {
        "operationId": f"{route.action}{route.kind}"
        + "".join(w.replace(".", "") for w in words)
        + route.version.title(),
        "tags": [f"{route.group}_{route.version}"],
        "parameters": parameters,
        "responses": {"200": ok, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": route.action,
        "x-kubernetes-group-version-kind": {
            "group": route.group,
            "version": route.version,
            "kind": route.kind,
        },
    }
    if not v3:
        operation["produces"] = ["application/json"]
        operation["schemes"] = ["https"]
    return path, {"get": operation}


def swagger(served: Iterable[str], title: str, version: str) -> Schema:
    """`/openapi/v2`: every served group-version in one Swagger 2.0 document."""
    pairs = group_versions(served)

    def ref(name: str) -> Schema:
        return {"$ref": f"#/definitions/{name}"}

    paths = dict(
        _operation(route, ref, v3=False)
        for route in ROUTES
        if (route.group, route.version) in pairs
    )
    return {
        "swagger": "2.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "definitions": _schemas(ref, pairs),
    }


def v3_index(served: Iterable[str], hash_of: Callable[[str, str], str]) -> Schema:
    """`/openapi/v3`: one entry per group-version, as kube-apiserver lists them
    (`apis/<group>/<version>` with a `serverRelativeURL` carrying the document's hash)."""
    return {
        "paths": {
            f"apis/{group}/{version}": {
                "serverRelativeURL": f"/openapi/v3/apis/{group}/{version}"
                f"?hash={hash_of(group, version)}"
            }
            for group, version in group_versions(served)
        }
    }


def v3_document(group: str, version: str, title: str, server_version: str) -> Schema:
    """`/openapi/v3/apis/<group>/<version>`: OpenAPI 3.0 with that group-version's paths."""
    pairs = [(group, version)]

    def ref(name: str) -> Schema:
        return {"$ref": f"#/components/schemas/{name}"}

    paths = dict(
        _operation(route, ref, v3=True)
        for route in ROUTES
        if (route.group, route.version) == (group, version)
    )
    return {
        "openapi": "3.0.0",
        "info": {"title": title, "version": server_version},
        "paths": paths,
        "components": {"schemas": _schemas(ref, pairs)},
    }
