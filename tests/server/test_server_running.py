"""Starting, serving and stopping: the runner's lifecycle on a real HTTPS listener.

Upstream behaviour pinned: k8s.io/apiserver `pkg/server/genericapiserver.go`
(PrepareRun/Run: on SIGTERM or SIGINT readyz starts failing, the listener stops, in-flight
requests drain for up to the shutdown timeout, 60 s by default) and
`pkg/server/secure_serving.go` ("Serving securely on <addr>").
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from adapter.cli.logs import KlogFormatter
from adapter.k8s.resources import GroupResource
from adapter.providers.base import (
    CustomMetricInfo,
    CustomMetricRequest,
    CustomMetricValue,
    ObjectReference,
)
from adapter.server.app import create_app
from adapter.server.running import running, serve
from adapter.server.state import LIFECYCLE
from adapter.settings import ServingSettings


@dataclass
class SlowCustom:
    """Holds every request until `release` is set, so a test controls when it finishes."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    def list_metrics(self) -> Sequence[CustomMetricInfo]:
        return [CustomMetricInfo(GroupResource("", "nodes"), "load", False)]

    async def get_metrics(self, request: CustomMetricRequest) -> Sequence[CustomMetricValue]:
        self.entered.set()
        await self.release.wait()
        return [
            CustomMetricValue(
                ObjectReference("Node", request.name, "/v1"),
                request.metric,
                datetime(2024, 1, 1, tzinfo=UTC),
                "1",
            )
        ]


def settings(tmp_path: Path) -> ServingSettings:
    return ServingSettings(
        secure_port=0, bind_address="127.0.0.1", cert_dir=str(tmp_path / "certs")
    )


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, ssl=False) as response:
        return response.status, await response.text()


async def wait_until_shutting_down(app: web.Application) -> None:
    for _ in range(500):
        if app[LIFECYCLE].shutting_down:
            return
        await asyncio.sleep(0.01)
    pytest.fail("the stop signal was not handled")


async def test_running_serves_then_closes_the_listener(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(custom=None, external=None, readiness=lambda: True)
    caplog.set_level(logging.INFO, logger="adapter.server")
    async with running(app, settings(tmp_path)) as url:
        assert url.startswith("https://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        assert port > 0
        assert await get(url + "/livez") == (200, "ok")
        assert not app[LIFECYCLE].shutting_down
    assert app[LIFECYCLE].shutting_down
    assert f"Serving securely on 127.0.0.1:{port}" in caplog.text
    with pytest.raises(aiohttp.ClientConnectorError):
        await get(url + "/livez")


async def test_access_log_lines_read_like_httplog(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(custom=None, external=None, readiness=lambda: True)
    caplog.set_level(logging.INFO, logger="adapter.server.access")
    async with running(app, settings(tmp_path)) as url:
        await get(url + "/livez?verbose")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "adapter.server.access"]
    assert line.startswith('"HTTP" verb="GET" URI="/livez?verbose" latency="')
    assert 'srcIP="127.0.0.1:' in line
    assert line.endswith(" resp=200")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serve_drains_in_flight_requests_on_signal(
    tmp_path: Path, signum: signal.Signals
) -> None:
    provider = SlowCustom()
    app = create_app(custom=provider, external=None, readiness=lambda: True)
    serving: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve(app, settings(tmp_path), on_serving=serving.set_result))
    url = await serving
    assert await get(url + "/readyz") == (200, "ok")

    in_flight = asyncio.create_task(get(url + "/apis/custom.metrics.k8s.io/v1beta2/nodes/n1/load"))
    await provider.entered.wait()
    os.kill(os.getpid(), signum)
    await wait_until_shutting_down(app)
    assert not server.done()

    provider.release.set()
    code, body = await in_flight
    assert code == 200
    assert '"name":"n1"' in body
    await server
    with pytest.raises(aiohttp.ClientConnectorError):
        await get(url + "/livez")


async def test_serve_shutdown_is_bounded(tmp_path: Path) -> None:
    provider = SlowCustom()  # never released
    app = create_app(custom=provider, external=None, readiness=lambda: True)
    serving: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(
        serve(app, settings(tmp_path), shutdown_timeout=0.2, on_serving=serving.set_result)
    )
    url = await serving
    in_flight = asyncio.create_task(get(url + "/apis/custom.metrics.k8s.io/v1beta2/nodes/n1/load"))
    await provider.entered.wait()
    os.kill(os.getpid(), signal.SIGTERM)
    await server  # returns although the handler never finished
    with pytest.raises(aiohttp.ClientError):
        await in_flight


def test_klog_formatter_header() -> None:
    # klog's header: Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg
    record = logging.LogRecord(
        "adapter.server", logging.WARNING, "/x/running.py", 42, "slow %s", ("query",), None
    )
    line = KlogFormatter().format(record)
    assert re.fullmatch(r"W\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ running\.py:42\] slow query", line)
