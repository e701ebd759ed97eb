"""The adapter against a Prometheus that serves TLS, requires a client certificate and
HTTP basic auth (`--web.config.file`), with credentials from `--prometheus-auth-config`
as a deployment next to kube-rbac-proxy or OpenShift's monitoring stack carries them
(upstream: `cmd/adapter/adapter.go`, `makeKubeconfigHTTPClient`).

Right credentials: every metrics API answers with the backend's numbers. Wrong ones: the
adapter stays unready saying Prometheus refused it, and requests fail with a Status that
says so - never an empty list or a zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.adapter import running_adapter
from support.backends import CONFIG, NAMESPACE, backend_dataset, check_all_apis, populate
from support.kubectl import get_raw
from support.pki import Pki, b64, make_pki
from support.prometheus import TEST_BASIC_AUTH, PrometheusProcess

from adapter.prometheus.settings import PrometheusSettings
from adapter.sandbox.apiserver import RunningApiServer
from adapter.sandbox.store import ClusterState


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secured(pki: Pki, prometheus_factory: Callable[..., PrometheusProcess]) -> PrometheusProcess:
    return prometheus_factory(
        backend_dataset(), tls=pki.server_tls(require_client_cert=True), basic_auth=TEST_BASIC_AUTH
    )


def auth_kubeconfig(path: Path, pki: Pki, password: str) -> Path:
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "prometheus",
        "contexts": [{"name": "prometheus", "context": {"cluster": "p", "user": "adapter"}}],
        "clusters": [
            {
                "name": "p",
                "cluster": {"server": "https://unused", "certificate-authority-data": b64(pki.ca)},
            }
        ],
        "users": [
            {
                "name": "adapter",
                "user": {
                    "client-certificate-data": b64(pki.client_cert),
                    "client-key-data": b64(pki.client_key),
                    "username": TEST_BASIC_AUTH.username,
                    "password": password,
                },
            }
        ],
    }
    path.write_text(yaml.safe_dump(document))
    return path


async def test_right_credentials_serve_every_api(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    secured: PrometheusProcess,
    pki: Pki,
    tmp_path: Path,
) -> None:
    populate(cluster_state)
    config = auth_kubeconfig(tmp_path / "auth.yaml", pki, TEST_BASIC_AUTH.password)
    settings = PrometheusSettings(secured.url, auth_config=str(config), timeout=5.0)
    async with running_adapter(
        apiserver, secured.url, tmp_path, CONFIG, prometheus_settings=settings
    ) as url:
        await check_all_apis(url, tmp_path)


async def test_wrong_password_is_an_error_not_a_zero(
    apiserver: RunningApiServer,
    cluster_state: ClusterState,
    secured: PrometheusProcess,
    pki: Pki,
    tmp_path: Path,
) -> None:
    populate(cluster_state)
    config = auth_kubeconfig(tmp_path / "auth.yaml", pki, "wrong-password")
    settings = PrometheusSettings(secured.url, auth_config=str(config), timeout=5.0)
    async with running_adapter(
        apiserver,
        secured.url,
        tmp_path,
        CONFIG,
        prometheus_settings=settings,
        require_discovery=False,
    ) as url:
        ready = await get_raw(url, "/readyz", tmp_path / "kubectl")
        assert ready.returncode != 0
        assert "[-]metric-discovery failed: reason withheld" in ready.stderr
        # The reason is behind the check's own path, which needs authorization, as the
        # apiserver's healthz withholds it from the open /readyz.
        why = await get_raw(url, "/readyz/metric-discovery", tmp_path / "kubectl")
        assert why.returncode != 0
        assert "HTTP 401 Unauthorized" in why.stderr + why.stdout
        result = await get_raw(
            url, f"/apis/metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/pods", tmp_path / "k2"
        )
        assert result.returncode != 0, result.stdout
        assert "Prometheus refused the request: HTTP 401 Unauthorized" in result.stderr
        assert "wrong-password" not in result.stderr
        custom = await get_raw(
            url,
            f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{NAMESPACE}/pods/*/bk_requests_per_second",
            tmp_path / "k3",
        )
        assert custom.returncode != 0, json.loads(custom.stdout)
