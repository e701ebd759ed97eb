"""NaN, ±Inf and values beyond a quantity are "no value" in all three metrics APIs.

The real Prometheus holds NaN and infinite samples (its TSDB stores them; PromQL answers
NaN for 0/0). Upstream for contrast: prometheus-adapter's custom provider writes
`NewMilliQuantity(int64(value*1000))`, so NaN became `0`, and its resource provider
clamps NaN to 0 (`pkg/resourceprovider/provider.go`) — a value nobody measured that
scaled a workload down. Here the same rule holds everywhere: an object whose sample is
unreadable is left out of `*` and metrics.k8s.io lists; a named object or an external
metric fails with a Status saying why (404 for no value, as for no sample; 500 for a
value whose `MilliValue()` would overflow the HPA's int64, per apimachinery's
`pkg/api/resource/quantity.go`).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
from support.prometheus import PrometheusProcess, SeriesData, default_dataset

from adapter.k8s import status
from adapter.k8s.fields import FieldSelector
from adapter.k8s.resources import ResourceInfo, RestMapper
from adapter.k8s.selectors import LabelSelector
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.settings import PrometheusSettings
from adapter.providers.base import (
    CustomMetricRequest,
    ExternalMetricRequest,
    NodeMetricsRequest,
    PodMetricsRequest,
)
from adapter.providers.custom import CustomMetricsProvider
from adapter.providers.external import ExternalMetricsProvider
from adapter.providers.resource import ResourceMetricsProvider
from adapter.rules.config import parse_config
from adapter.rules.registry import Registry, RuleSet
from adapter.tools.request_preview import StaticResourceObjects
from adapter.tools.rules_tool import registry_from_series

MAPPER = RestMapper.builtin()
VALUES = {"ok": 3.0, "nan": math.nan, "inf": math.inf, "neginf": -math.inf, "huge": 1e17}

CONFIG = """
rules:
- seriesQuery: 'uv_inflight{namespace!="",pod!=""}'
  resources: {template: <<.Resource>>}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
