"""Thousands of objects in one request: one query, sent by POST, and no list per request.

Upstream builds `pod=~"a|b|..."` into a GET URL and fails with 414 (or a proxy's limit)
once a namespace holds a few thousand pods (prometheus-adapter issue #668, crane #907).
Upstream also lists the objects on every `*` request (`pkg/custom-provider/provider.go`
`metricsFor`); here the first request starts a metadata informer (one list, then a
watch) and later requests ask the API server nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.adapter import running_adapter
from support.apiserver import pod
from support.faultproxy import FaultProxy
from support.kubectl import get_raw
from support.prometheus import SeriesData, default_dataset

from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import AuditRecord, ClusterState

PODS = 2500


@default_dataset
def _many_series(data: SeriesData) -> None:
    for n in range(PODS):
        data.gauge("e2e_inflight_requests", {"namespace": "crowd", "pod": f"worker-{n:04d}"}, 3.0)


async def test_2500_pods_one_list_call_one_post_query(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    cluster_state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "crowd"}})
    for n in range(PODS):
        cluster_state.create(pod(f"worker-{n:04d}", "crowd", {"app": "worker"}))
    config = """
rules:
- seriesQuery: 'e2e_inflight_requests{namespace!="",pod!=""}'
  resources: {template: <<.Resource>>}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
"""
    path = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/crowd/pods/*/e2e_inflight_requests?labelSelector=app%3Dworker"
    async with running_adapter(apiserver, fault_proxy.url, tmp_path, config) as url:
        fault_proxy.requests.clear()
        cluster_state.audit_log = []
        result = await get_raw(url, path, tmp_path / "kubectl")
        first_lists = _pod_lists(cluster_state)
        cluster_state.audit_log = []
        again = [await get_raw(url, path, tmp_path / "kubectl") for _ in range(2)]
        later_lists = _pod_lists(cluster_state)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    assert len(items) == PODS
    assert {item["value"] for item in items} == {"3"}
    queries = [r for r in fault_proxy.requests if r.path.endswith("/api/v1/query")]
    assert [q.method for q in queries] == ["POST", "POST", "POST"]
    assert len(queries[0].param("query") or "") > 8192
    # The first request lists once (metadata only, every namespace, for the watch that
    # follows); the later ones list nothing and answer the same.
    assert [(r.path, r.query) for r in first_lists] == [("/api/v1/pods", "")]
    assert "as=PartialObjectMetadataList" in first_lists[0].accept
    assert later_lists == []
    for answer in again:
        assert answer.returncode == 0, answer.stderr
        assert _values(json.loads(answer.stdout)["items"]) == _values(items)


def _values(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["describedObject"]["name"], item["value"]) for item in items]


def _pod_lists(state: ClusterState) -> list[AuditRecord]:
    return [
        r
        for r in state.audit_log or ()
        if r.method == "GET" and r.path.endswith("/pods") and "watch=" not in r.query
    ]
