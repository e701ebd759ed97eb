"""One bad rule, or one empty answer, does not take the other metrics down.

Against real Prometheus servers (the fault proxy switched between servers holding
different data stands for Prometheus losing or regaining series):

* a rule whose series query fails is reported per rule (stats, the labelled /metrics
  counter) while the other rules are listed and served; readiness comes once the rules
  that can be listed have been. Config loading refuses unparseable queries now
  (test_seriesselector.py), so the broken rule is injected after loading, as a query
  another Prometheus-compatible backend (or version) could refuse would arrive.
* an answer that drops to nothing, or by more than 90%, is held for one relist and
  counted; a second relist confirms it and the rule empties; the series come back at
  the first relist after they do.

Upstream for contrast (prometheus-adapter `pkg/custom-provider/provider.go`
`updateMetrics`): one failing call fails the whole relist, and an empty answer replaces
every metric at once.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from support.faultproxy import FaultProxy, Reply
from support.prometheus import PrometheusProcess, SeriesData, default_dataset

from adapter.k8s.resources import GroupResource, RestMapper
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.settings import PrometheusSettings
from adapter.providers.discovery import Discovery, DiscoveryCollector, DiscoveryError
from adapter.rules.config import MetricsDiscoveryConfig, parse_config
from adapter.rules.registry import RuleSet
from adapter.tools import rules_tool

PODS = GroupResource("", "pods")
CONFIG = """
rules:
- seriesQuery: 'iso_requests{namespace!="",pod!=""}'
  resources: {template: <<.Resource>>}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
- seriesQuery: 'iso_other{namespace!="",pod!=""}'
  resources: {template: <<.Resource>>}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
externalRules:
- seriesQuery: 'iso_queue{queue!=""}'
  resources: {namespaced: false}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>})
"""


def _data(pods: int, *, other: bool = True) -> Callable[[SeriesData], None]:
    def write(data: SeriesData) -> None:
        for index in range(pods):
            data.gauge("iso_requests", {"namespace": "iso", "pod": f"web-{index}"}, 1.0)
        if other:
            data.gauge("iso_other", {"namespace": "iso", "pod": "web-0"}, 1.0)
        data.gauge("iso_queue", {"queue": "jobs"}, 1.0)
        data.gauge("iso_unrelated", {"job": "x"}, 1.0)

    return write


default_dataset(_data(10))


def config(broken: int | None = None) -> MetricsDiscoveryConfig:
    loaded = parse_config(CONFIG, "iso.yaml")
    if broken is None:
        return loaded
    rules = list(loaded.rules)
    rules[broken] = dataclasses.replace(rules[broken], series_query="iso_other{")
    return dataclasses.replace(loaded, rules=tuple(rules))


def discovery(client: PrometheusClient, loaded: MetricsDiscoveryConfig) -> Discovery:
    return Discovery(RuleSet(loaded, RestMapper.builtin()), client, interval=60, max_age=600)


def metrics_text(found: Discovery) -> str:
    registry = CollectorRegistry()
    registry.register(DiscoveryCollector(lambda: found.stats))
    return generate_latest(registry).decode()


def served(found: Discovery) -> set[str]:
    return {e.metric for e in found.registry.custom_entries()} | {
        e.metric for e in found.registry.external_entries()
    }


async def test_a_failing_rule_is_isolated_and_reported(prometheus: PrometheusProcess) -> None:
    async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as client:
        found = discovery(client, config(broken=1))
        await found.relist()
        await found.relist()
    assert found.ready.is_set()
    assert served(found) == {"iso_requests", "iso_queue"}
    assert found.stats.rule_failures == {"rules[1]": 2}
    assert "parse error" in found.stats.rule_errors["rules[1]"]
    text = metrics_text(found)
    assert 'metrics_adapter_discovery_rule_failures_total{rule="rules[1]"} 2.0' in text


async def test_every_rule_refused_is_ready_with_nothing(prometheus: PrometheusProcess) -> None:
    """Prometheus answered and refused every query: waiting will not help, so /readyz
    turns ready (with no metrics) instead of hanging the rollout."""
    loaded = config(broken=0)
    loaded = dataclasses.replace(loaded, rules=loaded.rules[:1], external_rules=())
    async with PrometheusClient(PrometheusSettings(url=prometheus.url)) as client:
        found = discovery(client, loaded)
        with pytest.raises(DiscoveryError):
            await found.relist()
    assert found.ready.is_set() and served(found) == set()


async def test_prometheus_down_is_not_ready(fault_proxy: FaultProxy) -> None:
    fault_proxy.mode = Reply(status=503)
    async with PrometheusClient(PrometheusSettings(url=fault_proxy.url)) as client:
        found = discovery(client, config())
        with pytest.raises(DiscoveryError):
            await found.relist()
    assert not found.ready.is_set()
    assert found.stats.rule_failures == {"rules[0]": 1, "rules[1]": 1, "externalRules[0]": 1}


@pytest.mark.parametrize(
    ("after", "pods_after"),
    [(_data(0, other=False), 0), (_data(1), 1)],
    ids=["emptied", "dropped-90pct"],
)
async def test_a_suspicious_drop_is_held_until_a_second_relist_confirms_it(
    prometheus: PrometheusProcess,
    prometheus_factory: Callable[[SeriesData], PrometheusProcess],
    fault_proxy: FaultProxy,
    after: Callable[[SeriesData], None],
    pods_after: int,
) -> None:
    dataset = SeriesData()
    after(dataset)
    emptier = prometheus_factory(dataset)
    async with PrometheusClient(PrometheusSettings(url=fault_proxy.url)) as client:
        found = discovery(client, config())
        await found.relist()
        assert found.stats.series == 12
        before = found.registry
        fault_proxy.upstream = emptier.url  # Prometheus lost most series
        await found.relist()
        # Held: the same metrics as before, counted.
        assert served(found) == served_of(before)
        assert found.registry.lookup_custom(PODS, True, "iso_requests") is not None
        assert found.stats.suspicious.get("rules[0]") == 1
        text = metrics_text(found)
        assert 'metrics_adapter_discovery_suspicious_relists_total{rule="rules[0]"} 1.0' in text
        # Confirmed by the next relist: the rule's series are what Prometheus says.
        await found.relist()
        assert found.stats.suspicious.get("rules[0]") == 1
        assert (found.registry.lookup_custom(PODS, True, "iso_requests") is not None) == (
            pods_after > 0
        )
        assert found.registry.lookup_external("iso_queue") is not None  # never dropped
        # Back: the first relist after the series return serves them all again.
        fault_proxy.upstream = prometheus.url
        await found.relist()
        assert served(found) == served_of(before)
        assert found.stats.series == 12


def served_of(registry: object) -> set[str]:
    from adapter.rules.registry import Registry

    assert isinstance(registry, Registry)
    return {e.metric for e in registry.custom_entries()} | {
        e.metric for e in registry.external_entries()
    }


async def test_rules_explain_names_the_failing_rule(prometheus: PrometheusProcess) -> None:
    """`rules explain` relists as `serve` does and says which rule listed nothing."""
    err = io.StringIO()
    rules = RuleSet(config(broken=1), RestMapper.builtin())
    registry = await rules_tool.registry_from_prometheus(rules, prometheus.url, 600, err)
    assert {e.metric for e in registry.custom_entries()} == {"iso_requests"}
    [line] = err.getvalue().splitlines()
    assert line.startswith("warning: rules[1]: its seriesQuery failed, so it lists nothing: ")
