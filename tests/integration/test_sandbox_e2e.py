"""The sandbox end to end: real Prometheus, real kubectl, real ab, real processes.

What `python -m adapter sandbox` and `make demo` promise a user: Prometheus scrapes the
pods' cAdvisor-style series (namespace/pod/container labels, as the kubelet's
/metrics/cadvisor has them) and the app's request counter; `kubectl top pods` and the
custom metrics API answer through the stand-in's aggregation layer; and the demo's story
- a scale-up under `ab` load against the Services, a scale-down after - happens and
leaves its plot and replayable decision records.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
from support.kubectl import kubectl

from adapter.sandbox.demo import MANIFESTS, DemoSettings, run_demo
from adapter.sandbox.onemachine import SandboxSettings, running_sandbox

pytestmark = pytest.mark.slow


T = TypeVar("T")


async def _until(check: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.5)


async def test_prometheus_scrapes_pods_and_kubectl_top_reads_them(tmp_path: Path) -> None:
    settings = SandboxSettings(
        workdir=tmp_path / "sandbox", scrape_interval=1.0, rate_window="10s", relist_interval="3s"
    )
    async with running_sandbox(settings) as sandbox, aiohttp.ClientSession() as session:
        config = sandbox.kubeconfig
        (await kubectl(config, "apply", "-f", str(MANIFESTS / "namespace.yaml"))).check()
        (await kubectl(config, "apply", "-f", str(MANIFESTS / "myblog.yaml"))).check()

        async def ready_pod() -> str | None:
            endpoints = sandbox.services.endpoints("test", "myblog")
            pods = sandbox.state.list("pods", "test", "app=myblog")
            return pods[0]["metadata"]["name"] if endpoints and pods else None

        pod = await _until(ready_pod)
        assert pod, "the myblog pod never became ready"
        address = sandbox.services.address("test", "myblog")
        for _ in range(5):  # a few requests through the Service, for the counter
            async with session.get(f"http://{address}/") as response:
                assert response.status == 200

        async def scraped() -> bool:
            cpu = await sandbox.prometheus.query(
                session,
                f'container_cpu_usage_seconds_total{{namespace="test",pod="{pod}",container="myblog"}}',
            )
            memory = await sandbox.prometheus.query(
                session, f'container_memory_working_set_bytes{{namespace="test",pod="{pod}"}}'
            )
            requests = await sandbox.prometheus.query(
                session, f'http_requests_total{{namespace="test",pod="{pod}",code="200"}}'
            )
            return bool(cpu and memory and requests)

        assert await _until(scraped), "Prometheus never had the pod's series"

        async def top() -> str:
            result = await kubectl(config, "top", "pods", "-n", "test")
            return result.stdout if result.returncode == 0 and pod in result.stdout else ""

        shown = await _until(top)
        assert pod in shown
        row = next(line for line in shown.splitlines() if line.startswith(pod))
        assert row.split()[2].endswith("Mi") and int(row.split()[2][:-2]) > 16

        async def top_nodes() -> str:
            # The node's CPU is a rate: it needs two scrapes of node-exporter's counter.
            result = await kubectl(config, "top", "nodes")
            return result.stdout if result.returncode == 0 else ""

        assert sandbox.kubelet.node_name in await _until(top_nodes)

        async def custom() -> object:
            result = await kubectl(
                config, "get", "--raw",
                "/apis/custom.metrics.k8s.io/v1beta1/namespaces/test/pods/*/http_requests_per_second",
            )  # fmt: skip
            if result.returncode != 0:
                return None
            items = json.loads(result.stdout)["items"]
            return items if any(item["describedObject"]["name"] == pod for item in items) else None

        assert await _until(custom), "custom.metrics.k8s.io never served the pod's request rate"


async def test_the_short_demo_scales_up_under_load_and_back_down(tmp_path: Path) -> None:
    output = tmp_path / "demo"
    screen = io.StringIO()
    result = await run_demo(DemoSettings.short(output), screen)
    text = screen.getvalue()
    assert "stand-in" in text and "NAME" in text and "REFERENCE" in text and "TARGETS" in text
    assert result.first_scale_up is not None, text
    # Up under load, to more than one replica each; back at the minimum after it.
    assert result.max_replicas["hpa-myblog"] > 1, text
    assert result.max_replicas["hpa-myblog-rps"] > 1, text
    assert result.final_replicas == {"hpa-myblog": 1, "hpa-myblog-rps": 1}, text
    assert result.plot is not None and result.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.records, "no decision record"
    # `hpa evaluate` replays a sync that scaled to what the live loop decided.
    assert result.replay is not None and result.replayed_record is not None
    record = json.loads(result.replayed_record.read_text())
    assert result.replay["desiredReplicas"] == record["decision"]["desiredReplicas"]
    assert record["decision"]["desiredReplicas"] != record["scale"]["spec"]["replicas"]
    samples = json.loads((output / "samples.json").read_text())
    assert any(sample["phase"] == "load" and sum(sample["rps"].values()) > 0 for sample in samples)
