"""The metrics.k8s.io provider against the real Prometheus, with pods and nodes from a
fixed list: how failures of some or all queries come out.

Upstream (prometheus-adapter `pkg/resourceprovider/provider.go` GetPodMetrics): a
namespace whose queries fail is logged and skipped, the other namespaces are answered;
GetNodeMetrics answers an empty list when its query fails. Deliberate difference pinned
here: when every query of a request fails the request fails with the Prometheus error
(503 unreachable/slow, 500 otherwise) instead of an empty success.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.prometheus import PrometheusProcess, SeriesData, default_dataset

from adapter.k8s import status
from adapter.k8s.fields import FieldSelector
from adapter.k8s.resources import RestMapper
from adapter.k8s.selectors import LabelSelector
from adapter.prometheus import errors as prom_errors
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.results import QueryResult
from adapter.prometheus.settings import PrometheusSettings
from adapter.providers.base import NodeMetricsRequest, PodMetricsRequest
from adapter.providers.failures import prometheus_failure
from adapter.providers.resource import ResourceMetricsProvider
from adapter.rules.config import parse_config
from adapter.tools.request_preview import StaticResourceObjects

CONFIG = """
resourceRules:
  cpu:
    containerQuery: sum(rate(rp_cpu_seconds_total{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
    nodeQuery: sum(rate(rp_cpu_seconds_total{<<.LabelMatchers>>,id="/"}[2m])) by (<<.GroupBy>>)
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  memory:
    containerQuery: sum(rp_memory_bytes{<<.LabelMatchers>>}) by (<<.GroupBy>>)
    nodeQuery: sum(rp_memory_bytes{<<.LabelMatchers>>,id="/"}) by (<<.GroupBy>>)
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  window: 2m
"""


@default_dataset
def _rp_series(data: SeriesData) -> None:
    for namespace in ("rp-a", "rp-b"):
        labels = {"namespace": namespace, "pod": "p", "container": "c"}
        data.counter("rp_cpu_seconds_total", labels, rate_per_second=0.5)
        data.gauge("rp_memory_bytes", labels, 4096.0)
    data.counter("rp_cpu_seconds_total", {"node": "n1", "id": "/"}, rate_per_second=2.0)
    data.gauge("rp_memory_bytes", {"node": "n1", "id": "/"}, float(1 << 30))


class FailingFor(ResourceMetricsProvider):
    """The real provider, with Prometheus refusing queries that mention `broken`."""

    broken: tuple[str, ...] = ()

    async def query(self, promql: str, *, at: float, deadline: float) -> QueryResult:
        if any(word in promql for word in self.broken):
            raise prometheus_failure(prom_errors.PrometheusUnreachable("connection refused"))
        return await super().query(promql, at=at, deadline=deadline)


@pytest.fixture
async def client(prometheus: PrometheusProcess) -> AsyncIterator[PrometheusClient]:
    async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as opened:
        yield opened


def provider(client: PrometheusClient, *broken: str, nodes: bool = False) -> FailingFor:
    rules = parse_config(CONFIG).resource_rules
    assert rules is not None
    objects = StaticResourceObjects(["n1"] if nodes else ["rp-a/p", "rp-b/p"])
    made = FailingFor(rules, RestMapper.builtin(), client, objects)
    made.broken = broken
    return made


def all_pods() -> PodMetricsRequest:
    return PodMetricsRequest(None, None, LabelSelector.everything(), FieldSelector())


async def test_both_namespaces_answered(client: PrometheusClient) -> None:
    values = await provider(client).pod_metrics(all_pods())
    assert [(v.namespace, v.name) for v in values] == [("rp-a", "p"), ("rp-b", "p")]
    assert str(values[0].containers[0].usage["memory"]) == "4Ki"


async def test_a_failing_namespace_is_skipped(client: PrometheusClient) -> None:
    values = await provider(client, 'namespace="rp-b"').pod_metrics(all_pods())
    assert [(v.namespace, v.name) for v in values] == [("rp-a", "p")]


async def test_every_namespace_failing_fails_the_request(client: PrometheusClient) -> None:
    with pytest.raises(status.StatusError) as raised:
        await provider(client, "rp_cpu_seconds_total").pod_metrics(all_pods())
    assert raised.value.code == 503


async def test_node_query_failing_fails_the_request(client: PrometheusClient) -> None:
    request = NodeMetricsRequest(None, LabelSelector.everything(), FieldSelector())
    [node] = await provider(client, nodes=True).node_metrics(request)
    assert (node.name, str(node.usage["memory"])) == ("n1", "1Gi")
    with pytest.raises(status.StatusError) as raised:
        await provider(client, "rp_memory_bytes", nodes=True).node_metrics(request)
    assert raised.value.code == 503
