"""`/readyz` follows Prometheus: not ready while every call has failed for a while,
ready again at the first answer; `/livez` stays alive throughout.

The whole path is real: the real Prometheus, the fault proxy in front of it cutting
every connection, the adapter as `serve` builds it (`build_components`) relisting every
second, so the threshold (three relist intervals, `DiscoverySettings.unready_after`) is
3 s. The list is worded as k8s.io/apiserver's healthz handler words it
(pkg/server/healthz/healthz.go: `[-]<check> failed: reason withheld`); the reason is in
the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from support.faultproxy import Cut, FaultProxy, PassThrough
from support.prometheus import SeriesData, default_dataset

from adapter.cluster import connection
from adapter.cluster import discovery as cluster_discovery
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.settings import PrometheusSettings
from adapter.rules.config import parse_config
from adapter.sandbox.apiserver import RunningApiServer
from adapter.server.running import running as running_server
from adapter.serving import build_components
from adapter.settings import AuthenticationSettings, ServingSettings, Settings
from adapter.settings.serving import DiscoverySettings

pytestmark = pytest.mark.slow

METRIC = "rdy_requests"
CONFIG = f"""
rules:
- seriesQuery: '{METRIC}{{namespace!="",pod!=""}}'
  resources: {{overrides: {{namespace: {{resource: namespace}}, pod: {{resource: pod}}}}}}
  metricsQuery: sum(<<.Series>>{{<<.LabelMatchers>>}}) by (<<.GroupBy>>)
"""


@default_dataset
def _series(data: SeriesData) -> None:
    data.gauge(METRIC, {"namespace": "rdy", "pod": "web-0"}, 1.0)


@contextlib.asynccontextmanager
async def served(
    apiserver: RunningApiServer, prometheus_url: str, tmp_path: Path
) -> AsyncIterator[str]:
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "adapter" / "kubeconfig")
    settings = Settings(
        config_file="readiness.yaml",
        prometheus=PrometheusSettings(url=prometheus_url, timeout=1.0),
        serving=ServingSettings(
            secure_port=0, bind_address="127.0.0.1", cert_dir=str(tmp_path / "certs")
        ),
        discovery=DiscoverySettings(relist_interval=1.0),
        authentication=AuthenticationSettings(skip_lookup=True),
        query_timeout=1.0,
    )
    assert settings.discovery.unready_after == 3.0
    async with (
        PrometheusClient(settings.prometheus) as prometheus,
        connection.connect(str(kubeconfig), qps=0) as cluster,
    ):
        mapper = await cluster_discovery.fetch_rest_mapper(cluster)
        components = build_components(
            settings, parse_config(CONFIG, "readiness.yaml"), mapper, prometheus, cluster
        )
        tasks = [asyncio.ensure_future(run()) for run in components.background.values()]
        try:
            async with running_server(components.app, settings.serving) as url:
                yield url
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 60
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_readyz_fails_while_prometheus_fails_and_recovers(
    apiserver: RunningApiServer,
    fault_proxy: FaultProxy,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="adapter.server.health")
    async with (
        served(apiserver, fault_proxy.url, tmp_path) as url,
        aiohttp.ClientSession() as session,
    ):

        async def get(path: str) -> tuple[int, str]:
            async with session.get(url + path, ssl=False) as response:
                return response.status, await response.text()

        async def ready() -> bool:
            return await get("/readyz") == (200, "ok")

        await eventually(ready, "the first discovery")

        fault_proxy.mode = Cut()
        cut_at = time.monotonic()
        failed_once = False

        async def unready() -> bool:
            nonlocal failed_once
            code, text = await get("/readyz?verbose")
            if code == 200:
                assert text.endswith("readyz check passed\n")
                return False
            failed_once = True
            assert code == 500, text
            assert "[-]prometheus failed: reason withheld\n" in text
            assert "[+]metric-discovery ok\n" in text  # discovery ran once: still true
            assert text.endswith("readyz check failed\n")
            return True

        await eventually(unready, "readyz to fail on a Prometheus that never answers")
        # Only after three relist intervals of failures, not at the first failed call.
        assert time.monotonic() - cut_at >= 3.0
        assert failed_once
        # Alive all along: a failing Prometheus must not get the adapter restarted.
        assert await get("/livez") == (200, "ok")
        assert await get("/healthz") == (200, "ok")
        logged = [r.getMessage() for r in caplog.records if "prometheus failed" in r.getMessage()]
        assert logged and "every call to Prometheus failed for" in logged[-1]
        assert "connection" in logged[-1] or "cannot reach" in logged[-1]

        fault_proxy.mode = PassThrough()
        await eventually(ready, "readyz to pass again once Prometheus answers")