externalRules:
- seriesQuery: 'uv_backlog{namespace!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)
resourceRules:
  cpu:
    containerQuery: sum(uv_cpu_cores{<<.LabelMatchers>>}) by (<<.GroupBy>>)
    nodeQuery: sum(uv_cpu_cores{<<.LabelMatchers>>,id="/"}) by (<<.GroupBy>>)
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  memory:
    containerQuery: sum(uv_memory_bytes{<<.LabelMatchers>>}) by (<<.GroupBy>>)
    nodeQuery: sum(uv_memory_bytes{<<.LabelMatchers>>,id="/"}) by (<<.GroupBy>>)
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  window: 1m
"""


@default_dataset
def _uv_series(data: SeriesData) -> None:
    for kind, value in VALUES.items():
        data.gauge("uv_inflight", {"namespace": "uv", "pod": f"{kind}-1"}, value)
        data.gauge("uv_backlog", {"namespace": "uv", "queue": kind}, value)
    # metrics.k8s.io: one healthy pod, one whose memory is NaN, one whose memory is 9e18
    # bytes (`8789062500000000Ki`, whose MilliValue() overflows int64); CPU is fine in all.
    for pod, memory in (("ok", 4096.0), ("nan", math.nan), ("huge", 9e18)):
        labels = {"namespace": "uv", "pod": pod, "container": "c"}
        data.gauge("uv_cpu_cores", labels, 0.25)
        data.gauge("uv_memory_bytes", labels, memory)
    for node, cpu in (("n-ok", 2.0), ("n-inf", math.inf)):
        data.gauge("uv_cpu_cores", {"node": node, "id": "/"}, cpu)
        data.gauge("uv_memory_bytes", {"node": node, "id": "/"}, float(1 << 30))


@pytest.fixture
async def client(prometheus: PrometheusProcess) -> AsyncIterator[PrometheusClient]:
    async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as opened:
        yield opened


class Pods:
    async def list_object_names(
        self, info: ResourceInfo, namespace: str | None, selector: LabelSelector
    ) -> list[str]:
        return [f"{kind}-1" for kind in VALUES]


def registry() -> Registry:
    series = [{"__name__": "uv_inflight", "namespace": "uv", "pod": "ok-1"}]
    series += [{"__name__": "uv_backlog", "namespace": "uv", "queue": "ok"}]
    return registry_from_series(RuleSet(parse_config(CONFIG), MAPPER), series)


def custom_request(name: str) -> CustomMetricRequest:
    everything = LabelSelector.everything()
    return CustomMetricRequest("pods", name, "uv_inflight", "uv", everything, everything)


async def test_custom_wildcard_leaves_unreadable_objects_out(client: PrometheusClient) -> None:
    built = registry()
    provider = CustomMetricsProvider(lambda: built, lambda: MAPPER, client, Pods())
    values = await provider.get_metrics(custom_request("*"))
    assert [(v.described_object.name, v.value) for v in values] == [("ok-1", "3")]


@pytest.mark.parametrize(
    ("pod", "code", "says"),
    [
        ("nan-1", 404, "the value is NaN, which is no value"),
        ("inf-1", 404, "the value is +Inf, which is no value"),
        ("neginf-1", 404, "the value is -Inf, which is no value"),
        ("huge-1", 500, "the value 1e+17 is beyond what a Kubernetes quantity holds"),
    ],
)
async def test_custom_named_object_with_unreadable_value_fails(
    client: PrometheusClient, pod: str, code: int, says: str
) -> None:
    built = registry()
    provider = CustomMetricsProvider(lambda: built, lambda: MAPPER, client, Pods())
    with pytest.raises(status.StatusError) as raised:
        await provider.get_metrics(custom_request(pod))
    assert raised.value.code == code
    assert says in raised.value.message
    assert f"uv_inflight for pods {pod}" in raised.value.message


@pytest.mark.parametrize(
    ("queue", "code", "says"),
    [
        ("nan", 404, "the value is NaN, which is no value"),
        ("inf", 404, "the value is +Inf, which is no value"),
        ("huge", 500, "beyond what a Kubernetes quantity holds"),
    ],
)
async def test_external_unreadable_sample_fails_the_request(
    client: PrometheusClient, queue: str, code: int, says: str
) -> None:
    built = registry()
    provider = ExternalMetricsProvider(lambda: built, client)
    selector = LabelSelector.parse(f"queue in (ok,{queue})")
    with pytest.raises(status.StatusError) as raised:
        await provider.get_metrics(ExternalMetricRequest("uv", "uv_backlog", selector))
    assert raised.value.code == code
    assert says in raised.value.message
    assert f'queue="{queue}"' in raised.value.message
    [value] = await provider.get_metrics(
        ExternalMetricRequest("uv", "uv_backlog", LabelSelector.parse("queue=ok"))
    )
    assert value.value == "3"


def resource_provider(client: PrometheusClient, objects: list[str]) -> ResourceMetricsProvider:
    rules = parse_config(CONFIG).resource_rules
    assert rules is not None
    return ResourceMetricsProvider(rules, MAPPER, client, StaticResourceObjects(objects))


async def test_pod_list_leaves_out_pods_with_an_unreadable_sample(
    client: PrometheusClient,
) -> None:
    """Not a pod with its CPU and without its memory (or a garbage memory): no pod."""
    provider = resource_provider(client, ["uv/ok", "uv/nan", "uv/huge"])
    request = PodMetricsRequest("uv", None, LabelSelector.everything(), FieldSelector())
    [only] = await provider.pod_metrics(request)
    assert only.name == "ok"
    assert {k: str(v) for k, v in only.containers[0].usage.items()} == {
        "cpu": "250m",
        "memory": "4Ki",
    }


@pytest.mark.parametrize(
    ("pod", "code", "says"),
    [
        ("nan", 404, "the metric memory for pod uv/nan: the value is NaN, which is no value"),
        ("huge", 500, "the value 9e+18 bytes is beyond what a Kubernetes quantity holds"),
    ],
)
async def test_named_pod_with_an_unreadable_sample_fails(
    client: PrometheusClient, pod: str, code: int, says: str
) -> None:
    provider = resource_provider(client, ["uv/ok", "uv/nan", "uv/huge"])
    request = PodMetricsRequest("uv", pod, LabelSelector.everything(), FieldSelector())
    with pytest.raises(status.StatusError) as raised:
        await provider.pod_metrics(request)
    assert raised.value.code == code
    assert says in raised.value.message


async def test_node_with_an_infinite_cpu_is_left_out_or_fails_by_name(
    client: PrometheusClient,
) -> None:
    provider = resource_provider(client, ["n-ok", "n-inf"])
    everything = LabelSelector.everything()
    [only] = await provider.node_metrics(NodeMetricsRequest(None, everything, FieldSelector()))
    assert (only.name, str(only.usage["cpu"])) == ("n-ok", "2")
    with pytest.raises(status.StatusError) as raised:
        await provider.node_metrics(NodeMetricsRequest("n-inf", everything, FieldSelector()))
    assert raised.value.code == 404
    assert "cpu for node n-inf: the value is +Inf" in raised.value.message
