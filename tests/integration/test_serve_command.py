"""`python -m adapter serve` as a process: start-up checks, readiness, serving, shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.apiserver import pod
from support.kubectl import PLACEHOLDER_TOKEN, get_raw
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


async def _adapter(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapter", "serve", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


async def test_invalid_config_stops_start_up_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("rules:\n- seriesQuery: up\n  metricsQuery: '<<.Series'\n")
    process = await _adapter("--prometheus-url", "http://127.0.0.1:9", "--config", str(config))
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert f"{config}: rules[0].metricsQuery: invalid template:" in stderr.decode()


@dataclass
class Setup:
    """A cluster (the TLS stand-in, publishing the front proxy's CA as kube-apiserver
    does) with one pod, a Prometheus with its series, and a rule config for them."""

    apiserver: RunningApiServer
    prometheus: PrometheusProcess
    config: Path
    kubeconfig: Path
    tmp: Path


@pytest.fixture
def setup(
    tls_apiserver: RunningApiServer,
    cluster_state: ClusterState,
    prometheus: PrometheusProcess,
    tmp_path: Path,
) -> Setup:
    cluster_state.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "work"}})
    cluster_state.create(pod("worker-1", "work", {"app": "worker"}))
    # kubectl's token in these tests; the stand-in allows every authenticated user.
    cluster_state.authenticator.add_token(PLACEHOLDER_TOKEN, "kubectl-user")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    kubeconfig = tls_apiserver.write_kubeconfig(tmp_path / "adapter" / "kubeconfig")
    return Setup(tls_apiserver, prometheus, config, kubeconfig, tmp_path)


async def _serve_one_metric(
    setup: Setup, args: list[str], port: int, env: dict[str, str] | None = None
) -> None:
    """Start `serve` with `args`, wait until ready, read one metric, stop with SIGTERM."""
    process = await _adapter(*args, env=env)
    url = f"https://127.0.0.1:{port}"
    directory = setup.tmp / "kubectl"
    try:
        for _ in range(150):
            ready = await get_raw(url, "/readyz", directory)
            if ready.returncode == 0:
                break
            assert process.returncode is None, (await process.communicate())[1].decode()
            await asyncio.sleep(0.1)
        assert ready.returncode == 0 and ready.stdout.strip() == "ok"
        path = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/work/pods/*/serve_jobs_per_second?labelSelector=app%3Dworker"
        result = await get_raw(url, path, directory)
        assert result.returncode == 0, result.stderr
        [item] = json.loads(result.stdout)["items"]
        assert item["describedObject"]["name"] == "worker-1"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()


async def test_serves_metrics_and_stops_on_sigterm(setup: Setup) -> None:
    port = free_port()
    await _serve_one_metric(
        setup,
        [
            "--prometheus-url", setup.prometheus.url, "--config", str(setup.config),
            "--kubeconfig", str(setup.kubeconfig), "--secure-port", str(port),
            "--bind-address", "127.0.0.1", "--cert-dir", str(setup.tmp / "certs"),
            "--metrics-relist-interval", "1m",
        ],
        port,
    )  # fmt: skip


# The container arguments of prometheus-adapter's two common deployments, flag for flag;
# only the values Helm or jsonnet would template (URL, port, paths) point at this test.
# The cluster comes from $KUBECONFIG, as in-cluster configuration would in a pod.

HELM_CHART_ARGS = [
    # prometheus-community/helm-charts, charts/prometheus-adapter/templates/deployment.yaml
    # (values.yaml: listenPort 6443, metricsRelistInterval 1m, logLevel 4; tls off).
    "/adapter",
    "--secure-port={port}",
    "--cert-dir={tmp}/cert",
    "--logtostderr=true",
    "--prometheus-url={prometheus}",
    "--metrics-relist-interval=1m",
    "--v=4",
    "--config={config}",
]

KUBE_PROMETHEUS_ARGS = [
    # prometheus-operator/kube-prometheus, manifests/prometheusAdapter-deployment.yaml
    "--cert-dir={tmp}/serving-cert",
    "--config={config}",
    "--metrics-relist-interval=1m",
    "--prometheus-url={prometheus}/",
    "--secure-port={port}",
    "--tls-cipher-suites=TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,"
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,"
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,"
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,TLS_RSA_WITH_AES_128_GCM_SHA256,"
    "TLS_RSA_WITH_AES_256_GCM_SHA384,TLS_RSA_WITH_AES_128_CBC_SHA,TLS_RSA_WITH_AES_256_CBC_SHA",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "template", [HELM_CHART_ARGS, KUBE_PROMETHEUS_ARGS], ids=["helm", "kube-prometheus"]
)
async def test_upstream_deployment_arguments_start_the_adapter(
    setup: Setup, template: list[str]
) -> None:
    port = free_port()
    values = {
        "port": str(port),
        "tmp": str(setup.tmp),
        "prometheus": setup.prometheus.url.rstrip("/"),
        "config": str(setup.config),
    }
    args = [arg.format(**values) for arg in template]
    # The Deployments bind every interface; this test reaches it on loopback only.
    await _serve_one_metric(setup, args, port, env={"KUBECONFIG": str(setup.kubeconfig)})


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
