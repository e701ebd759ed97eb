"""Discovery against the real Prometheus: relist, registry swap, failures keep the last one.

Pins the behaviour of prometheus-adapter's relist loop (pkg/custom-provider/provider.go
`updateMetrics`): one /api/v1/series call per distinct seriesQuery with `start` =
now - max age, and the previous registry served while Prometheus cannot answer. Deliberate
difference: upstream fails the whole relist when one call fails; here each series query
stands alone (tests/providers/test_discovery_isolation.py).
"""

from __future__ import annotations

import pytest
from support.faultproxy import Cut, PassThrough, Reply
from support.prometheus import PrometheusProcess, SeriesData, default_dataset

from adapter.k8s.resources import GroupResource, RestMapper
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.settings import PrometheusSettings
from adapter.providers.discovery import Discovery, DiscoveryError
from adapter.rules.config import parse_config
from adapter.rules.registry import RuleSet

CONFIG = """
rules:
- seriesQuery: 'disc_http_requests_total{namespace!="",pod!=""}'
  resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
  name: {matches: "^(.*)_total$", as: "${1}_per_second"}
  metricsQuery: sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
- seriesQuery: 'disc_http_requests_total{namespace!="",pod!=""}'
  resources: {template: <<.Resource>>}
  name: {matches: "^(.*)_total$", as: "${1}_count"}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
externalRules:
- seriesQuery: 'disc_queue_messages{queue!=""}'
  resources: {namespaced: false}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>})
"""


@default_dataset
def _discovery_series(data: SeriesData) -> None:
    for pod in ("web-1", "web-2"):
        data.counter(
            "disc_http_requests_total",
            {"namespace": "disc", "pod": pod, "service": "web"},
            rate_per_second=1.0,
        )
    data.gauge("disc_queue_messages", {"queue": "orders"}, 5.0)


def _discovery(url: str) -> tuple[Discovery, PrometheusClient]:
    rules = RuleSet(parse_config(CONFIG, "test.yaml"), RestMapper.builtin())
    client = PrometheusClient(PrometheusSettings(url=url))
    return Discovery(rules, client, interval=60, max_age=600), client


async def test_relist_builds_the_registry_from_real_series(prometheus: PrometheusProcess) -> None:
    discovery, client = _discovery(prometheus.url)
    async with client:
        registry = await discovery.relist()
    listed = {(e.metric, str(e.group_resource), e.namespaced) for e in registry.custom_entries()}
    # rule 0 maps namespace and pod through overrides; rule 1's template maps every label
    # that names a resource: namespace, pod and service.
    assert listed == {
        ("disc_http_requests_per_second", "pods", True),
        ("disc_http_requests_per_second", "namespaces", False),
        ("disc_http_requests_count", "pods", True),
        ("disc_http_requests_count", "namespaces", False),
        ("disc_http_requests_count", "services", True),
    }
    assert [e.metric for e in registry.external_entries()] == ["disc_queue_messages"]
    assert discovery.ready.is_set()
    # Three series seen: one call per distinct seriesQuery (the two rules share one).
    assert discovery.stats.series == 3
    assert discovery.stats.relists == 1 and discovery.stats.failures == 0


async def test_one_call_per_distinct_series_query(fault_proxy) -> None:  # type: ignore[no-untyped-def]
    discovery, client = _discovery(fault_proxy.url)
    async with client:
        await discovery.relist()
    series_calls = [seen for seen in fault_proxy.requests if seen.path.endswith("/api/v1/series")]
    assert sorted(call.param("match[]") for call in series_calls) == sorted(
        ['disc_http_requests_total{namespace!="",pod!=""}', 'disc_queue_messages{queue!=""}']
    )
    for call in series_calls:
        assert call.param("end") is None  # upstream asks from now - max age to now


@pytest.mark.parametrize(
    "fault",
    [Reply(status=503, error_type="unavailable", error="overloaded"), Cut()],
    ids=["503", "cut"],
)
async def test_failed_relist_keeps_the_last_good_registry(fault_proxy, fault) -> None:  # type: ignore[no-untyped-def]
    discovery, client = _discovery(fault_proxy.url)
    async with client:
        good = await discovery.relist()
        fault_proxy.mode = fault
        with pytest.raises(DiscoveryError):
            await discovery.relist()
        assert discovery.registry is good
        assert discovery.stats.failures == 1 and discovery.stats.relists == 2
        assert discovery.stats.last_error
        fault_proxy.mode = PassThrough()
        recovered = await discovery.relist()
    assert discovery.registry is recovered
    assert recovered.lookup_custom(GroupResource("", "pods"), True, "disc_http_requests_per_second")


async def test_not_ready_until_the_first_good_relist(fault_proxy) -> None:  # type: ignore[no-untyped-def]
    fault_proxy.mode = Reply(status=500, error_type="internal", error="boom")
    discovery, client = _discovery(fault_proxy.url)
    async with client:
        with pytest.raises(DiscoveryError):
            await discovery.relist()
        assert not discovery.ready.is_set()
        assert discovery.registry.custom == {}
        fault_proxy.mode = PassThrough()
        await discovery.relist()
    assert discovery.ready.is_set()
