"""No silent zero: a query that answers nothing is "metric not found", never a value of 0
and never an empty success, unless the rule opts in with `emptyResult: zero`.

Providers against the real Prometheus (the shared session server), objects from a fixed
list. Upstream for contrast (prometheus-adapter `pkg/custom-provider/provider.go`
`GetMetricBySelector` answers 200 with the objects that had a sample, possibly none;
`pkg/external-provider/metric_converter.go` `convertVector` answers an empty list); the
404 for a named object without a sample is upstream's own (`GetMetricByName`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from support.prometheus import PrometheusProcess, SeriesData, default_dataset

from adapter.k8s import status
from adapter.k8s.resources import ResourceInfo, RestMapper
from adapter.k8s.selectors import LabelSelector
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.settings import PrometheusSettings
from adapter.providers.base import CustomMetricRequest, ExternalMetricRequest
from adapter.providers.custom import CustomMetricsProvider
from adapter.providers.external import ExternalMetricsProvider
from adapter.rules.config import ConfigError, EmptyResult, parse_config
from adapter.rules.registry import Registry, RuleSet
from adapter.tools.rules_tool import registry_from_series

MAPPER = RestMapper.builtin()


def config_text(empty_result: str | None) -> str:
    opt_in = f"  emptyResult: {empty_result}\n" if empty_result else ""
    return (
        "rules:\n"
        '- seriesQuery: \'nsz_inflight{namespace!="",pod!=""}\'\n'
        "  resources: {template: <<.Resource>>}\n"
        f"{opt_in}"
        "  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)\n"
        "externalRules:\n"
        "- seriesQuery: 'nsz_backlog{namespace!=\"\"}'\n"
        "  resources: {overrides: {namespace: {resource: namespace}}}\n"
        f"{opt_in}"
        "  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)\n"
    )


SERIES = [
    {"__name__": "nsz_inflight", "namespace": "nsz", "pod": "busy-1"},
    {"__name__": "nsz_backlog", "namespace": "nsz", "queue": "jobs"},
]


@default_dataset
def _nsz_series(data: SeriesData) -> None:
    data.gauge("nsz_inflight", {"namespace": "nsz", "pod": "busy-1"}, 4.0)
    data.gauge("nsz_backlog", {"namespace": "nsz", "queue": "jobs"}, 9.0)


class Pods:
    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    async def list_object_names(
        self, info: ResourceInfo, namespace: str | None, selector: LabelSelector
    ) -> list[str]:
        return list(self.names)


@pytest.fixture
async def client(prometheus: PrometheusProcess) -> AsyncIterator[PrometheusClient]:
    async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as opened:
        yield opened


def registry(empty_result: str | None) -> Registry:
    return registry_from_series(RuleSet(parse_config(config_text(empty_result)), MAPPER), SERIES)


def custom(client: PrometheusClient, empty_result: str | None, pods: Sequence[str]) -> Any:
    built = registry(empty_result)
    return CustomMetricsProvider(lambda: built, lambda: MAPPER, client, Pods(pods))


def pods_request(name: str) -> CustomMetricRequest:
    return CustomMetricRequest(
        resource="pods",
        name=name,
        metric="nsz_inflight",
        namespace="nsz",
        label_selector=LabelSelector.everything(),
        metric_selector=LabelSelector.everything(),
    )


async def test_wildcard_with_no_sample_is_404_not_an_empty_list(client: PrometheusClient) -> None:
    provider = custom(client, None, ["idle-1", "idle-2"])
    with pytest.raises(status.StatusError) as raised:
        await provider.get_metrics(pods_request("*"))
    assert raised.value.code == 404 and raised.value.reason == "NotFound"
    assert raised.value.message == (
        "the server could not find the metric nsz_inflight for pods: the query returned no samples"
    )


async def test_wildcard_answers_only_objects_with_samples(client: PrometheusClient) -> None:
    provider = custom(client, None, ["busy-1", "idle-1"])
    values = await provider.get_metrics(pods_request("*"))
    assert [(v.described_object.name, v.value) for v in values] == [("busy-1", "4")]


async def test_named_object_without_sample_is_404(client: PrometheusClient) -> None:
    provider = custom(client, None, [])
    with pytest.raises(status.StatusError) as raised:
        await provider.get_metrics(pods_request("idle-1"))
    assert raised.value.code == 404
    assert (
        raised.value.message == "the server could not find the metric nsz_inflight for pods idle-1"
    )


async def test_zero_opt_in_reads_missing_samples_as_zero(client: PrometheusClient) -> None:
    provider = custom(client, "zero", ["busy-1", "idle-1"])
    values = await provider.get_metrics(pods_request("*"))
    assert [(v.described_object.name, v.value) for v in values] == [
        ("busy-1", "4"),
        ("idle-1", "0"),
    ]
    [single] = await provider.get_metrics(pods_request("idle-2"))
    assert single.value == "0"


async def test_zero_opt_in_needs_objects(client: PrometheusClient) -> None:
    """No object matches the selector: still not found, whatever the rule says."""
    provider = custom(client, "zero", [])
    with pytest.raises(status.StatusError) as raised:
        await provider.get_metrics(pods_request("*"))
    assert raised.value.code == 404


def external_request(namespace: str) -> ExternalMetricRequest:
    return ExternalMetricRequest(namespace, "nsz_backlog", LabelSelector.everything())


async def test_external_empty_result_is_404(client: PrometheusClient) -> None:
    built = registry(None)
    provider = ExternalMetricsProvider(lambda: built, client)
    with pytest.raises(status.StatusError) as raised:
        await provider.get_metrics(external_request("elsewhere"))
    assert raised.value.code == 404
    assert raised.value.message == (
        "the server could not find the metric nsz_backlog: the query returned no samples"
    )
    [value] = await provider.get_metrics(external_request("nsz"))
    assert (value.metric_labels, value.value) == ({"queue": "jobs"}, "9")


async def test_external_zero_opt_in(client: PrometheusClient) -> None:
    built = registry("zero")
    provider = ExternalMetricsProvider(lambda: built, client)
    [value] = await provider.get_metrics(external_request("elsewhere"))
    assert (value.metric_name, dict(value.metric_labels), value.value) == ("nsz_backlog", {}, "0")


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (None, EmptyResult.NOT_FOUND),
        ("notFound", EmptyResult.NOT_FOUND),
        ("zero", EmptyResult.ZERO),
    ],
)
def test_empty_result_loads_strictly(written: str | None, expected: EmptyResult) -> None:
    config = parse_config(config_text(written))
    assert [rule.empty_result for rule in config.all_rules()] == [expected, expected]
    assert all(
        rule.extensions == (("emptyResult",) if written else ()) for rule in config.all_rules()
    )


def test_unknown_empty_result_names_the_field() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(config_text("0"), "c.yaml")
    assert [str(p) for p in raised.value.problems] == [
        "c.yaml: rules[0].emptyResult: unknown value '0' (one of: notFound, zero)",
        "c.yaml: externalRules[0].emptyResult: unknown value '0' (one of: notFound, zero)",
    ]


def test_resource_rules_have_no_empty_result() -> None:
    """Resource metrics never read missing data as zero: the key is unknown there."""
    text = (
        "resourceRules:\n"
        "  emptyResult: zero\n"
        "  cpu: {containerQuery: x, nodeQuery: x, resources: {template: <<.Resource>>}}\n"
        "  memory: {containerQuery: x, nodeQuery: x, resources: {template: <<.Resource>>}}\n"
    )
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "c.yaml")
    assert raised.value.problems[0].path == "resourceRules.emptyResult"
