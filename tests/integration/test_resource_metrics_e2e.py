"""metrics.k8s.io end to end with the shipped `config/default.yaml`: cAdvisor and
node-exporter series in a real Prometheus, pods and nodes in the API server stand-in,
the adapter over HTTPS, and the real kubectl (`get --raw` for every path, `top pods` and
`top nodes` through the stand-in's aggregation proxy, `get podmetrics` as a Table).

Upstream behaviour pinned: prometheus-adapter `pkg/resourceprovider/provider.go`
(`GetPodMetrics`: pods grouped by namespace, one cpu and one memory query per
namespace with `.GroupBy` = pod,container; a pod without cpu or memory is skipped;
negative samples clamped to 0; `GetNodeMetrics`: one query per resource for all nodes,
first sample per node), metrics-server `pkg/api/pod.go` and `node.go` (running pods
only, label and field selectors, lists sorted by namespace then name, GET 404s worded
`pods "x" not found` and `podmetrics.metrics.k8s.io "ns/x" not found`), `table.go`
(Name, one column per resource, Window) and the k8s.io/metrics v1beta1 JSON.
Deliberate differences asserted: CPU keeps nanocore precision (upstream truncates to
millicores), a container missing one resource carries only the other (upstream writes
0), a NaN sample leaves its pod out (upstream clamps it to 0), and Prometheus being
down fails the request (upstream answers an empty list).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.adapter import raw, running_adapter
from support.apiserver import pod
from support.faultproxy import Cut, FaultProxy
from support.kubectl import get_raw, kubectl
from support.prometheus import PrometheusProcess, SeriesData

from adapter.k8s import timefmt
from adapter.k8s.quantity import Quantity
from adapter.rules.config import load_config
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import APIServiceBackend, ClusterState

REPO = Path(__file__).parents[2]
DEFAULT_CONFIG = REPO / "config" / "default.yaml"
BASE = "/apis/metrics.k8s.io/v1beta1"
MIB = 1 << 20

# (namespace, pod, container) -> (cpu cores, working set bytes or None)
CONTAINERS: dict[tuple[str, str, str], tuple[float, int | None]] = {
    ("top", "web-1", "app"): (0.25, 50 * MIB + 4096),  # a page-aligned working set
    ("top", "web-2", "app"): (0.5, None),  # no memory series: the pod is left out
    ("top", "batch-1", "worker"): (1.5, 200 * MIB),
    ("top", "batch-1", "sidecar"): (0.01, None),  # cpu only: memory absent, not 0
    ("top", "pending-1", "app"): (0.2, 10 * MIB),  # has data, but is not Running
    ("top-b", "api-1", "api"): (0.1, 30 * MIB),
}


def _top_dataset() -> SeriesData:
    data = SeriesData()
    for (namespace, name, container), (cores, memory) in CONTAINERS.items():
        labels = {"namespace": namespace, "pod": name, "container": container}
        data.counter("container_cpu_usage_seconds_total", labels, rate_per_second=cores)
        if memory is not None:
            data.gauge("container_memory_working_set_bytes", labels, float(memory))
    # What cAdvisor also exports and the default queries must not count: the pod-level
    # cgroup (container="") and the pause container of older runtimes (container="POD").
    for container, cores in (("", 0.3), ("POD", 0.01)):
        labels = {"namespace": "top", "pod": "web-1", "container": container}
        data.counter("container_cpu_usage_seconds_total", labels, rate_per_second=cores)
        data.gauge("container_memory_working_set_bytes", labels, float(MIB))
    # node-exporter on top-node-1: busy = user + system; idle and iowait do not count.
    for mode, cores in (("user", 0.5), ("system", 0.25), ("idle", 3.0), ("iowait", 0.1)):
        data.counter(
            "node_cpu_seconds_total",
            {"node": "top-node-1", "cpu": "0", "mode": mode},
            rate_per_second=cores,
        )
    data.gauge("node_memory_MemTotal_bytes", {"node": "top-node-1"}, float(8 << 30))
    data.gauge("node_memory_MemAvailable_bytes", {"node": "top-node-1"}, float(6 << 30))
    return data


@pytest.fixture(scope="module")
def top_prometheus(prometheus_factory: Any) -> PrometheusProcess:
    process: PrometheusProcess = prometheus_factory(_top_dataset())
    return process


def _node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def populate(state: ClusterState) -> None:
    for namespace in ("top", "top-b"):
        state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    state.create(pod("web-1", "top", {"app": "web"}, node="top-node-1"))
    state.create(pod("web-2", "top", {"app": "web"}, node="top-node-1"))
    state.create(pod("batch-1", "top", {"app": "batch"}, node="top-node-1"))
    state.create(pod("pending-1", "top", {"app": "web"}, phase="Pending", node="top-node-1"))
    state.create(pod("nodata-1", "top", {"app": "web"}, node="top-node-1"))
    state.create(pod("api-1", "top-b", {"app": "api"}, node="top-node-1"))
    state.create(_node("top-node-1"))
    state.create(_node("top-node-2"))  # no node-exporter series


@pytest.fixture
async def adapter(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    top_prometheus: PrometheusProcess,
    tmp_path: Path,
) -> AsyncIterator[str]:
    populate(cluster_state)
    async with running_adapter(
        apiserver, top_prometheus.url, tmp_path, load_config(DEFAULT_CONFIG)
    ) as url:
        yield url


def cores(text: str) -> float:
    return Quantity.parse(text).as_float()


def names(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in document["items"]]


# --- discovery ---------------------------------------------------------------------------


async def test_discovery_document_is_metrics_servers(adapter: str, tmp_path: Path) -> None:
    code, document = await raw(adapter, BASE, tmp_path)
    assert code == 0, document
    assert document == {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "metrics.k8s.io/v1beta1",
        "resources": [
            {
                "name": "nodes",
                "singularName": "",
                "namespaced": False,
                "kind": "NodeMetrics",
                "verbs": ["get", "list"],
            },
            {
                "name": "pods",
                "singularName": "",
                "namespaced": True,
                "kind": "PodMetrics",
                "verbs": ["get", "list"],
            },
        ],
    }
    code, group = await raw(adapter, "/apis/metrics.k8s.io", tmp_path)
    assert code == 0, group
    assert group["preferredVersion"] == {
        "groupVersion": "metrics.k8s.io/v1beta1",
        "version": "v1beta1",
    }


# --- pods --------------------------------------------------------------------------------


async def test_pod_metrics_list_in_a_namespace(adapter: str, tmp_path: Path) -> None:
    code, document = await raw(adapter, f"{BASE}/namespaces/top/pods", tmp_path)
    assert code == 0, document
    assert document["kind"] == "PodMetricsList"
    assert document["apiVersion"] == "metrics.k8s.io/v1beta1"
    assert document["metadata"] == {}
    # Sorted by name; web-2 (no memory), nodata-1 (no series) and pending-1 (not
    # Running) are left out, never reported as zero.
    assert names(document) == [("top", "batch-1"), ("top", "web-1")]
    batch, web = document["items"]
    assert list(web) == ["metadata", "timestamp", "window", "containers"]
    assert list(web["metadata"]) == ["name", "namespace", "creationTimestamp", "labels"]
    assert web["metadata"]["labels"] == {"app": "web"}
    assert web["window"] == "5m0s"
    timefmt.parse_time(web["timestamp"])
    timefmt.parse_time(web["metadata"]["creationTimestamp"])
    [app] = web["containers"]  # container="" and "POD" are not containers
    assert app["name"] == "app"
    assert list(app["usage"]) == ["cpu", "memory"]
    assert app["usage"]["memory"] == "51204Ki"  # BinarySI, as metrics-server writes it
    assert cores(app["usage"]["cpu"]) == pytest.approx(0.25, abs=1e-6)
    assert re.fullmatch(r"\d+n|\d+u|\d+m", app["usage"]["cpu"])
    sidecar, worker = batch["containers"]
    assert sidecar["name"] == "sidecar" and list(sidecar["usage"]) == ["cpu"]
    assert cores(sidecar["usage"]["cpu"]) == pytest.approx(0.01, abs=1e-6)
    assert worker == {"name": "worker", "usage": {"cpu": worker["usage"]["cpu"], "memory": "200Mi"}}
    assert cores(worker["usage"]["cpu"]) == pytest.approx(1.5, abs=1e-6)


async def test_pod_metrics_across_all_namespaces(adapter: str, tmp_path: Path) -> None:
    code, document = await raw(adapter, f"{BASE}/pods", tmp_path)
    assert code == 0, document
    assert names(document) == [("top", "batch-1"), ("top", "web-1"), ("top-b", "api-1")]
    api = document["items"][2]
    assert api["containers"][0]["usage"]["memory"] == "30Mi"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("labelSelector=app%3Dweb", [("top", "web-1")]),
        ("labelSelector=app%20in%20(batch,api)", [("top", "batch-1"), ("top-b", "api-1")]),
        ("labelSelector=app%21%3Dweb", [("top", "batch-1"), ("top-b", "api-1")]),
        ("fieldSelector=metadata.name%3Dweb-1", [("top", "web-1")]),
        ("fieldSelector=metadata.namespace%3Dtop-b", [("top-b", "api-1")]),
        ("fieldSelector=metadata.namespace%21%3Dtop-b", [("top", "batch-1"), ("top", "web-1")]),
        ("labelSelector=app%3Dnone", []),
    ],
)
async def test_pod_metrics_selectors(
    adapter: str, tmp_path: Path, query: str, expected: list[tuple[str, str]]
) -> None:
    code, document = await raw(adapter, f"{BASE}/pods?{query}", tmp_path)
    assert code == 0, document
    assert names(document) == expected


async def test_unknown_field_selector_is_a_400(adapter: str, tmp_path: Path) -> None:
    path = f"{BASE}/pods?fieldSelector=spec.nodeName%3Dtop-node-1"
    code, stderr = await raw(adapter, path, tmp_path)
    assert code != 0
    assert (
        'Error from server (BadRequest): "spec.nodeName" is not a known field selector: '
        'only "metadata.name", "metadata.namespace"'
    ) in stderr


async def test_single_pod_metrics(adapter: str, tmp_path: Path) -> None:
    code, document = await raw(adapter, f"{BASE}/namespaces/top/pods/web-1", tmp_path)
    assert code == 0, document
    assert document["kind"] == "PodMetrics"
    assert document["apiVersion"] == "metrics.k8s.io/v1beta1"
    assert document["metadata"]["name"] == "web-1"
    assert document["metadata"]["namespace"] == "top"
    assert [c["name"] for c in document["containers"]] == ["app"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nodata-1", 'podmetrics.metrics.k8s.io "top/nodata-1" not found'),
        ("web-2", 'podmetrics.metrics.k8s.io "top/web-2" not found'),
        ("pending-1", 'pods "pending-1" not found'),  # the lister only knows Running pods
        ("missing", 'pods "missing" not found'),
    ],
)
async def test_single_pod_not_found_worded_as_metrics_server(
    adapter: str, tmp_path: Path, name: str, message: str
) -> None:
    code, stderr = await raw(adapter, f"{BASE}/namespaces/top/pods/{name}", tmp_path)
    assert code != 0
    assert f"Error from server (NotFound): {message}" in stderr


# --- nodes -------------------------------------------------------------------------------


async def test_node_metrics(adapter: str, tmp_path: Path) -> None:
    code, document = await raw(adapter, f"{BASE}/nodes", tmp_path)
    assert code == 0, document
    assert document["kind"] == "NodeMetricsList"
    [item] = document["items"]  # top-node-2 has no node-exporter series
    assert list(item) == ["metadata", "timestamp", "window", "usage"]
    assert list(item["metadata"]) == ["name", "creationTimestamp", "labels"]
    assert item["metadata"]["name"] == "top-node-1"
    assert item["metadata"]["labels"] == {"kubernetes.io/hostname": "top-node-1"}
    assert item["usage"]["memory"] == "2Gi"
    assert cores(item["usage"]["cpu"]) == pytest.approx(0.75, abs=1e-6)
    code, single = await raw(adapter, f"{BASE}/nodes/top-node-1", tmp_path)
    assert code == 0, single
    assert single["kind"] == "NodeMetrics"
    assert single["usage"] == item["usage"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("top-node-2", 'nodemetrics.metrics.k8s.io "top-node-2" not found'),
        ("nowhere", 'nodes "nowhere" not found'),
    ],
)
async def test_single_node_not_found(adapter: str, tmp_path: Path, name: str, message: str) -> None:
    code, stderr = await raw(adapter, f"{BASE}/nodes/{name}", tmp_path)
    assert code != 0
    assert f"Error from server (NotFound): {message}" in stderr


# --- queries -----------------------------------------------------------------------------


@pytest.fixture
async def proxied(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    top_prometheus: PrometheusProcess,
    tmp_path: Path,
) -> AsyncIterator[tuple[str, FaultProxy]]:
    populate(cluster_state)
    async with (
        FaultProxy(top_prometheus.url) as proxy,
        running_adapter(apiserver, proxy.url, tmp_path, load_config(DEFAULT_CONFIG)) as url,
    ):
        yield url, proxy


def queries(proxy: FaultProxy) -> list[str]:
    return [r.param("query") or "" for r in proxy.requests if r.path.endswith("/api/v1/query")]


async def test_one_cpu_and_one_memory_query_per_namespace(
    proxied: tuple[str, FaultProxy], tmp_path: Path, cluster_state: ClusterState
) -> None:
    url, proxy = proxied
    proxy.requests.clear()
    cluster_state.audit_log = []
    code, document = await raw(url, f"{BASE}/pods", tmp_path)
    assert code == 0, document
    sent = sorted(" ".join(q.split()) for q in queries(proxy))
    assert sent == [
        'sum by (pod,container) ( container_memory_working_set_bytes{namespace="top",pod=~"batch-1|nodata-1|web-1|web-2",container!="",container!="POD"} )',
        'sum by (pod,container) ( container_memory_working_set_bytes{namespace="top-b",pod="api-1",container!="",container!="POD"} )',
        'sum by (pod,container) ( rate(container_cpu_usage_seconds_total{namespace="top",pod=~"batch-1|nodata-1|web-1|web-2",container!="",container!="POD"}[5m]) )',
        'sum by (pod,container) ( rate(container_cpu_usage_seconds_total{namespace="top-b",pod="api-1",container!="",container!="POD"}[5m]) )',
    ]
    # All queries of one request are evaluated at one instant.
    assert len({r.param("time") for r in proxy.requests}) == 1
    # One metadata-only list of running pods, labels and fields left to the API server.
    [listing] = [r for r in cluster_state.audit_log if r.path == "/api/v1/pods"]
    assert "fieldSelector=status.phase%3DRunning" in listing.query
    assert "as=PartialObjectMetadataList" in listing.accept


async def test_node_queries_one_per_resource(
    proxied: tuple[str, FaultProxy], tmp_path: Path
) -> None:
    url, proxy = proxied
    proxy.requests.clear()
    code, document = await raw(url, f"{BASE}/nodes", tmp_path)
    assert code == 0, document
    sent = sorted(" ".join(q.split()) for q in queries(proxy))
    assert sent == [
        'sum by (node) ( node_memory_MemTotal_bytes{node=~"top-node-1|top-node-2"} - node_memory_MemAvailable_bytes{node=~"top-node-1|top-node-2"} )',
        'sum by (node) ( rate(node_cpu_seconds_total{node=~"top-node-1|top-node-2",mode!="idle",mode!="iowait",mode!="steal"}[5m]) )',
    ]


async def test_prometheus_down_is_an_error_not_an_empty_list(
    proxied: tuple[str, FaultProxy], tmp_path: Path
) -> None:
    url, proxy = proxied
    proxy.mode = Cut()
    for path in (f"{BASE}/namespaces/top/pods", f"{BASE}/nodes", f"{BASE}/nodes/top-node-1"):
        code, stderr = await raw(url, path, tmp_path)
        assert code != 0, path
        assert "Error from server (ServiceUnavailable)" in stderr


async def test_watch_and_writes_are_not_supported(adapter: str, tmp_path: Path) -> None:
    code, stderr = await raw(adapter, f"{BASE}/pods?watch=true", tmp_path)
    assert code != 0
    assert 'watch is not supported on resources of kind "pods.metrics.k8s.io"' in stderr


# --- kubectl top and kubectl get, through the aggregation layer --------------------------


@pytest.fixture
async def aggregated(
    tls_apiserver: RunningApiServer,
    cluster_state: ClusterState,
    top_prometheus: PrometheusProcess,
    tmp_path: Path,
) -> AsyncIterator[Path]:
    """The stand-in serving APIService v1beta1.metrics.k8s.io from the running adapter
    (front-proxy client certificate over TLS, as kube-aggregator connects); yields the
    admin kubeconfig kubectl uses."""
    populate(cluster_state)
    async with running_adapter(
        tls_apiserver, top_prometheus.url, tmp_path, load_config(DEFAULT_CONFIG)
    ) as url:
        cluster_state.register_api_service(
            APIServiceBackend("metrics.k8s.io", "v1beta1", url, insecure_skip_tls_verify=True)
        )
        yield tls_apiserver.write_kubeconfig(tmp_path / "admin" / "kubeconfig")


def table_rows(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.strip().splitlines()]


def _millicores(text: str) -> int:
    assert text.endswith("m"), text
    return int(text[:-1])


async def test_kubectl_top_pods(aggregated: Path) -> None:
    result = (await kubectl(aggregated, "top", "pods", "-n", "top")).check()
    header, *rows = table_rows(result.stdout)
    assert header == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    by_name = {row[0]: row[1:] for row in rows}
    assert sorted(by_name) == ["batch-1", "web-1"]
    assert by_name["web-1"][1] == "50Mi"
    assert by_name["batch-1"][1] == "200Mi"
    assert abs(_millicores(by_name["web-1"][0]) - 250) <= 1
    assert abs(_millicores(by_name["batch-1"][0]) - 1510) <= 1


async def test_kubectl_top_pods_all_namespaces_and_containers(aggregated: Path) -> None:
    result = (await kubectl(aggregated, "top", "pods", "-A", "--containers")).check()
    header, *rows = table_rows(result.stdout)
    assert header == ["NAMESPACE", "POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    seen = {(row[0], row[1], row[2]): row[4] for row in rows}
    assert seen == {
        ("top", "batch-1", "sidecar"): "0Mi",  # kubectl shows the absent memory as 0
        ("top", "batch-1", "worker"): "200Mi",
        ("top", "web-1", "app"): "50Mi",
        ("top-b", "api-1", "api"): "30Mi",
    }


async def test_kubectl_top_pod_with_selector(aggregated: Path) -> None:
    result = (await kubectl(aggregated, "top", "pods", "-n", "top", "-l", "app=batch")).check()
    assert [row[0] for row in table_rows(result.stdout)[1:]] == ["batch-1"]


async def test_kubectl_top_nodes(aggregated: Path) -> None:
    result = (await kubectl(aggregated, "top", "nodes")).check()
    header, *rows = table_rows(result.stdout)
    assert header == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    by_name = {row[0]: row[1:] for row in rows}
    assert abs(_millicores(by_name["top-node-1"][0]) - 750) <= 1
    assert by_name["top-node-1"][1:] == ["18%", "2048Mi", "25%"]
    # A node without metrics is listed as unknown by kubectl, not as zero.
    assert by_name["top-node-2"] == ["<unknown>"] * 4


async def test_kubectl_get_podmetrics_table(aggregated: Path) -> None:
    result = (await kubectl(aggregated, "get", "podmetrics.metrics.k8s.io", "-n", "top")).check()
    header, *rows = table_rows(result.stdout)
    assert header == ["NAME", "CPU", "MEMORY", "WINDOW"]
    assert [row[0] for row in rows] == ["batch-1", "web-1"]
    assert rows[1][2:] == ["51204Ki", "5m0s"]


async def test_raw_table_shape(adapter: str, tmp_path: Path) -> None:
    """metrics-server's table.go: Name, one quantity column per resource, Window."""
    import aiohttp

    headers = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{adapter}{BASE}/nodes", headers=headers, ssl=False) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json;as=Table")
        document = await response.json(content_type=None)
    assert document["kind"] == "Table" and document["apiVersion"] == "meta.k8s.io/v1"
    assert document["columnDefinitions"] == [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name of the resource",
            "priority": 0,
        },
        {"name": "cpu", "type": "string", "format": "quantity", "description": "", "priority": 0},
        {
            "name": "memory",
            "type": "string",
            "format": "quantity",
            "description": "",
            "priority": 0,
        },
        {
            "name": "Window",
            "type": "string",
            "format": "duration",
            "description": "",
            "priority": 0,
        },
    ]
    [row] = document["rows"]
    assert row["cells"][0] == "top-node-1" and row["cells"][2:] == ["2Gi", "5m0s"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "top-node-1"


# --- a 5,000-pod cluster ------------------------------------------------------------------

NAMESPACES = 20
PODS_PER_NAMESPACE = 250


def _crowd() -> Iterator[tuple[str, str]]:
    for n in range(NAMESPACES):
        for p in range(PODS_PER_NAMESPACE):
            yield f"crowd-{n:02d}", f"worker-{p:04d}-7d9f8b6c5d-x{p:04d}"


@pytest.mark.slow
async def test_5000_pods_one_query_per_namespace_per_resource(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    prometheus_factory: Any,
    tmp_path: Path,
) -> None:
    data = SeriesData(step=30.0, history=420.0, horizon=1800.0)
    for namespace, name in _crowd():
        labels = {"namespace": namespace, "pod": name, "container": "worker"}
        data.counter("container_cpu_usage_seconds_total", labels, rate_per_second=0.05)
        data.gauge("container_memory_working_set_bytes", labels, float(64 * MIB))
    crowd_prometheus: PrometheusProcess = prometheus_factory(data)
    for n in range(NAMESPACES):
        cluster_state.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"crowd-{n:02d}"}}
        )
    for namespace, name in _crowd():
        cluster_state.create(pod(name, namespace, {"app": "worker"}))
    config = load_config(DEFAULT_CONFIG)
    async with (
        FaultProxy(crowd_prometheus.url) as proxy,
        running_adapter(apiserver, proxy.url, tmp_path, config) as url,
    ):
        proxy.requests.clear()
        cluster_state.audit_log = []
        result = await get_raw(url, f"{BASE}/pods", tmp_path / "kubectl")
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    assert len(items) == NAMESPACES * PODS_PER_NAMESPACE
    assert {item["containers"][0]["usage"]["memory"] for item in items} == {"64Mi"}
    sent = queries(proxy)
    assert len(sent) == 2 * NAMESPACES
    for n in range(NAMESPACES):
        mine = [q for q in sent if f'namespace="crowd-{n:02d}"' in q]
        assert len(mine) == 2
    pod_lists = [r for r in cluster_state.audit_log if r.path == "/api/v1/pods"]
    assert len(pod_lists) == 1
