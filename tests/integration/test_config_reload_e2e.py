"""Config reload without restart (`adapter.providers.reloading`), end to end: the adapter
serving over HTTPS against the real Prometheus and the API server stand-in, its config
file in the layout a Kubernetes ConfigMap volume has, changed the way the kubelet changes
it, and `python -m adapter serve` reloading on SIGHUP.

prometheus-adapter reads its config once (issues #104, #678); these tests pin what this
adapter promises instead: a good new file changes the served metrics, a bad one is logged
naming file, rule and field, counted on /metrics, and the last good config keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from support.adapter import running_components
from support.apiserver import pod
from support.kubectl import PLACEHOLDER_TOKEN, get_raw
from support.prometheus import PrometheusProcess, free_port

from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState
from adapter.serving import Components

REPO = Path(__file__).parents[2]

# Series from the shared data set's documented base (support.prometheus._base_series).
REQUESTS_RULES = """
rules:
- seriesQuery: 'http_requests_total{namespace!="",pod!=""}'
  resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
  name: {matches: "^(.*)_total$", as: "${1}_per_second"}
  metricsQuery: sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
"""
QUEUE_RULES = """
rules:
- seriesQuery: 'queue_depth{namespace!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
"""
BROKEN_RULES = """
rules:
- seriesQuery: 'queue_depth{namespace!=""}'
  resources: {overrides: {namespace: {resource: namespace}}}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy
"""


class ConfigMapVolume:
    """A directory laid out as the kubelet lays out a ConfigMap volume: the file is a
    symlink through `..data`, which points at a timestamped directory; an update writes a
    new directory and renames a fresh `..data` symlink over the old one (atomic_writer.go)."""

    def __init__(self, root: Path, key: str = "config.yaml") -> None:
        self.root = root
        self.key = key
        self.generation = 0
        root.mkdir(parents=True)

    @property
    def path(self) -> Path:
        return self.root / self.key

    def write(self, content: str) -> None:
        self.generation += 1
        version = self.root / f"..2026_01_01_00_00_{self.generation:02d}.000000001"
        version.mkdir()
        (version / self.key).write_text(content)
        old = os.readlink(self.root / "..data") if (self.root / "..data").is_symlink() else None
        os.symlink(version.name, self.root / "..data_tmp")
        os.replace(self.root / "..data_tmp", self.root / "..data")
        if not self.path.is_symlink():
            os.symlink(f"..data/{self.key}", self.path)
        if old is not None:
            (self.root / old / self.key).unlink()
            (self.root / old).rmdir()


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a condition the adapter reaches on its own; a safety net, not a timing."""
    for _ in range(600):
        if condition():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def shop(cluster_state: ClusterState) -> ClusterState:
    cluster_state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    for n in (1, 2, 3):
        cluster_state.create(pod(f"web-{n}", "shop", {"app": "web"}))
    return cluster_state


@pytest.fixture
async def adapter(
    apiserver: RunningApiServer, shop: ClusterState, prometheus: PrometheusProcess, tmp_path: Path
) -> AsyncIterator[tuple[str, Components, ConfigMapVolume]]:
    volume = ConfigMapVolume(tmp_path / "etc-adapter")
    volume.write(REQUESTS_RULES)
    async with running_components(
        apiserver, prometheus.url, tmp_path, REQUESTS_RULES, config_file=str(volume.path)
    ) as (url, components):
        components.reloader.poll_seconds = 0.05
        watcher = asyncio.create_task(components.reloader.run(), name="config-reload")
        try:
            yield url, components, volume
        finally:
            watcher.cancel()
            with pytest.raises(asyncio.CancelledError):
                await watcher


async def served(url: str, tmp_path: Path) -> set[str]:
    result = await get_raw(url, "/apis/custom.metrics.k8s.io/v1beta1", tmp_path / "kubectl")
    assert result.returncode == 0, result.stderr
    return {r["name"] for r in json.loads(result.stdout)["resources"]}


