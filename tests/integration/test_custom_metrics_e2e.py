"""custom.metrics.k8s.io end to end: real Prometheus, the API server stand-in, the adapter
over HTTPS, and the real `kubectl get --raw` as the client.

Every path kind an HPA or a user asks for is covered: discovery, a named namespaced
object (Object metrics), `*` with a label selector (Pods metrics), root-scoped objects,
the namespace's own metrics, metricLabelSelector, and the errors (unknown metric, bad
selector, Prometheus unreachable) as Kubernetes Status objects.
Expected shapes follow custom-metrics-apiserver's handlers and k8s.io/metrics' types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.adapter import raw, running_adapter
from support.apiserver import pod
from support.faultproxy import Cut, FaultProxy
from support.prometheus import PrometheusProcess, SeriesData, default_dataset

from adapter.k8s.quantity import Quantity
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState

CONFIG = """
rules:
- seriesQuery: 'e2e_http_requests_total{namespace!="",pod!=""}'
  resources:
    overrides:
      namespace: {resource: namespace}
      pod: {resource: pod}
      service: {resource: service}
  name: {matches: "^(.*)_total$", as: "${1}_per_second"}
  metricsQuery: sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
- seriesQuery: 'e2e_node_temperature_celsius{node!=""}'
  resources: {template: <<.Resource>>}
  metricsQuery: max(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
- seriesQuery: 'e2e_queue_length{namespace!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
"""


@default_dataset
def _e2e_series(data: SeriesData) -> None:
    for n, name in enumerate(("web-1", "web-2", "web-3"), start=1):
        data.counter(
            "e2e_http_requests_total",
            {"namespace": "e2e", "pod": name, "service": "web", "code": "200"},
            rate_per_second=float(n),
        )
    data.counter(
        "e2e_http_requests_total",
        {"namespace": "e2e", "pod": "web-1", "service": "web", "code": "500"},
        rate_per_second=0.5,
    )
    data.gauge("e2e_node_temperature_celsius", {"node": "node-1"}, 61.5)
    data.gauge("e2e_queue_length", {"namespace": "e2e"}, 17.0)


@pytest.fixture
def e2e_cluster(cluster_state: ClusterState) -> ClusterState:
    cluster_state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "e2e"}})
    for name in ("web-1", "web-2", "web-3"):
        cluster_state.create(pod(name, "e2e", {"app": "web"}))
    cluster_state.create(pod("batch-1", "e2e", {"app": "batch"}))  # no series at all
    cluster_state.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}})
    return cluster_state


@pytest.fixture
async def adapter(
    apiserver: RunningApiServer,
    e2e_cluster: ClusterState,
    prometheus: PrometheusProcess,
    tmp_path: Path,
) -> AsyncIterator[str]:
    async with running_adapter(apiserver, prometheus.url, tmp_path, CONFIG) as url:
        yield url


def value(item: dict[str, Any]) -> float:
    return Quantity.parse(item["value"]).as_float()


async def test_discovery_lists_every_metric_resource_pair(adapter: str, tmp_path: Path) -> None:
    code, document = await raw(adapter, "/apis/custom.metrics.k8s.io/v1beta1", tmp_path)
    assert code == 0, document
    assert document["kind"] == "APIResourceList"
    assert document["groupVersion"] == "custom.metrics.k8s.io/v1beta1"
    listed = {(r["name"], r["namespaced"]) for r in document["resources"]}
    assert listed == {
        ("pods/e2e_http_requests_per_second", True),
        ("services/e2e_http_requests_per_second", True),
        ("namespaces/e2e_http_requests_per_second", False),
        ("nodes/e2e_node_temperature_celsius", False),
        ("namespaces/e2e_queue_length", False),
    }
    for resource in document["resources"]:
        assert resource["kind"] == "MetricValueList" and resource["verbs"] == ["get"]


async def test_named_pod_object_metric(adapter: str, tmp_path: Path) -> None:
    path = (
        "/apis/custom.metrics.k8s.io/v1beta2/namespaces/e2e/pods/web-2/e2e_http_requests_per_second"
    )
    code, document = await raw(adapter, path, tmp_path)
    assert code == 0, document
    assert document["kind"] == "MetricValueList"
    [item] = document["items"]
    assert item["describedObject"] == {
        "kind": "Pod",
        "namespace": "e2e",
        "name": "web-2",
        "apiVersion": "/v1",
    }
    assert item["metric"] == {"name": "e2e_http_requests_per_second", "selector": None}
    assert value(item) == pytest.approx(2.0, abs=0.002)


async def test_all_pods_matching_a_label_selector(adapter: str, tmp_path: Path) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/*/e2e_http_requests_per_second?labelSelector=app%3Dweb"
    code, document = await raw(adapter, path, tmp_path)
    assert code == 0, document
    names = [item["describedObject"]["name"] for item in document["items"]]
    assert names == ["web-1", "web-2", "web-3"]  # the API server's list order
    by_name = {item["describedObject"]["name"]: value(item) for item in document["items"]}
    # web-1 sums its 200 and 500 series: 1 + 0.5
    assert by_name["web-1"] == pytest.approx(1.5, abs=0.002)
    assert by_name["web-3"] == pytest.approx(3.0, abs=0.003)
    for item in document["items"]:
        assert item["metricName"] == "e2e_http_requests_per_second"
        assert item["selector"] is None


async def test_objects_without_samples_are_left_out(adapter: str, tmp_path: Path) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/*/e2e_http_requests_per_second"
    code, document = await raw(adapter, path, tmp_path)
    assert code == 0, document
    assert "batch-1" not in [item["describedObject"]["name"] for item in document["items"]]
    assert len(document["items"]) == 3


async def test_metric_label_selector_filters_series_and_is_echoed(
    adapter: str, tmp_path: Path
) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/e2e/pods/web-1/e2e_http_requests_per_second?metricLabelSelector=code%3D500"
    code, document = await raw(adapter, path, tmp_path)
    assert code == 0, document
    [item] = document["items"]
    assert value(item) == pytest.approx(0.5, abs=0.002)
    assert item["metric"]["selector"] == {"matchLabels": {"code": "500"}}


async def test_root_scoped_node_metric(adapter: str, tmp_path: Path) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta1/nodes/node-1/e2e_node_temperature_celsius"
    code, document = await raw(adapter, path, tmp_path)
    assert code == 0, document
    [item] = document["items"]
    assert item["describedObject"] == {"kind": "Node", "name": "node-1", "apiVersion": "/v1"}
    assert item["value"] == "61500m"


async def test_namespace_metrics_path(adapter: str, tmp_path: Path) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/metrics/e2e_queue_length"
    code, document = await raw(adapter, path, tmp_path)
    assert code == 0, document
    [item] = document["items"]
    assert item["describedObject"]["kind"] == "Namespace"
    assert item["describedObject"]["name"] == "e2e"
    assert item["value"] == "17"


async def test_unknown_metric_is_a_404_status(adapter: str, tmp_path: Path) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/web-1/nope"
    code, stderr = await raw(adapter, path, tmp_path)
    assert code != 0
    assert (
        "Error from server (NotFound): the server could not find the metric nope for pods" in stderr
    )


async def test_bad_label_selector_is_a_400_status(adapter: str, tmp_path: Path) -> None:
    path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/*/e2e_http_requests_per_second?labelSelector=app%3D%3D%3D"
    code, stderr = await raw(adapter, path, tmp_path)
    assert code != 0
    assert "Error from server (BadRequest)" in stderr


async def test_prometheus_unreachable_is_a_503_never_a_value(
    apiserver: RunningApiServer,
    e2e_cluster: ClusterState,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    async with running_adapter(apiserver, fault_proxy.url, tmp_path, CONFIG) as url:
        fault_proxy.mode = Cut()
        path = (
            "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/*/e2e_http_requests_per_second"
        )
        code, stderr = await raw(url, path, tmp_path)
    assert code != 0
    assert "Error from server (ServiceUnavailable)" in stderr
    assert "unable to fetch metrics: prometheus is unreachable" in stderr


async def test_one_query_per_wildcard_request(
    apiserver: RunningApiServer,
    e2e_cluster: ClusterState,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    async with running_adapter(apiserver, fault_proxy.url, tmp_path, CONFIG) as url:
        fault_proxy.requests.clear()
        path = (
            "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/*/e2e_http_requests_per_second"
        )
        code, document = await raw(url, path, tmp_path)
    assert code == 0, document
    queries = [r for r in fault_proxy.requests if r.path.endswith("/api/v1/query")]
    assert len(queries) == 1
    # Names in the API server's list order (by name, as etcd keys sort).
    assert queries[0].param("query") == (
        'sum(rate(e2e_http_requests_total{namespace="e2e",pod=~"batch-1|web-1|web-2|web-3"}[2m])) by (pod)'
    )
    timeout = queries[0].param("timeout")
    assert timeout is not None and not timeout.startswith("-") and timeout != "0s"


async def test_request_timeout_bounds_the_prometheus_timeout(
    apiserver: RunningApiServer,
    e2e_cluster: ClusterState,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    """`?timeout=` (what Kubernetes clients send) caps the `timeout` sent to Prometheus:
    what is left of the caller's wait, positive, never the adapter's 5 s default."""
    async with running_adapter(apiserver, fault_proxy.url, tmp_path, CONFIG) as url:
        fault_proxy.requests.clear()
        path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/*/e2e_http_requests_per_second?timeout=2s"
        code, document = await raw(url, path, tmp_path)
        assert code == 0, document
        bad_code, stderr = await raw(url, path.replace("2s", "soon"), tmp_path)
    [query] = [r for r in fault_proxy.requests if r.path.endswith("/api/v1/query")]
    sent = float(query.param("timeout") or "nan")
    assert 0 < sent <= 2.0
    assert bad_code != 0 and "Error from server (BadRequest)" in stderr


async def test_zero_or_negative_timeout_is_no_client_deadline(
    apiserver: RunningApiServer,
    e2e_cluster: ClusterState,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    """`?timeout=0s` or a negative one is "no deadline on the client's part", as
    kube-apiserver reads it (k8s.io/apiserver endpoints/filters/request_deadline.go uses
    a user timeout only when it is > 0): the request is answered, with the adapter's own
    query timeout (5 s in these tests), where it used to fail at once with 503."""
    async with running_adapter(apiserver, fault_proxy.url, tmp_path, CONFIG) as url:
        base = (
            "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/*/e2e_http_requests_per_second"
        )
        for timeout in ("0s", "0", "-5s", "-1h"):
            fault_proxy.requests.clear()
            code, document = await raw(url, f"{base}?timeout={timeout}", tmp_path)
            assert code == 0, (timeout, document)
            [query] = [r for r in fault_proxy.requests if r.path.endswith("/api/v1/query")]
            assert 2.0 < float(query.param("timeout") or "nan") <= 5.0, timeout
