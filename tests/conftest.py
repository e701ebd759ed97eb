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

import asyncio
import inspect
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


@pytest.fixture(autouse=True)
async def no_leaked_tasks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail an async test that leaves asyncio tasks running after its fixtures are torn
    down: a task left behind is a background job the code forgot to stop, which in the
    adapter would be a watch, a relist or a worker outliving its owner.

    Autouse fixtures are set up first and so torn down last, after the test's own
    fixtures (servers, clients) have closed. Tasks already cancelled get a few loop
    turns to finish before they count."""
    if not inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        yield
        return
    current = asyncio.current_task()
    before = {task for task in asyncio.all_tasks() if task is not current}
    yield
    for _ in range(20):
        leaked = [
            task
            for task in asyncio.all_tasks()
            if task is not current
            and task not in before
            and not task.done()
            and not _is_fixture_teardown(task)
        ]
        if not leaked:
            return
        await asyncio.sleep(0.01)
    for task in leaked:
        task.cancel()
    names = ", ".join(sorted(f"{task.get_name()} ({task.get_coro()!r})" for task in leaked))
    pytest.fail(f"the test left {len(leaked)} asyncio task(s) running: {names}")


def _is_fixture_teardown(task: asyncio.Task[object]) -> bool:
    """pytest-asyncio runs each async fixture's teardown as a task of its own."""
    return getattr(task.get_coro(), "__qualname__", "").endswith("async_finalizer")
