"""`rules query`: put one API request through the real server and note the PromQL it runs.

The request goes through the same aiohttp application the adapter serves (path parsing,
Status errors, JSON), on a loopback socket that lives for this one call, so what the
tool prints is exactly what the adapter would do, for any of the three APIs:
custom.metrics.k8s.io, external.metrics.k8s.io and metrics.k8s.io. Providers are wrapped
to record each query; without a Prometheus every query is recorded and answered with an
empty result, so a request that would run several (metrics.k8s.io runs two per
namespace) shows all of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from adapter.k8s import status
from adapter.k8s.fields import FieldSelector
from adapter.k8s.resources import RestMapper
from adapter.k8s.selectors import LabelSelector
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.results import QueryResult
from adapter.prometheus.settings import PrometheusSettings
from adapter.providers.custom import CustomMetricsProvider, ObjectLister
from adapter.providers.external import ExternalMetricsProvider
from adapter.providers.resource import ObjectMetadata, ResourceMetricsProvider
from adapter.rules.config import ResourceRules
from adapter.rules.registry import Registry
from adapter.server import app as server_app

_NO_ANSWER: Final = QueryResult("vector", (), None, (), 0.0)
"""What a query "returns" when there is no Prometheus to ask: nothing."""


class _Recorder:
    """Notes every query; asks Prometheus only when there is one."""

    def __init__(self, live: bool) -> None:
        self.queries: list[str] = []
        self.live = live


class RecordingCustomProvider(CustomMetricsProvider):
    def __init__(self, *args: Any, recorder: _Recorder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorder = recorder

    async def query(self, promql: str) -> QueryResult:
        self._recorder.queries.append(promql)
        if not self._recorder.live:
            return _NO_ANSWER
        return await super().query(promql)


class RecordingExternalProvider(ExternalMetricsProvider):
    def __init__(self, *args: Any, recorder: _Recorder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorder = recorder

    async def query(self, promql: str) -> QueryResult:
        self._recorder.queries.append(promql)
        if not self._recorder.live:
            return _NO_ANSWER
        return await super().query(promql)


class RecordingResourceProvider(ResourceMetricsProvider):
    def __init__(self, *args: Any, recorder: _Recorder, **kwargs: Any) -> None:
        # One query at a time, so they are recorded in a stable order: per namespace
        # (sorted), cpu then memory.
        super().__init__(*args, max_concurrent_queries=1, **kwargs)
        self._recorder = recorder

    async def query(self, promql: str, *, at: float, deadline: float) -> QueryResult:
        self._recorder.queries.append(promql)
        if not self._recorder.live:
            return _NO_ANSWER
        return await super().query(promql, at=at, deadline=deadline)


class StaticResourceObjects:
    """`--objects` standing in for the cluster's running pods (`NS/NAME`, or `NAME` in
    the request's namespace) or nodes. A request for one object by name needs none:
    the object is taken to exist, as the adapter would find it."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    def _candidates(
        self, namespace: str | None, fields: FieldSelector, *, namespaced: bool
    ) -> list[ObjectMetadata]:
        found: list[ObjectMetadata] = []
        for text in self.names:
            ns, _, name = text.rpartition("/")
            if namespaced:
                found.append(ObjectMetadata(name, ns or namespace or "default"))
            else:
                found.append(ObjectMetadata(name))
        if not found:
            for requirement in fields.requirements:
                if requirement.field == "metadata.name" and not requirement.negated:
                    found.append(
                        ObjectMetadata(requirement.value, namespace or "") if namespaced
                        else ObjectMetadata(requirement.value)
                    )  # fmt: skip
        return [
            item
            for item in found
            if fields.matches(item.fields()) and (namespace is None or item.namespace == namespace)
        ]

    async def running_pods(
        self, namespace: str | None, labels: LabelSelector, fields: FieldSelector
    ) -> list[ObjectMetadata]:
        return self._candidates(namespace, fields, namespaced=True)

    async def nodes(self, labels: LabelSelector, fields: FieldSelector) -> list[ObjectMetadata]:
        return self._candidates(None, fields, namespaced=False)


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
    *,
    resource_rules: ResourceRules | None = None,
    objects_by_name: Sequence[str] = (),
) -> Preview:
    """The queries serving `path` runs and, with a Prometheus, the response document.

    `objects` answers custom `*` requests; `objects_by_name` (the same `--objects`) the
    pods or nodes of metrics.k8s.io requests. Raises the Status the adapter would answer
    when the path cannot be served.
    """
    async with _prometheus(prometheus_url) as client:
        recorder = _Recorder(live=client is not None)
        custom = RecordingCustomProvider(
            lambda: registry, lambda: mapper, client, objects, recorder=recorder
        )
        external = RecordingExternalProvider(lambda: registry, client, recorder=recorder)
        resource = None
        if resource_rules is not None:
            resource = RecordingResourceProvider(
                resource_rules,
                mapper,
                client,
                StaticResourceObjects(objects_by_name),
                recorder=recorder,
            )
        app = server_app.create_app(
            custom=custom, external=external, resource=resource, readiness=lambda: True
        )
        status_code, body = await _get(app, path)
    if client is None and recorder.queries:
        return Preview(recorder.queries, None)
    if status_code != 200:
        raise status.StatusError.from_status(body, http_code=status_code)
    return Preview(recorder.queries, body if client is not None else None)


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
