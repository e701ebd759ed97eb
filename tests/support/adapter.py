"""The adapter itself, running in the test's event loop against the stand-in and Prometheus."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from adapter.cluster import connection as cluster_connection
from adapter.cluster import discovery as cluster_discovery
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.settings import PrometheusSettings
from adapter.providers.discovery import DiscoveryError
from adapter.rules.config import MetricsDiscoveryConfig, parse_config
from adapter.sandbox.apiserver import RunningApiServer
from adapter.server.running import running
from adapter.serving import Components, build_components
from adapter.settings import ApiGroups, AuthenticationSettings, ServingSettings, Settings
from support.kubectl import PLACEHOLDER_TOKEN, get_raw

TEST_CLIENT = "kubectl-under-test"
"""The user the stand-in's TokenReview makes of kubectl's token in these tests."""


@contextlib.asynccontextmanager
async def running_adapter(
    apiserver: RunningApiServer,
    prometheus_url: str,
    tmp_path: Path,
    config: str | MetricsDiscoveryConfig,
    **options: Any,
) -> AsyncIterator[str]:
    """`running_components`, yielding only the adapter's base URL."""
    async with running_components(apiserver, prometheus_url, tmp_path, config, **options) as (
        url,
        _,
    ):
        yield url


@contextlib.asynccontextmanager
async def running_components(
    apiserver: RunningApiServer,
    prometheus_url: str,
    tmp_path: Path,
    config: str | MetricsDiscoveryConfig,
    *,
    api_groups: ApiGroups | None = None,
    prometheus_settings: PrometheusSettings | None = None,
    require_discovery: bool = True,
    config_file: str = "e2e.yaml",
) -> AsyncIterator[tuple[str, Components]]:
    """The adapter wired as `serve` wires it (with the given API group switches), after
    its first relist, served over HTTPS on loopback; yields its base URL.

    `prometheus_settings` replaces the plain client settings for `prometheus_url` (TLS,
    credentials); with `require_discovery=False` a failing first relist is left to show
    in `/readyz` and the answers, as a running `serve` would.

    Requests are authenticated and authorized by delegation to the stand-in, as in a
    cluster: kubectl's token (`support.kubectl.PLACEHOLDER_TOKEN`) is a system:masters
    user there. Over TLS the stand-in publishes the front proxy's CA in
    extension-apiserver-authentication, which the adapter reads, so requests proxied
    by its aggregation layer are authenticated as in a cluster; over plain HTTP there
    is no such ConfigMap and the lookup is skipped."""
    apiserver.state.authenticator.add_token(PLACEHOLDER_TOKEN, TEST_CLIENT, ["system:masters"])
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "adapter" / "kubeconfig")
    settings = Settings(
        config_file=config_file,
        prometheus=prometheus_settings or PrometheusSettings(url=prometheus_url, timeout=5.0),
        serving=ServingSettings(
            secure_port=0, bind_address="127.0.0.1", cert_dir=str(tmp_path / "certs")
        ),
        api_groups=api_groups or ApiGroups(),
        authentication=AuthenticationSettings(skip_lookup=apiserver.ca_pem is None),
        query_timeout=5.0,
    )
    rules = parse_config(config, config_file) if isinstance(config, str) else config
    async with (
        PrometheusClient(settings.prometheus) as prometheus,
        cluster_connection.connect(
            str(kubeconfig), qps=settings.cluster.qps, burst=settings.cluster.burst
        ) as cluster,
    ):
        mapper = await cluster_discovery.fetch_rest_mapper(cluster)
        components = build_components(settings, rules, mapper, prometheus, cluster)
        try:
            await components.discovery.relist()  # what `serve` waits for before it is ready
        except DiscoveryError:
            if require_discovery:
                raise
        async with running(components.app, settings.serving) as url:
            yield url, components


async def raw(url: str, path: str, tmp_path: Path) -> tuple[int, Any]:
    """`kubectl get --raw PATH`: (0, the parsed JSON) or (exit status, kubectl's stderr)."""
    result = await get_raw(url, path, tmp_path / "kubectl")
    if result.returncode == 0:
        return 0, json.loads(result.stdout)
    return result.returncode, result.stderr
