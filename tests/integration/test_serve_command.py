"""`python -m adapter serve` as a process: start-up checks, readiness, serving, shutdown."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from support.apiserver import pod
from support.kubectl import get_raw
from support.prometheus import PrometheusProcess, SeriesData, default_dataset, free_port

from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState

REPO = Path(__file__).parents[2]

CONFIG = """
rules:
- seriesQuery: 'serve_jobs_total{namespace!="",pod!=""}'
  resources: {template: <<.Resource>>}
  name: {matches: "^(.*)_total$", as: "${1}_per_second"}
  metricsQuery: sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)
"""


@default_dataset
def _serve_series(data: SeriesData) -> None:
    data.counter("serve_jobs_total", {"namespace": "work", "pod": "worker-1"}, rate_per_second=4.0)


async def _adapter(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter", "serve", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip


async def test_invalid_config_stops_start_up_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("rules:\n- seriesQuery: up\n  metricsQuery: '<<.Series'\n")
    process = await _adapter("--prometheus-url", "http://127.0.0.1:9", "--config", str(config))
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert f"{config}: rules[0].metricsQuery: invalid template:" in stderr.decode()


async def test_serves_metrics_and_stops_on_sigterm(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    prometheus: PrometheusProcess,
    tmp_path: Path,
) -> None:
    cluster_state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "work"}})
    cluster_state.create(pod("worker-1", "work", {"app": "worker"}))
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "adapter" / "kubeconfig")
    port = free_port()
    process = await _adapter(
        "--prometheus-url", prometheus.url, "--config", str(config),
        "--kubeconfig", str(kubeconfig), "--secure-port", str(port),
        "--bind-address", "127.0.0.1", "--cert-dir", str(tmp_path / "certs"),
        "--metrics-relist-interval", "1m",
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    try:
        for _ in range(100):
            ready = await get_raw(url, "/readyz", tmp_path / "kubectl")
            if ready.returncode == 0:
                break
            assert process.returncode is None, (await process.communicate())[1].decode()
            await asyncio.sleep(0.1)
        assert ready.returncode == 0 and ready.stdout.strip() == "ok"
        path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/work/pods/*/serve_jobs_per_second?labelSelector=app%3Dworker"
        result = await get_raw(url, path, tmp_path / "kubectl")
        assert result.returncode == 0, result.stderr
        [item] = json.loads(result.stdout)["items"]
        assert item["describedObject"]["name"] == "worker-1"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()


async def test_unreachable_cluster_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: x}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    process = await _adapter(
        "--prometheus-url", "http://127.0.0.1:9", "--config", str(config),
        "--kubeconfig", str(kubeconfig),
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    text = stderr.decode()
    assert "error: GET http://127.0.0.1:9/api" in text
    assert "Traceback" not in text
