"""A metric selector PromQL cannot express is the client's error: the same 400 Status in
custom and external metrics, answered before any query reaches Prometheus.

Kubernetes accepts label keys with a prefix and dots (`k8s.io/app`, `a.b/c`), which no
Prometheus label can have (`[a-zA-Z_][a-zA-Z0-9_]*`, the Prometheus data model), and the
`>`/`<` operators, which PromQL has no matcher for. prometheus-adapter sends the first
to Prometheus and answers its parse error as a 500; the second it refuses as "metric
not found" (custom, 404) or a 500 (external). Here both are a 400 BadRequest everywhere,
seen through the real kubectl, with the fault proxy proving nothing was queried.
`labelSelector` of custom metrics selects Kubernetes objects, so prefixed keys stay
valid there (tested too).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from support.adapter import raw, running_adapter
from support.apiserver import pod
from support.faultproxy import FaultProxy
from support.prometheus import SeriesData, default_dataset

from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState

CONFIG = """
rules:
- seriesQuery: 'ms_inflight{namespace!="",pod!=""}'
  resources: {template: <<.Resource>>}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
externalRules:
- seriesQuery: 'ms_backlog{namespace!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)
"""
CUSTOM = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ms/pods"
EXTERNAL = "/apis/external.metrics.k8s.io/v1beta1/namespaces/ms/ms_backlog"


@default_dataset
def _ms_series(data: SeriesData) -> None:
    data.gauge("ms_inflight", {"namespace": "ms", "pod": "web-1"}, 2.0)
    data.gauge("ms_backlog", {"namespace": "ms", "queue": "jobs"}, 5.0)


SELECTORS = [
    ("k8s.io/app=x", "label 'k8s.io/app' is not a Prometheus label name"),
    ("a.b/c", "label 'a.b/c' is not a Prometheus label name"),
    ("app.kubernetes.io/name in (web)", "is not a Prometheus label name"),
    ("size>3", "operator 'gt' on label 'size' is not supported by prometheus"),
    ("size<3", "operator 'lt' on label 'size' is not supported by prometheus"),
]


@pytest.mark.parametrize(("selector", "says"), SELECTORS)
async def test_same_400_on_custom_and_external_before_any_query(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    fault_proxy: FaultProxy,
    tmp_path: Path,
    selector: str,
    says: str,
) -> None:
    cluster_state.create(pod("web-1", "ms", {"app": "web"}))
    async with running_adapter(apiserver, fault_proxy.url, tmp_path, CONFIG) as url:
        fault_proxy.requests.clear()
        answers = []
        for path in (
            f"{CUSTOM}/web-1/ms_inflight?metricLabelSelector={quote(selector)}",
            f"{CUSTOM}/*/ms_inflight?metricLabelSelector={quote(selector)}",
            f"{EXTERNAL}?labelSelector={quote(selector)}",
        ):
            code, stderr = await raw(url, path, tmp_path)
            assert code != 0
            answers.append(stderr)
        assert fault_proxy.seen("/api/v1/query") == []
    for stderr in answers:
        assert "Error from server (BadRequest)" in stderr, stderr
        assert says in stderr
    # The same words in every API, naming the parameter the client used.
    assert answers[0] == answers[1]
    assert answers[0].replace("metricLabelSelector", "labelSelector") == answers[2]


async def test_prefixed_keys_still_select_objects_in_custom_metrics(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    cluster_state.create(pod("web-1", "ms", {"app.kubernetes.io/name": "web"}))
    async with running_adapter(apiserver, fault_proxy.url, tmp_path, CONFIG) as url:
        path = f"{CUSTOM}/*/ms_inflight?labelSelector={quote('app.kubernetes.io/name=web')}"
        code, document = await raw(url, path, tmp_path)
    assert code == 0, document
    assert [item["describedObject"]["name"] for item in document["items"]] == ["web-1"]
