"""Wiring the HPA loop: `hpa run` on its own, or inside `serve --hpa`.

Owns putting the loop's parts together - the controller, its metrics backend, the
Event recorder, decision records, the exported series and, when enabled, leader
election around the controller - into named coroutines for `adapter.supervision.supervise`,
so that any of them dying stops the process with a non-zero status instead of leaving
a replica that holds the lease but no longer syncs.

* `hpa run` reads metrics through the cluster's metrics APIs (whoever serves them) and
  serves its own `/metrics` and `/healthz` over plain HTTP on `--metrics-bind-address`.
* Inside the adapter (`serve --hpa`), metrics come from the adapter's providers
  in-process, and the series join the adapter's `/metrics`.

Why active mode needs the in-tree controller to leave these HPAs alone: both would
write the same `/scale` and status every period from separate memories, so their
stabilization windows and rate limits would not add up to either's behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from adapter import selfmetrics, supervision
from adapter.cluster import connection as cluster_connection
from adapter.cluster import discovery as cluster_discovery
from adapter.cluster.connection import Cluster
from adapter.cluster.events import EventRecorder
from adapter.cluster.leaderelection import LeaderElectionConfig, LeaderElector, default_identity
from adapter.hpa.controller import COMPONENT, HorizontalController, SyncOutcome
from adapter.hpa.exporting import HPAExporter
from adapter.hpa.fetching import ApiMetricsBackend, MetricsBackend, ProviderMetricsBackend
from adapter.hpa.records import DecisionRecorder
from adapter.k8s.resources import RestMapper
from adapter.providers import base as providers
from adapter.settings.hpa import HPARunSettings, HPASettings

__all__ = ["Loop", "build_loop", "embedded_loop", "run_command"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Loop:
    """The loop's parts, and the coroutines that run them."""

    controller: HorizontalController
    events: EventRecorder
    elector: LeaderElector | None
    exporter: HPAExporter | None
    tasks: Mapping[str, Callable[[], Awaitable[None]]]
    """Named coroutine factories for `adapter.supervision.supervise`."""


def build_loop(
    settings: HPASettings,
    cluster: Cluster,
    mapper: RestMapper,
    backend: MetricsBackend,
    registry: CollectorRegistry | None,
    *,
    on_sync: Callable[[SyncOutcome], None] | None = None,
) -> Loop:
    events = EventRecorder(cluster, COMPONENT)
    election = settings.leader_election
    exporter = None
    if registry is not None:
        exporter = HPAExporter(
            registry,
            mode=settings.mode.value,
            lease_name=election.resource_name if election.enabled else "",
        )
    recorder = DecisionRecorder(settings.records) if settings.records.directory else None
    controller = HorizontalController(
        cluster,
        mapper,
        backend,
        settings,
        events=events,
        exporter=exporter,
        recorder=recorder,
        on_sync=on_sync,
    )
    elector: LeaderElector | None = None
    if election.enabled:
        elector = LeaderElector(
            cluster,
            LeaderElectionConfig(
                namespace=election.resource_namespace,
                name=election.resource_name,
                identity=election.identity or default_identity(),
                lease_duration=election.lease_duration,
                renew_deadline=election.renew_deadline,
                retry_period=election.retry_period,
            ),
            on_change=exporter.set_leader if exporter is not None else None,
        )
        leader = elector

        async def lead() -> None:
            await leader.run(controller.run)

        main: Callable[[], Awaitable[None]] = lead
    else:
        main = controller.run
    return Loop(
        controller=controller,
        events=events,
        elector=elector,
        exporter=exporter,
        tasks={"hpa-controller": main, "hpa-events": events.run},
    )


def embedded_loop(
    settings: HPASettings,
    cluster: Cluster,
    mapper: RestMapper,
    registry: CollectorRegistry | None,
    *,
    custom: providers.CustomMetricsProvider | None,
    external: providers.ExternalMetricsProvider | None,
    resource: providers.ResourceMetricsProvider | None,
) -> Loop:
    """The loop inside the adapter: metrics from its own providers, the groups it does
    not serve through the API server."""
    backend = ProviderMetricsBackend(
        ApiMetricsBackend(cluster, mapper),
        custom=custom,
        external=external,
        resource=resource,
        mapper=mapper,
    )
    return build_loop(settings, cluster, mapper, backend, registry)


# -- `hpa run` --------------------------------------------------------------------------


def metrics_app(registry: CollectorRegistry, healthy: Callable[[], bool]) -> web.Application:
    """`/metrics` (Prometheus text) and `/healthz` for the standalone loop."""

    async def healthz(_: web.Request) -> web.Response:
        if healthy():
            return web.Response(text="ok")
        return web.Response(status=500, text="unhealthy")

    app = web.Application()
    selfmetrics.add_routes(app, registry)
    app.router.add_get("/healthz", healthz)
    return app


async def _serve_until_signal(
    registry: CollectorRegistry, address: tuple[str, int] | None, healthy: Callable[[], bool]
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    runner: web.AppRunner | None = None
    if address is not None:
        runner = web.AppRunner(metrics_app(registry, healthy), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, address[0], address[1])
        await site.start()
        log.info("serving /metrics and /healthz on %s:%d", *address)
    try:
        await stop.wait()
        log.info("stop signal received, shutting down")
    finally:
        if runner is not None:
            await runner.cleanup()


async def run_command(run: HPARunSettings) -> int:
    """`python -m adapter hpa run`."""
    settings, address = run.loop, run.metrics_address
    async with cluster_connection.connect(
        run.cluster.kubeconfig, qps=run.cluster.qps, burst=run.cluster.burst
    ) as cluster:
        mapper = await cluster_discovery.fetch_rest_mapper(cluster)
        registry = CollectorRegistry()
        loop = build_loop(settings, cluster, mapper, ApiMetricsBackend(cluster, mapper), registry)

        def healthy() -> bool:
            return True

        return await supervision.supervise(
            _serve_until_signal(registry, address, healthy), loop.tasks
        )
