"""Shared pytest fixtures. The machinery lives in `tests/support/`; this file only wires it.

Prometheus (real server, never mocked; see `tests/support/prometheus.py`):

* `prometheus` (session): one server over the shared data set - the base series documented
  in `support.prometheus._base_series` plus every `@default_dataset` contribution from the
  collected test modules. Query at `prometheus.now` for exact values.
* `prometheus_factory` (module): `prometheus_factory(dataset)` starts a dedicated server
  for data a module wants to itself; all of them stop when the module is done.
* `fault_proxy` (function): a `FaultProxy` in front of the session server, in pass-through
  mode; switch `fault_proxy.mode` to inject delays, error answers and cut connections.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from support.faultproxy import FaultProxy
from support.prometheus import (
    BasicAuthUser,
    PrometheusProcess,
    SeriesData,
    TLSFiles,
    build_default_dataset,
    start_prometheus,
)

# The Kubernetes API server stand-in's fixtures (cluster_state, apiserver, ...).
pytest_plugins = ("support.apiserver",)


def _require_prometheus() -> None:
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        pytest.fail("prometheus/promtool not installed: run `make prometheus`")


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    _require_prometheus()
    dataset = build_default_dataset()
    with start_prometheus(dataset, tmp_path_factory.mktemp("prometheus-shared")) as process:
        yield process


PrometheusFactory = Callable[..., PrometheusProcess]


@pytest.fixture(scope="module")
def prometheus_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrometheusFactory]:
    _require_prometheus()
    started: list[PrometheusProcess] = []

    def factory(
        dataset: SeriesData,
        *,
        tls: TLSFiles | None = None,
        basic_auth: BasicAuthUser | None = None,
    ) -> PrometheusProcess:
        process = start_prometheus(
            dataset, tmp_path_factory.mktemp("prometheus"), tls=tls, basic_auth=basic_auth
        )
        started.append(process.start())
        return process

    try:
        yield factory
    finally:
        for process in started:
            process.stop()


@pytest.fixture
async def fault_proxy(prometheus: PrometheusProcess) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(prometheus.url) as proxy:
        yield proxy
