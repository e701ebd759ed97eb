"""`rules query`: put one API request through the real server and note the PromQL it runs.

The request goes through the same aiohttp application the adapter serves (path parsing,
Status errors, JSON), on a loopback socket that lives for this one call, so what the
tool prints is exactly what the adapter would do. Providers are wrapped to record each
query; without a Prometheus the first query is recorded and not sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from adapter.k8s import status
from adapter.k8s.resources import RestMapper
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.results import QueryResult
from adapter.prometheus.settings import PrometheusSettings
from adapter.providers.custom import CustomMetricsProvider, ObjectLister
from adapter.rules.registry import Registry
from adapter.server import app as server_app


class _QueryRecorded(Exception):
    """Stops a request once its query is known, when there is no Prometheus to ask."""


class RecordingCustomProvider(CustomMetricsProvider):
    def __init__(self, *args: Any, sink: list[str], live: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sink = sink
        self._live = live

    async def query(self, promql: str) -> QueryResult:
        self._sink.append(promql)
        if not self._live:
            raise _QueryRecorded()
        return await super().query(promql)


@dataclass(frozen=True, slots=True)
class Preview:
    queries: list[str]
    response: dict[str, Any] | None


@contextlib.asynccontextmanager
async def _prometheus(url: str | None) -> AsyncIterator[PrometheusClient | None]:
    if url is None:
        yield None
        return
    async with PrometheusClient(PrometheusSettings(url=url)) as client:
        yield client


async def preview(
    path: str,
    registry: Registry,
    mapper: RestMapper,
    objects: ObjectLister,
    prometheus_url: str | None,
) -> Preview:
    """The queries serving `path` runs and, with a Prometheus, the response document.

    Raises the Status the adapter would answer when the path cannot be served.
    """
    queries: list[str] = []
    async with _prometheus(prometheus_url) as client:
        custom = RecordingCustomProvider(
            lambda: registry,
            lambda: mapper,
            client,
            objects,
            sink=queries,
            live=client is not None,
        )
        app = server_app.create_app(custom=custom, external=None, readiness=lambda: True)
        status_code, body = await _get(app, path)
    if queries and client is None:
        return Preview(queries, None)
    if status_code != 200:
        raise status.StatusError.from_status(body, http_code=status_code)
    return Preview(queries, body)


async def _get(app: web.Application, path: str) -> tuple[int, dict[str, Any]]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                URL(f"http://{host}:{port}{path}", encoded=True),
                headers={"Accept": "application/json"},
            ) as response,
        ):
            return response.status, orjson.loads(await response.read())
    finally:
        await runner.cleanup()
