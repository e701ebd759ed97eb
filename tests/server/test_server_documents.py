"""The bytes of every document the server writes, against the Go types' json tags.

Sources pinned (k8s.io/metrics and k8s.io/apimachinery, as vendored by
custom-metrics-apiserver v1.30):
- custom_metrics/v1beta1/types.go MetricValue: describedObject, metricName, timestamp,
  `window,omitempty`, value, `selector` (no omitempty: null).
- custom_metrics/v1beta2/types.go MetricValue: describedObject, metric{name, selector},
  timestamp, `windowSeconds,omitempty`, value.
- external_metrics/v1beta1/types.go ExternalMetricValue: metricName, metricLabels (no
  omitempty), timestamp, `window,omitempty`, value.
- core/v1 ObjectReference: every field omitempty; metav1.ListMeta marshals as `{}`.
- metav1.APIResource: singularName has no omitempty, so `""` is written.
- Go's encoding/json writes map keys sorted and escapes <, >, &.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from adapter.documents import metrics as metric_documents
from adapter.k8s.resources import GroupResource
from adapter.k8s.selectors import LabelSelector, SelectorError
from adapter.providers.base import (
    CustomMetricInfo,
    CustomMetricValue,
    ExternalMetricInfo,
    ExternalMetricValue,
    ObjectReference,
)
from adapter.server import documents

NOW = datetime(2024, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)
POD = ObjectReference(kind="Pod", name="web-1", api_version="/v1", namespace="shop")
NODE = ObjectReference(kind="Node", name="n1", api_version="/v1")


def value(**overrides: object) -> CustomMetricValue:
    fields: dict[str, object] = {
        "described_object": POD,
        "metric": "http_requests",
        "timestamp": NOW,
        "value": "16m",
    }
    fields.update(overrides)
    return CustomMetricValue(**fields)  # type: ignore[arg-type]


def compact(document: object) -> bytes:
    return metric_documents.encode(document)  # type: ignore[arg-type]


def test_v1beta1_item_shape_without_window_or_selector() -> None:
    body = compact(metric_documents.metric_value_list_v1beta1([value()]))
    assert body == (
        b'{"kind":"MetricValueList","apiVersion":"custom.metrics.k8s.io/v1beta1","metadata":{},'
        b'"items":[{"describedObject":{"kind":"Pod","namespace":"shop","name":"web-1",'
        b'"apiVersion":"/v1"},"metricName":"http_requests","timestamp":"2024-03-01T12:30:45Z",'
        b'"value":"16m","selector":null}]}\n'
    )


def test_v1beta1_window_is_named_window_and_sits_before_value() -> None:
    selector = LabelSelector.parse("verb=GET")
    body = compact(
        metric_documents.metric_value_list_v1beta1([value(window_seconds=60, selector=selector)])
    )
    item = body.split(b'"items":[', 1)[1]
    assert item == (
        b'{"describedObject":{"kind":"Pod","namespace":"shop","name":"web-1","apiVersion":"/v1"},'
        b'"metricName":"http_requests","timestamp":"2024-03-01T12:30:45Z","window":60,'
        b'"value":"16m","selector":{"matchLabels":{"verb":"GET"}}}]}\n'
    )


def test_v1beta2_item_shape() -> None:
    body = compact(metric_documents.metric_value_list_v1beta2([value(described_object=NODE)]))
    assert body == (
        b'{"kind":"MetricValueList","apiVersion":"custom.metrics.k8s.io/v1beta2","metadata":{},'
        b'"items":[{"describedObject":{"kind":"Node","name":"n1","apiVersion":"/v1"},'
        b'"metric":{"name":"http_requests","selector":null},'
        b'"timestamp":"2024-03-01T12:30:45Z","value":"16m"}]}\n'
    )


def test_v1beta2_window_is_named_window_seconds() -> None:
    document = metric_documents.metric_value_list_v1beta2([value(window_seconds=120)])
    item = document["items"][0]
    assert list(item) == ["describedObject", "metric", "timestamp", "windowSeconds", "value"]
    assert item["windowSeconds"] == 120  # type: ignore[typeddict-item]


def test_empty_list_has_empty_items_array_not_null() -> None:
    # Items has no omitempty; upstream returns `items: []` when no object had a sample.
    for build in (
        metric_documents.metric_value_list_v1beta1,
        metric_documents.metric_value_list_v1beta2,
    ):
        assert orjson.loads(compact(build([])))["items"] == []
    assert orjson.loads(compact(metric_documents.external_metric_value_list([])))["items"] == []


@pytest.mark.parametrize(
    ("selector", "echo"),
    [
        # metav1.ParseToLabelSelector: = and == to matchLabels, the rest to expressions.
        ("app=web,tier==front", {"matchLabels": {"app": "web", "tier": "front"}}),
        (
            "zone in (b,a),!legacy,canary",
            {
                "matchExpressions": [
                    {"key": "canary", "operator": "Exists"},
                    {"key": "legacy", "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "In", "values": ["a", "b"]},
                ]
            },
        ),
        (
            "a=1,b notin (x)",
            {
                "matchLabels": {"a": "1"},
                "matchExpressions": [{"key": "b", "operator": "NotIn", "values": ["x"]}],
            },
        ),
        # Deliberate difference: upstream fails the response with a 500 for `!=`; we echo
        # NotIn with the single value, which selects the same series.
        (
            "verb!=LIST,code=200",
            {
                "matchLabels": {"code": "200"},
                "matchExpressions": [{"key": "verb", "operator": "NotIn", "values": ["LIST"]}],
            },
        ),
        ("", None),
    ],
)
def test_selector_echo(selector: str, echo: object) -> None:
    assert metric_documents.selector_echo(LabelSelector.parse(selector)) == echo


def test_selector_echo_of_gt_still_fails_like_upstream() -> None:
    with pytest.raises(SelectorError):
        metric_documents.selector_echo(LabelSelector.parse("size>3"))


def test_selector_echo_none_is_null() -> None:
    assert metric_documents.selector_echo(None) is None


def test_external_item_shape_sorted_labels_and_window() -> None:
    item = ExternalMetricValue(
        metric_name="queue_depth",
        metric_labels={"queue": "orders", "__name__": "queue_depth", "app": "shop"},
        timestamp=NOW,
        value="2k",
        window_seconds=30,
    )
    assert compact(metric_documents.external_metric_value_list([item])) == (
        b'{"kind":"ExternalMetricValueList","apiVersion":"external.metrics.k8s.io/v1beta1",'
        b'"metadata":{},"items":[{"metricName":"queue_depth","metricLabels":'
        b'{"__name__":"queue_depth","app":"shop","queue":"orders"},'
        b'"timestamp":"2024-03-01T12:30:45Z","window":30,"value":"2k"}]}\n'
    )


def test_external_item_without_labels_or_window() -> None:
    item = ExternalMetricValue(metric_name="q", metric_labels={}, timestamp=NOW, value="1")
    assert metric_documents.external_metric_value_list([item])["items"] == [
        {"metricName": "q", "metricLabels": {}, "timestamp": "2024-03-01T12:30:45Z", "value": "1"}
    ]


def test_pretty_is_two_space_indent_without_trailing_newline() -> None:
    # json.MarshalIndent(obj, "", "  ") in the apiserver's JSON serializer.
    text = metric_documents.encode({"kind": "X", "items": [{"a": 1}], "metadata": {}}, pretty=True)
    assert text == (
        b'{\n  "kind": "X",\n  "items": [\n    {\n      "a": 1\n    }\n  ],\n  "metadata": {}\n}'
    )


def test_html_characters_and_line_separators_escaped_as_go_does() -> None:
    text = metric_documents.encode({"m": "a<b>&c\u2028d"})
    assert text == b'{"m":"a\\u003cb\\u003e\\u0026c\\u2028d"}\n'
    assert orjson.loads(text) == {"m": "a<b>&c\u2028d"}


def test_custom_discovery_resources_sorted_and_shaped() -> None:
    infos = [
        CustomMetricInfo(GroupResource("", "pods"), "rps", True),
        CustomMetricInfo(GroupResource("apps", "deployments"), "replicas_wanted", True),
        CustomMetricInfo(GroupResource("", "namespaces"), "rps", False),
        CustomMetricInfo(GroupResource("", "namespaces"), "rps", True),
    ]
    assert documents.custom_metric_resources(infos) == [
        {
            "name": "deployments.apps/replicas_wanted",
            "singularName": "",
            "namespaced": True,
            "kind": "MetricValueList",
            "verbs": ["get"],
        },
        {
            "name": "namespaces/rps",
            "singularName": "",
            "namespaced": False,
            "kind": "MetricValueList",
            "verbs": ["get"],
        },
        {
            "name": "namespaces/rps",
            "singularName": "",
            "namespaced": True,
            "kind": "MetricValueList",
            "verbs": ["get"],
        },
        {
            "name": "pods/rps",
            "singularName": "",
            "namespaced": True,
            "kind": "MetricValueList",
            "verbs": ["get"],
        },
    ]


def test_external_discovery_resources_namespaced_sorted_unique() -> None:
    infos = [ExternalMetricInfo("b"), ExternalMetricInfo("a"), ExternalMetricInfo("b")]
    assert documents.external_metric_resources(infos) == [
        {
            "name": name,
            "singularName": "",
            "namespaced": True,
            "kind": "ExternalMetricValueList",
            "verbs": ["get"],
        }
        for name in ("a", "b")
    ]


def test_thousand_items_share_one_selector_and_timestamp_rendering() -> None:
    selector = LabelSelector.parse("verb!=LIST")
    values = [
        value(described_object=ObjectReference("Pod", f"p{i}", "/v1", "shop"), selector=selector)
        for i in range(1000)
    ]
    items: Any = metric_documents.metric_value_list_v1beta2(values)["items"]
    assert len(items) == 1000
    assert items[999]["describedObject"]["name"] == "p999"
    assert items[999]["metric"]["selector"] == {
        "matchExpressions": [{"key": "verb", "operator": "NotIn", "values": ["LIST"]}]
    }
