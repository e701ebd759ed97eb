"""The adapter against VictoriaMetrics (Debian's `victoria-metrics`), a second
Prometheus-compatible backend: the whole custom, external and resource path, and the
places where its answers differ from Prometheus'.

Differences found (VictoriaMetrics 1.79, checked here against the real server):

* `/api/v1/series` lists series from a per-day index: `start` narrows by day, not by
  second, so a series that stopped reporting hours ago is still listed and
  `--metrics-max-age` does not drop it. The adapter then runs the metric's query, which
  finds no sample: the answer is a not-found naming "no samples", never a zero.
* Query errors carry `errorType: "422"` (HTTP 422) rather than Prometheus' `bad_data`:
  the client classifies by status, so it is still a rejected query (a 500 Status saying
  so), not a server fault or an outage.
* Sample timestamps come back as integers when whole (`[1700000000, "1"]`); decoded alike.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.adapter import running_adapter
from support.backends import CONFIG, NAMESPACE, backend_dataset, check_all_apis, populate
from support.kubectl import get_raw
from support.victoriametrics import VICTORIA_METRICS_BIN, VictoriaMetricsProcess

from adapter.prometheus import PrometheusClient, PrometheusQueryError, PrometheusSettings
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState

STALE_RULE = """\
- seriesQuery: 'bk_stale_jobs{namespace!="",pod!=""}'
  resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
"""
VM_CONFIG = CONFIG.replace("rules:\n", "rules:\n" + STALE_RULE, 1)


@pytest.fixture(scope="module")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsProcess]:
    if shutil.which(VICTORIA_METRICS_BIN) is None:
        pytest.fail("victoria-metrics is not installed: run `make test` (it apt-installs it)")
    data = backend_dataset()
    # Reported for a while, then gone 40 minutes ago: Prometheus' series listing with a
    # 10 m max age would not return it; VictoriaMetrics' does.
    data.add(
        "bk_stale_jobs",
        {"namespace": NAMESPACE, "pod": "web-1"},
        [(offset, 5.0) for offset in range(-3600, -2400, 15)],
    )
    with VictoriaMetricsProcess(data, tmp_path_factory.mktemp("victoria")) as process:
        yield process


async def test_every_api_serves_victoriametrics_numbers(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    victoria: VictoriaMetricsProcess,
    tmp_path: Path,
) -> None:
    populate(cluster_state)
    async with running_adapter(apiserver, victoria.url, tmp_path, VM_CONFIG) as url:
        await check_all_apis(url, tmp_path)


async def test_post_queries_work_too(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    victoria: VictoriaMetricsProcess,
    tmp_path: Path,
) -> None:
    populate(cluster_state)
    settings = PrometheusSettings(victoria.url, verb="POST", timeout=5.0)
    async with running_adapter(
        apiserver, victoria.url, tmp_path, VM_CONFIG, prometheus_settings=settings
    ) as url:
        await check_all_apis(url, tmp_path)


async def test_series_listing_ignores_max_age_within_the_day(
    victoria: VictoriaMetricsProcess,
) -> None:
    async with PrometheusClient(PrometheusSettings(victoria.url)) as client:
        listed = [
            s
            async for batch in client.series("bk_stale_jobs", start=victoria.now - 600)
            for s in batch
        ]
    assert listed == [{"__name__": "bk_stale_jobs", "namespace": NAMESPACE, "pod": "web-1"}]


async def test_stale_series_is_not_found_not_zero(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    victoria: VictoriaMetricsProcess,
    tmp_path: Path,
) -> None:
    populate(cluster_state)
    async with running_adapter(apiserver, victoria.url, tmp_path, VM_CONFIG) as url:
        listed = await get_raw(url, "/apis/custom.metrics.k8s.io/v1beta2", tmp_path / "k1")
        assert "pods/bk_stale_jobs" in listed.stdout  # discovered despite the max age
        base = f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{NAMESPACE}/pods"
        result = await get_raw(url, f"{base}/web-1/bk_stale_jobs", tmp_path / "k2")
        assert result.returncode != 0, result.stdout
        assert "(NotFound)" in result.stderr
        assert "could not find the metric bk_stale_jobs for pods web-1" in result.stderr


async def test_rejected_query_is_a_query_error(victoria: VictoriaMetricsProcess) -> None:
    async with PrometheusClient(PrometheusSettings(victoria.url)) as client:
        with pytest.raises(PrometheusQueryError) as caught:
            await client.query("sum(rate(bk_requests_total[2m]) by (pod)")
    assert caught.value.status == 422
    assert "unexpected token" in str(caught.value)
