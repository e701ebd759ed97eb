"""One data set, one config and one walk over all three metrics APIs, for checking that a
Prometheus-compatible backend (Prometheus behind TLS and basic auth, VictoriaMetrics)
serves the adapter end to end.

Owns: the series (`backend_dataset`), the objects in the API server stand-in
(`populate`), the rule config (`CONFIG`, custom + external + resource rules) and
`check_all_apis`, which asks the adapter what an HPA, `kubectl top` and a user ask and
checks every number. The backends themselves are started by the test modules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapter.k8s.quantity import Quantity
from adapter.sandbox.store import ClusterState
from support.apiserver import pod
from support.kubectl import get_raw
from support.prometheus import SeriesData

__all__ = ["CONFIG", "NAMESPACE", "backend_dataset", "check_all_apis", "populate"]

NAMESPACE = "bk"
MIB = 1 << 20

# pod -> (requests per second, cpu cores, working set bytes)
PODS: dict[str, tuple[float, float, int]] = {
    "web-1": (1.0, 0.25, 50 * MIB),
    "web-2": (2.0, 0.5, 30 * MIB),
}

CONFIG = """
rules:
- seriesQuery: 'bk_requests_total{namespace!="",pod!=""}'
  resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
  name: {matches: "^(.*)_total$", as: "${1}_per_second"}
  metricsQuery: sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
externalRules:
- seriesQuery: 'bk_queue_depth{queue!=""}'
  resources: {namespaced: false}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)
resourceRules:
  cpu:
    containerQuery: sum by (<<.GroupBy>>) (rate(bk_container_cpu_seconds_total{<<.LabelMatchers>>}[2m]))
    nodeQuery: sum by (<<.GroupBy>>) (rate(bk_node_cpu_seconds_total{<<.LabelMatchers>>,mode!="idle"}[2m]))
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  memory:
    containerQuery: sum by (<<.GroupBy>>) (bk_container_memory_bytes{<<.LabelMatchers>>})
    nodeQuery: sum by (<<.GroupBy>>) (bk_node_memory_used_bytes{<<.LabelMatchers>>})
    resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}, node: {resource: node}}}
    containerLabel: container
  window: 2m
"""


def backend_dataset(data: SeriesData | None = None) -> SeriesData:
    data = data if data is not None else SeriesData()
    for name, (requests, cores, memory) in PODS.items():
        labels = {"namespace": NAMESPACE, "pod": name}
        data.counter("bk_requests_total", labels, rate_per_second=requests)
        container = labels | {"container": "app"}
        data.counter("bk_container_cpu_seconds_total", container, rate_per_second=cores)
        data.gauge("bk_container_memory_bytes", container, float(memory))
    data.gauge("bk_queue_depth", {"queue": "orders"}, 42.0)
    data.gauge("bk_queue_depth", {"queue": "billing"}, 7.0)
    for mode, cores in (("user", 0.5), ("system", 0.25), ("idle", 3.0)):
        data.counter("bk_node_cpu_seconds_total", {"node": "bk-node", "mode": mode}, cores)
    data.gauge("bk_node_memory_used_bytes", {"node": "bk-node"}, float(2 << 30))
    return data


def populate(state: ClusterState) -> None:
    state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    for name in PODS:
        state.create(pod(name, NAMESPACE, {"app": "web"}, node="bk-node"))
    state.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bk-node"}})


async def _get(url: str, path: str, tmp_path: Path) -> Any:
    result = await get_raw(url, path, tmp_path / "kubectl")
    assert result.returncode == 0, f"{path}: {result.stderr}"
    return json.loads(result.stdout)


def _number(text: str) -> float:
    return Quantity.parse(text).as_float()


async def check_all_apis(url: str, tmp_path: Path) -> None:
    """Discovery, Pods and Object metrics, an external metric, pod and node resource
    metrics: each answer carries the backend's numbers, none is empty or zero."""
    listed = await _get(url, "/apis/custom.metrics.k8s.io/v1beta2", tmp_path)
    assert {r["name"] for r in listed["resources"]} >= {
        "pods/bk_requests_per_second",
        "namespaces/bk_requests_per_second",
    }
    custom = await _get(
        url,
        f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{NAMESPACE}/pods/*/bk_requests_per_second?labelSelector=app%3Dweb",
        tmp_path,
    )
    got = {i["describedObject"]["name"]: _number(i["value"]) for i in custom["items"]}
    assert got.keys() == PODS.keys()
    for name, (requests, _, _) in PODS.items():
        assert abs(got[name] - requests) < 0.01, (name, got)

    external = await _get(
        url,
        f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/bk_queue_depth",
        tmp_path,
    )
    queues = {i["metricLabels"]["queue"]: _number(i["value"]) for i in external["items"]}
    assert queues == {"orders": 42.0, "billing": 7.0}
    selected = await _get(
        url,
        f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/bk_queue_depth?labelSelector=queue%3Dorders",
        tmp_path,
    )
    assert [_number(i["value"]) for i in selected["items"]] == [42.0]

    pods = await _get(url, f"/apis/metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/pods", tmp_path)
    usage = {
        i["metadata"]["name"]: {c["name"]: c["usage"] for c in i["containers"]}
        for i in pods["items"]
    }
    assert usage.keys() == PODS.keys()
    for name, (_, cores, memory) in PODS.items():
        assert abs(_number(usage[name]["app"]["cpu"]) - cores) < 0.005, usage
        assert _number(usage[name]["app"]["memory"]) == memory
    node = await _get(url, "/apis/metrics.k8s.io/v1beta1/nodes/bk-node", tmp_path)
    assert abs(_number(node["usage"]["cpu"]) - 0.75) < 0.005, node
    assert _number(node["usage"]["memory"]) == float(2 << 30)
