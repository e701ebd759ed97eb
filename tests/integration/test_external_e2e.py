"""external.metrics.k8s.io end to end: real Prometheus, the API server stand-in, the
adapter over HTTPS, the real `kubectl get --raw` as the client; and the switches that
turn each API group off.

Upstream behaviour pinned (prometheus-adapter `pkg/external-provider`): `provider.go`
`GetExternalMetric` (query built from the registry entry, Prometheus errors as 500
"unable to fetch metrics", unknown metrics as NewMetricNotFoundError with resource
`namespaces` only in the `default` namespace), `metric_converter.go` (every sample an
item with all its labels and its own timestamp, scalars one item, other result types
an error), `pkg/naming/metrics_query.go` `BuildExternal` (selector matchers, then the
namespace matcher unless `resources.namespaced: false`), and
`pkg/naming/metrics_query.go` `processQueryParts`/`selectMatcher` for the operator
table. Deliberate differences asserted here: an empty result is a 404 unless the rule
says `emptyResult: zero`; Prometheus unreachable is a 503.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.adapter import raw, running_adapter
from support.faultproxy import Cut, FaultProxy
from support.prometheus import PrometheusProcess, SeriesData, default_dataset

from adapter.k8s import timefmt
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState
from adapter.settings import ApiGroups

CONFIG = """
rules:
- seriesQuery: 'ext_queue_messages{namespace!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
externalRules:
- seriesQuery: 'ext_queue_messages{namespace!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)
- seriesQuery: 'ext_queue_messages{namespace!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  name: {matches: ^ext_queue_messages$, as: ext_queue_raw}
  metricsQuery: <<.Series>>{<<.LabelMatchers>>}
- seriesQuery: 'ext_queue_messages{namespace!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  name: {matches: ^ext_queue_messages$, as: ext_queue_or_zero}
  emptyResult: zero
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)
- seriesQuery: 'ext_global_backlog'
  resources: {namespaced: false}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (region)
- seriesQuery: 'ext_global_backlog'
  resources: {namespaced: false}
  name: {matches: ^ext_global_backlog$, as: ext_backlog_scalar}
  metricsQuery: scalar(sum(<<.Series>>{<<.LabelMatchers>>}))
- seriesQuery: 'ext_global_backlog'
  resources: {namespaced: false}
  name: {matches: ^ext_global_backlog$, as: ext_backlog_range}
  metricsQuery: <<.Series>>{<<.LabelMatchers>>}[1m]
- seriesQuery: 'ext_global_backlog'
  resources: {namespaced: false}
  name: {matches: ^ext_global_backlog$, as: ext_backlog_broken}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}
- seriesQuery: 'ext_global_backlog'
  name: {matches: ^ext_global_backlog$, as: ext_backlog_unmapped}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>})
- seriesQuery: 'ext_odd_values'
  resources: {namespaced: false}
  metricsQuery: <<.Series>>{<<.LabelMatchers>>}
