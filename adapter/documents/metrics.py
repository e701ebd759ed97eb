"""The bodies of the metrics APIs, shaped exactly as the Go types marshal them.

Owns the wire shape of MetricValueList (custom.metrics.k8s.io v1beta1 and v1beta2) and
ExternalMetricValueList (external.metrics.k8s.io v1beta1), and the encoding itself
(compact with a trailing newline, or indented with `?pretty`). Field order, `omitempty`
and `null` follow the json tags in k8s.io/metrics `pkg/apis/*/types.go`, because clients
(the HPA, kubectl, the aggregator) and people diffing outputs see exactly these bytes.

Pure: both the server (`adapter.server`) and the HPA loop's in-process metrics
(`adapter.hpa.fetching`) build the same documents here, so the loop reads byte for byte
what a client of the server would. Discovery documents are the server's
(`adapter.server.documents`); Status error bodies come from `adapter.k8s.status`.

Two json tags are easy to get wrong and are written out here on purpose: the window of a
custom metric is `window` in v1beta1 but `windowSeconds` in v1beta2, and the external
one is `window`. Label maps (`metricLabels`, `matchLabels`) are written with sorted keys,
as Go's encoding/json does for every map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Final, NotRequired, TypedDict, cast

import orjson

from adapter.k8s import status, timefmt
from adapter.k8s.selectors import LabelSelector, Operator, Requirement
from adapter.providers.base import (
    CustomMetricValue,
    ExternalMetricValue,
    ObjectReference,
)

CUSTOM_GROUP: Final = "custom.metrics.k8s.io"
EXTERNAL_GROUP: Final = "external.metrics.k8s.io"
METRICS_GROUP: Final = "metrics.k8s.io"
"""metrics.k8s.io (PodMetrics/NodeMetrics) is not served yet; the name is reserved here."""


# --- wire types -------------------------------------------------------------------------


class ObjectReferenceJSON(TypedDict):
    """core/v1 ObjectReference: every field is `omitempty`."""

    kind: NotRequired[str]
    namespace: NotRequired[str]
    name: NotRequired[str]
    apiVersion: NotRequired[str]


class LabelSelectorRequirementJSON(TypedDict):
    key: str
    operator: str
    values: NotRequired[list[str]]


class LabelSelectorJSON(TypedDict):
    matchLabels: NotRequired[dict[str, str]]
    matchExpressions: NotRequired[list[LabelSelectorRequirementJSON]]


class MetricIdentifierJSON(TypedDict):
    name: str
    selector: LabelSelectorJSON | None


class MetricValueV1Beta1JSON(TypedDict):
    describedObject: ObjectReferenceJSON
    metricName: str
    timestamp: str
    window: NotRequired[int]
    value: str
    selector: LabelSelectorJSON | None


class MetricValueV1Beta2JSON(TypedDict):
    describedObject: ObjectReferenceJSON
    metric: MetricIdentifierJSON
    timestamp: str
    windowSeconds: NotRequired[int]
    value: str


class ExternalMetricValueJSON(TypedDict):
    metricName: str
    metricLabels: dict[str, str]
    timestamp: str
    window: NotRequired[int]
    value: str


class ListMetaJSON(TypedDict):
    """metav1.ListMeta: all fields `omitempty`; nothing is set, so it marshals as `{}`."""


class MetricValueListJSON(TypedDict):
    kind: str
    apiVersion: str
    metadata: ListMetaJSON
    items: list[MetricValueV1Beta1JSON] | list[MetricValueV1Beta2JSON]


class ExternalMetricValueListJSON(TypedDict):
    kind: str
    apiVersion: str
    metadata: ListMetaJSON
    items: list[ExternalMetricValueJSON]


# --- encoding ---------------------------------------------------------------------------

_HTML_ESCAPES: Final = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))
_LINE_SEPARATORS: Final = (("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


def encode(document: Mapping[str, Any], *, pretty: bool = False) -> bytes:
    """Marshal as the apiserver's JSON serializer does.

    Compact output ends with a newline (json.Encoder.Encode); pretty output is indented
    by two spaces and has none (json.MarshalIndent). Go escapes `<`, `>`, `&`, U+2028
    and U+2029 inside strings; outside strings those bytes cannot occur in JSON, so a
    plain replace is exact.
    """
    if pretty:
        data = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    else:
        data = orjson.dumps(document, option=orjson.OPT_APPEND_NEWLINE)
    for raw, escaped in _HTML_ESCAPES:
        if raw in data:
            data = data.replace(raw, escaped)
    if b"\xe2\x80" in data:
        for raw, escaped in _LINE_SEPARATORS:
            data = data.replace(raw, escaped)
    return data


def status_document(error: status.StatusError) -> dict[str, Any]:
    """The metav1.Status body for an error, as `adapter.k8s.status` builds it."""
    return dict(error.to_status())


# --- metric values ----------------------------------------------------------------------


def object_reference(ref: ObjectReference) -> ObjectReferenceJSON:
    """core/v1 ObjectReference with empty fields left out (all its tags are omitempty)."""
    out: ObjectReferenceJSON = {}
    if ref.kind:
        out["kind"] = ref.kind
    if ref.namespace:
        out["namespace"] = ref.namespace
    if ref.name:
        out["name"] = ref.name
    if ref.api_version:
        out["apiVersion"] = ref.api_version
    return out


def selector_echo(selector: LabelSelector | None) -> LabelSelectorJSON | None:
    """The metric selector echoed back in an item, as metav1.ParseToLabelSelector makes it.

    Null when there is none or it is empty: prometheus-adapter sets the echo only when
    the selector's text is non-empty. Upstream cannot express `k!=v` (metav1 has no
    NotEquals operator) and fails the whole response with a plain 500 although the query
    ran fine. We echo such a requirement as `{key: k, operator: NotIn, values: [v]}`
    instead: NotIn with one value selects exactly the series that `!=` selects (a missing
    label counts as not equal in both), so the echo stays truthful and the values reach
    the client. `gt`/`lt` still raise `SelectorError` (no faithful API form exists).
    """
    if selector is None or selector.is_empty():
        return None
    if any(req.operator is Operator.NOT_EQUALS for req in selector.requirements):
        selector = replace(
            selector,
            requirements=tuple(
                Requirement(req.key, Operator.NOT_IN, req.values)
                if req.operator is Operator.NOT_EQUALS
                else req
                for req in selector.requirements
            ),
        )
    api = selector.to_api()
    if api is None:
        return None
    return _normalised_selector(api)


def _normalised_selector(api: Mapping[str, Any]) -> LabelSelectorJSON:
    """Key order as metav1.LabelSelector marshals: matchLabels (sorted map), then
    matchExpressions; empty fields omitted."""
    out: LabelSelectorJSON = {}
    match_labels = api.get("matchLabels")
    if match_labels:
        out["matchLabels"] = dict(sorted(match_labels.items()))
    expressions = api.get("matchExpressions")
    if expressions:
        reqs: list[LabelSelectorRequirementJSON] = []
        for expr in expressions:
            req: LabelSelectorRequirementJSON = {"key": expr["key"], "operator": expr["operator"]}
            if expr.get("values"):
                req["values"] = list(expr["values"])
            reqs.append(req)
        out["matchExpressions"] = reqs
    return out


class _Memo:
    """Remembers the last selector echo and timestamp text: a list's items nearly always
    share both, and a 1000-item list is the hot path."""

    __slots__ = ("_selector", "_selector_json", "_time", "_time_text")

    def __init__(self) -> None:
        self._selector: LabelSelector | None = None
        self._selector_json: LabelSelectorJSON | None = None
        self._time: datetime | None = None
        self._time_text = ""

    def selector(self, selector: LabelSelector | None) -> LabelSelectorJSON | None:
        if selector is None:
            return None
        if selector is not self._selector:
            self._selector = selector
            self._selector_json = selector_echo(selector)
        return self._selector_json

    def time(self, when: datetime) -> str:
        if when is not self._time:
            self._time = when
            self._time_text = timefmt.format_time(when)
        return self._time_text


def metric_value_list_v1beta1(values: Iterable[CustomMetricValue]) -> MetricValueListJSON:
    memo = _Memo()
    items: list[MetricValueV1Beta1JSON] = []
    for v in values:
        item: dict[str, Any] = {
            "describedObject": object_reference(v.described_object),
            "metricName": v.metric,
            "timestamp": memo.time(v.timestamp),
        }
        if v.window_seconds is not None:
            item["window"] = v.window_seconds
        item["value"] = v.value
        item["selector"] = memo.selector(v.selector)
        items.append(cast(MetricValueV1Beta1JSON, item))
    return _list("MetricValueList", f"{CUSTOM_GROUP}/v1beta1", items)


def metric_value_list_v1beta2(values: Iterable[CustomMetricValue]) -> MetricValueListJSON:
    memo = _Memo()
    items: list[MetricValueV1Beta2JSON] = []
    for v in values:
        item: dict[str, Any] = {
            "describedObject": object_reference(v.described_object),
            "metric": {"name": v.metric, "selector": memo.selector(v.selector)},
            "timestamp": memo.time(v.timestamp),
        }
        if v.window_seconds is not None:
            item["windowSeconds"] = v.window_seconds
        item["value"] = v.value
        items.append(cast(MetricValueV1Beta2JSON, item))
    return _list("MetricValueList", f"{CUSTOM_GROUP}/v1beta2", items)


def external_metric_value_list(
    values: Iterable[ExternalMetricValue],
) -> ExternalMetricValueListJSON:
    """metricLabels has no omitempty in the Go type: a nil map is `null` (upstream's
    scalar results), an empty one `{}`. Providers hand us a mapping, so we write `{}`."""
    memo = _Memo()
    items: list[ExternalMetricValueJSON] = []
    for v in values:
        item: dict[str, Any] = {
            "metricName": v.metric_name,
            "metricLabels": dict(sorted(v.metric_labels.items())),
            "timestamp": memo.time(v.timestamp),
        }
        if v.window_seconds is not None:
            item["window"] = v.window_seconds
        item["value"] = v.value
        items.append(cast(ExternalMetricValueJSON, item))
    return {
        "kind": "ExternalMetricValueList",
        "apiVersion": f"{EXTERNAL_GROUP}/v1beta1",
        "metadata": {},
        "items": items,
    }


def _list(kind: str, api_version: str, items: Any) -> MetricValueListJSON:
    return {"kind": kind, "apiVersion": api_version, "metadata": {}, "items": items}