async def self_metrics(url: str, tmp_path: Path) -> str:
    result = await get_raw(url, "/metrics", tmp_path / "kubectl")
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_configmap_update_changes_the_served_metrics(
    adapter: tuple[str, Components, ConfigMapVolume], tmp_path: Path
) -> None:
    url, components, volume = adapter
    assert "pods/http_requests_per_second" in await served(url, tmp_path)
    volume.write(QUEUE_RULES)
    await until(lambda: components.reloader.stats.successes == 1, "the reload")
    assert await served(url, tmp_path) == {"namespaces/queue_depth"}
    result = await get_raw(
        url,
        "/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/metrics/queue_depth",
        tmp_path / "kubectl",
    )
    assert result.returncode == 0, result.stderr
    [item] = json.loads(result.stdout)["items"]
    assert item["value"] == "49"  # orders 42 + billing 7
    exposition = await self_metrics(url, tmp_path)
    assert 'metrics_adapter_config_reloads_total{result="success"} 1.0' in exposition
    assert 'metrics_adapter_config_reloads_total{result="failure"} 0.0' in exposition
    assert "metrics_adapter_config_last_reload_success_timestamp_seconds" in exposition


async def test_bad_config_is_rejected_and_the_last_good_one_keeps_serving(
    adapter: tuple[str, Components, ConfigMapVolume],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, components, volume = adapter
    before = await served(url, tmp_path)
    caplog.set_level(logging.ERROR, logger="adapter.providers.reloading")
    volume.write(BROKEN_RULES)
    await until(lambda: components.reloader.stats.failures == 1, "the rejected reload")
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith(
        f"config reload failed, keeping the last good config: {volume.path}: rules[0].metricsQuery: "
    )
    assert await served(url, tmp_path) == before
    exposition = await self_metrics(url, tmp_path)
    assert 'metrics_adapter_config_reloads_total{result="failure"} 1.0' in exposition
    assert 'metrics_adapter_config_reloads_total{result="success"} 0.0' in exposition
    # Logged once, not every poll; a fixed file is then taken.
    await asyncio.sleep(0.3)
    assert components.reloader.stats.failures == 1
    volume.write(QUEUE_RULES)
    await until(lambda: components.reloader.stats.successes == 1, "the fixed reload")
    assert await served(url, tmp_path) == {"namespaces/queue_depth"}


async def test_unknown_resource_is_rejected_with_the_cluster_check(
    adapter: tuple[str, Components, ConfigMapVolume], tmp_path: Path
) -> None:
    url, components, volume = adapter
    before = await served(url, tmp_path)
    volume.write(QUEUE_RULES.replace("{resource: namespace}", "{resource: widgets}"))
    await until(lambda: components.reloader.stats.failures == 1, "the rejected reload")
    assert "rules[0].resources.overrides" in components.reloader.stats.last_error
    assert "widgets" in components.reloader.stats.last_error
    assert await served(url, tmp_path) == before


async def test_edit_in_place_is_detected(
    adapter: tuple[str, Components, ConfigMapVolume], tmp_path: Path
) -> None:
    url, components, volume = adapter
    target = volume.path.resolve()  # not through the symlinks: an editor's write
    target.write_text(QUEUE_RULES)
    await until(lambda: components.reloader.stats.successes == 1, "the reload")
    assert await served(url, tmp_path) == {"namespaces/queue_depth"}


async def test_sighup_reloads_a_running_serve(
    tls_apiserver: RunningApiServer,
    shop: ClusterState,
    prometheus: PrometheusProcess,
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(REQUESTS_RULES)
    # Delegated authentication as in a cluster: the TLS stand-in publishes the front
    # proxy's CA, and kubectl's token is a user its TokenReview knows.
    shop.authenticator.add_token(PLACEHOLDER_TOKEN, "kubectl-user")
    kubeconfig = tls_apiserver.write_kubeconfig(tmp_path / "adapter" / "kubeconfig")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter", "serve",
        "--prometheus-url", prometheus.url, "--config", str(config),
        "--kubeconfig", str(kubeconfig), "--secure-port", str(port),
        "--bind-address", "127.0.0.1", "--cert-dir", str(tmp_path / "certs"),
        "--config-reload-interval", "0",  # polling off: only SIGHUP can reload
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    try:
        for _ in range(200):
            ready = await get_raw(url, "/readyz", tmp_path / "kubectl")
            if ready.returncode == 0:
                break
            assert process.returncode is None
            await asyncio.sleep(0.1)
        assert "pods/http_requests_per_second" in await served(url, tmp_path)
        config.write_text(QUEUE_RULES)
        process.send_signal(signal.SIGHUP)
        for _ in range(200):
            if await served(url, tmp_path) == {"namespaces/queue_depth"}:
                break
            await asyncio.sleep(0.1)
        assert await served(url, tmp_path) == {"namespaces/queue_depth"}
        assert process.returncode is None  # SIGHUP did not stop it
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert "config reloaded from" in stderr.decode()