resourceRules:
  cpu:
    containerQuery: sum(rate(ext_cpu_seconds_total{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
    nodeQuery: sum(rate(ext_cpu_seconds_total{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  memory:
    containerQuery: sum(ext_memory_bytes{<<.LabelMatchers>>}) by (<<.GroupBy>>)
    nodeQuery: sum(ext_memory_bytes{<<.LabelMatchers>>}) by (<<.GroupBy>>)
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  window: 2m
"""

QUEUES = {"orders": 42.0, "billing": 7.0, "audit": 3.0}


@default_dataset
def _external_series(data: SeriesData) -> None:
    for queue, depth in QUEUES.items():
        labels = {"namespace": "ext", "queue": queue, "tier": "gold" if queue == "orders" else ""}
        data.gauge("ext_queue_messages", {k: v for k, v in labels.items() if v}, depth)
    data.gauge("ext_queue_messages", {"namespace": "ext-other", "queue": "orders"}, 5.0)
    data.gauge("ext_global_backlog", {"region": "eu"}, 100.0)
    data.gauge("ext_global_backlog", {"region": "us"}, 20.5)
    data.gauge("ext_odd_values", {"case": "nan"}, math.nan)


@pytest.fixture
async def adapter(
    apiserver: RunningApiServer, prometheus: PrometheusProcess, tmp_path: Path
) -> AsyncIterator[str]:
    async with running_adapter(apiserver, prometheus.url, tmp_path, CONFIG) as url:
        yield url


BASE = "/apis/external.metrics.k8s.io/v1beta1"


async def test_discovery_lists_every_external_metric(adapter: str, tmp_path: Path) -> None:
    code, document = await raw(adapter, BASE, tmp_path)
    assert code == 0, document
    assert document["groupVersion"] == "external.metrics.k8s.io/v1beta1"
    names = [resource["name"] for resource in document["resources"]]
    assert names == sorted(
        [
            "ext_backlog_broken",
            "ext_backlog_range",
            "ext_backlog_scalar",
            "ext_backlog_unmapped",
            "ext_global_backlog",
            "ext_odd_values",
            "ext_queue_messages",
            "ext_queue_or_zero",
            "ext_queue_raw",
        ]
    )
    for resource in document["resources"]:
        # custom-metrics-apiserver lists every external metric as namespaced.
        assert resource["namespaced"] is True
        assert resource["kind"] == "ExternalMetricValueList"
        assert resource["verbs"] == ["get"]


async def test_every_sample_is_an_item_with_its_labels(adapter: str, tmp_path: Path) -> None:
    code, document = await raw(adapter, f"{BASE}/namespaces/ext/ext_queue_messages", tmp_path)
    assert code == 0, document
    assert document["kind"] == "ExternalMetricValueList"
    assert document["apiVersion"] == "external.metrics.k8s.io/v1beta1"
    by_queue = {item["metricLabels"]["queue"]: item for item in document["items"]}
    assert {queue: item["value"] for queue, item in by_queue.items()} == {
        "orders": "42",
        "billing": "7",
        "audit": "3",
    }
    for item in document["items"]:
        assert item["metricName"] == "ext_queue_messages"
        assert list(item) == ["metricName", "metricLabels", "timestamp", "value"]
        timefmt.parse_time(item["timestamp"])  # metav1.Time, the sample's time


async def test_labels_are_all_the_sample_has(adapter: str, tmp_path: Path) -> None:
    """metric_converter.go convertLabels: every label, `__name__` included when kept."""
    path = f"{BASE}/namespaces/ext/ext_queue_raw?labelSelector=queue%3Dorders"
    code, document = await raw(adapter, path, tmp_path)
    assert code == 0, document
    [item] = document["items"]
    assert item["metricLabels"] == {
        "__name__": "ext_queue_messages",
        "namespace": "ext",
        "queue": "orders",
        "tier": "gold",
    }


SELECTOR_CASES = [
    # (labelSelector, the .LabelMatchers part before the namespace, queues answered)
    ("queue=orders", 'queue="orders"', {"orders"}),
    ("queue==orders", 'queue="orders"', {"orders"}),
    ("queue!=orders", 'queue!="orders"', {"billing", "audit"}),
    ("queue in (orders)", 'queue=~"orders"', {"orders"}),
    ("queue in (orders,billing)", 'queue=~"billing|orders"', {"orders", "billing"}),
    ("queue notin (orders)", 'queue!~"orders"', {"billing", "audit"}),
    ("queue notin (orders,billing)", 'queue!~"billing|orders"', {"audit"}),
    ("tier", 'tier!=""', {"orders"}),
    ("!tier", 'tier=""', {"billing", "audit"}),
    ("tier,queue in (orders,audit)", 'queue=~"audit|orders",tier!=""', {"orders"}),
]


@pytest.mark.parametrize(("selector", "matchers", "queues"), SELECTOR_CASES)
async def test_label_selector_operators_become_promql_matchers(
    apiserver: RunningApiServer,
    fault_proxy: FaultProxy,
    tmp_path: Path,
    selector: str,
    matchers: str,
    queues: set[str],
) -> None:
    """Each operator as prometheus-adapter's selectMatcher/selectTargetValue writes it:
    requirements in key order, then the namespace matcher."""
    from urllib.parse import quote

    async with running_adapter(apiserver, fault_proxy.url, tmp_path, CONFIG) as url:
        fault_proxy.requests.clear()
        path = f"{BASE}/namespaces/ext/ext_queue_messages?labelSelector={quote(selector)}"
        code, document = await raw(url, path, tmp_path)
    assert code == 0, document
    [sent] = [r for r in fault_proxy.requests if r.path.endswith("/api/v1/query")]
    assert sent.param("query") == (
        f'sum(ext_queue_messages{{{matchers},namespace="ext"}}) by (queue)'
    )
    assert {item["metricLabels"]["queue"] for item in document["items"]} == queues


async def test_unsupported_operator_is_a_400(adapter: str, tmp_path: Path) -> None:
    """Upstream answers 500 "operator not supported by prometheus"; it is the client's
    selector, so here a 400 (the same as custom metrics, test_metric_selectors_e2e.py)."""
    path = f"{BASE}/namespaces/ext/ext_queue_messages?labelSelector=depth%3E3"
    code, stderr = await raw(adapter, path, tmp_path)
    assert code != 0
    assert "Error from server (BadRequest)" in stderr
    assert "not supported by prometheus" in stderr


async def test_not_namespaced_rule_drops_the_namespace_matcher(
    apiserver: RunningApiServer, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    async with running_adapter(apiserver, fault_proxy.url, tmp_path, CONFIG) as url:
        fault_proxy.requests.clear()
        path = f"{BASE}/namespaces/anywhere/ext_global_backlog?labelSelector=region%3Deu"
        code, document = await raw(url, path, tmp_path)
    assert code == 0, document
    [sent] = [r for r in fault_proxy.requests if r.path.endswith("/api/v1/query")]
    assert sent.param("query") == 'sum(ext_global_backlog{region="eu"}) by (region)'
    [item] = document["items"]
    assert item == {
        "metricName": "ext_global_backlog",
        "metricLabels": {"region": "eu"},
        "timestamp": item["timestamp"],
        "value": "100",
    }


async def test_other_namespace_sees_its_own_samples(adapter: str, tmp_path: Path) -> None:
    code, document = await raw(adapter, f"{BASE}/namespaces/ext-other/ext_queue_messages", tmp_path)
    assert code == 0, document
    assert [(i["metricLabels"], i["value"]) for i in document["items"]] == [
        ({"queue": "orders"}, "5")
    ]


async def test_scalar_result_is_one_item_without_labels(adapter: str, tmp_path: Path) -> None:
    code, document = await raw(adapter, f"{BASE}/namespaces/ext/ext_backlog_scalar", tmp_path)
    assert code == 0, document
    [item] = document["items"]
    assert item["metricName"] == "ext_backlog_scalar"
    assert item["value"] == "120500m"
    # Upstream writes null (a nil map); our serialiser writes an empty map.
    assert not item["metricLabels"]


async def test_empty_result_is_metric_not_found_never_zero(adapter: str, tmp_path: Path) -> None:
    """Deliberate difference: upstream answers 200 with `items: []`."""
    path = f"{BASE}/namespaces/ext/ext_queue_messages?labelSelector=queue%3Dnone"
    code, stderr = await raw(adapter, path, tmp_path)
    assert code != 0
    assert (
        "Error from server (NotFound): the server could not find the metric "
        "ext_queue_messages: the query returned no samples"
    ) in stderr


async def test_empty_result_zero_opt_in(adapter: str, tmp_path: Path) -> None:
    path = f"{BASE}/namespaces/quiet/ext_queue_or_zero"
    code, document = await raw(adapter, path, tmp_path)
    assert code == 0, document
    [item] = document["items"]
    assert item["metricName"] == "ext_queue_or_zero"
    assert item["value"] == "0"
    assert not item["metricLabels"]
    # With samples, the opt-in changes nothing.
    code, document = await raw(adapter, f"{BASE}/namespaces/ext/ext_queue_or_zero", tmp_path)
    assert code == 0, document
    assert len(document["items"]) == 3


@pytest.mark.parametrize(
    ("namespace", "message"),
    [
        # custom-metrics-apiserver NewMetricNotFoundError with prometheus-adapter's
        # selectGroupResource: `namespaces` in "default", the empty resource elsewhere.
        ("default", "the server could not find the metric nope for namespaces"),
        ("ext", "the server could not find the metric nope for \n"),
    ],
)
async def test_unknown_metric_404_worded_as_upstream(
    adapter: str, tmp_path: Path, namespace: str, message: str
) -> None:
    code, stderr = await raw(adapter, f"{BASE}/namespaces/{namespace}/nope", tmp_path)
    assert code != 0
    assert f"Error from server (NotFound): {message}" in stderr + "\n"


@pytest.mark.parametrize(
    ("metric", "detail"),
    [
        ("ext_backlog_range", "the query returned a matrix"),
        ("ext_backlog_broken", "prometheus rejected the query"),
        ("ext_backlog_unmapped", "unable to generate a query for the metric"),
    ],
)
async def test_unusable_queries_are_500_unable_to_fetch(
    adapter: str, tmp_path: Path, metric: str, detail: str
) -> None:
    code, stderr = await raw(adapter, f"{BASE}/namespaces/ext/{metric}", tmp_path)
    assert code != 0
    assert (
        "Error from server (InternalError): Internal error occurred: unable to fetch metrics"
        in (stderr)
    )
    assert detail in stderr


async def test_a_nan_sample_is_no_value_404(adapter: str, tmp_path: Path) -> None:
    """Upstream writes NaN as a garbage quantity; the HPA sums every item, so one NaN
    fails the request the way no sample does (see providers/test_unreadable_values.py)."""
    code, stderr = await raw(adapter, f"{BASE}/namespaces/ext/ext_odd_values", tmp_path)
    assert code != 0
    assert "Error from server (NotFound): the server could not find the metric" in stderr
    assert 'case="nan"' in stderr and "the value is NaN, which is no value" in stderr


async def test_prometheus_unreachable_is_a_503(
    apiserver: RunningApiServer, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    async with running_adapter(apiserver, fault_proxy.url, tmp_path, CONFIG) as url:
        fault_proxy.mode = Cut()
        code, stderr = await raw(url, f"{BASE}/namespaces/ext/ext_queue_messages", tmp_path)
    assert code != 0
    assert "Error from server (ServiceUnavailable)" in stderr


async def test_bad_label_selector_is_a_400(adapter: str, tmp_path: Path) -> None:
    path = f"{BASE}/namespaces/ext/ext_queue_messages?labelSelector=queue%3D%3D%3D"
    code, stderr = await raw(adapter, path, tmp_path)
    assert code != 0
    assert "Error from server (BadRequest)" in stderr


async def test_custom_wildcard_without_any_sample_is_404(
    adapter: str, tmp_path: Path, cluster_state: ClusterState
) -> None:
    """No silent zero for custom metrics too: upstream answers `*` requests where no
    object got a sample with 200 and no items; we answer 404."""
    path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/*/metrics/ext_queue_messages"
    code, stderr = await raw(adapter, path, tmp_path)
    assert code != 0
    assert (
        "Error from server (NotFound): the server could not find the metric "
        "ext_queue_messages for namespaces: the query returned no samples"
    ) in stderr
    cluster_state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ext"}})
    code, document = await raw(adapter, path, tmp_path)
    assert code == 0, document
    assert [(i["describedObject"]["name"], i["value"]) for i in document["items"]] == [
        ("ext", "52")
    ]


# --- the --enable-*-metrics-api switches -------------------------------------------------

GROUP_PATHS = {
    "custom.metrics.k8s.io": "/apis/custom.metrics.k8s.io/v1beta1/namespaces/ext/metrics/ext_queue_messages",
    "external.metrics.k8s.io": f"{BASE}/namespaces/ext/ext_queue_messages",
    "metrics.k8s.io": "/apis/metrics.k8s.io/v1beta1/nodes",
}


@pytest.mark.parametrize(
    "switches",
    [
        ApiGroups(),
        ApiGroups(custom=False),
        ApiGroups(external=False),
        ApiGroups(resource=False),
        ApiGroups(custom=False, external=False, resource=False),
    ],
    ids=["all", "no-custom", "no-external", "no-resource", "none"],
)
async def test_api_groups_switch_off(
    apiserver: RunningApiServer,
    prometheus: PrometheusProcess,
    tmp_path: Path,
    switches: ApiGroups,
) -> None:
    """`--enable-custom-metrics-api=false` and friends: the group is neither listed in
    `/apis` nor routed (404 like any unknown path), so metrics-server or KEDA can own it."""
    wanted = {
        "custom.metrics.k8s.io": switches.custom,
        "external.metrics.k8s.io": switches.external,
        "metrics.k8s.io": switches.resource,
    }
    async with running_adapter(
        apiserver, prometheus.url, tmp_path, CONFIG, api_groups=switches
    ) as url:
        code, document = await raw(url, "/apis", tmp_path)
        assert code == 0, document
        listed = {group["name"] for group in document["groups"]}
        assert listed == {name for name, on in wanted.items() if on}
        for group, path in GROUP_PATHS.items():
            code, answer = await raw(url, path, tmp_path)
            if wanted[group]:
                assert code == 0, answer
            else:
                assert code != 0
                assert "the server could not find the requested resource" in answer
