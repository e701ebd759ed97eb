"""The `serve` command: settings in, a running adapter out.

The composition root. It loads and checks the config (exit 2 on any problem, naming
file, section, rule and field), connects to Prometheus and the cluster, compiles the
rules against the cluster's REST mapping, starts discovery and serves. Background tasks
are named and supervised: if one dies the process says which and exits non-zero rather
than serving stale answers for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from adapter import selfmetrics, supervision
from adapter.cluster import connection as cluster_connection
from adapter.cluster import discovery as cluster_discovery
from adapter.cluster import informers as cluster_informers
from adapter.cluster import objects as cluster_objects
from adapter.cluster import reviews as cluster_reviews
from adapter.cluster.connection import ClusterError
from adapter.hpa import running as hpa_running
from adapter.k8s.resources import RestMapper
from adapter.prometheus.client import PrometheusClient
from adapter.prometheus.errors import PrometheusConfigError
from adapter.providers import reloading
from adapter.providers.custom import CustomMetricsProvider
from adapter.providers.custom import ObjectLister as CustomObjectLister
from adapter.providers.discovery import Discovery, DiscoveryCollector
from adapter.providers.external import ExternalMetricsProvider
from adapter.providers.resource import (
    CachedResourceObjects,
    ClusterResourceObjects,
    ResourceMetricsProvider,
    ResourceObjects,
)
from adapter.rules.config import ConfigError, MetricsDiscoveryConfig, load_config
from adapter.rules.registry import RuleSet
from adapter.rules.resources import check_against_mapper
from adapter.server import app as server_app
from adapter.server import authz
from adapter.server.authn import AuthenticationConfigError, Authenticator
from adapter.server.running import serve as serve_app
from adapter.server.state import AUTHENTICATOR
from adapter.server.tls import TLSConfigError
from adapter.settings import HPASettings, Settings

log = logging.getLogger(__name__)

EXIT_CONFIG = 2
EXIT_START_UP = 1


async def serve_command(settings: Settings, hpa: HPASettings | None = None) -> int:
    """`python -m adapter serve`: exit 2 for a config it cannot serve, 1 when start-up
    cannot reach a dependency or a background task dies, 0 after a stop signal."""
    try:
        config = load_config(settings.config_file)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return EXIT_CONFIG
    try:
        return await serve(settings, config, hpa)
    except (
        ClusterError,
        PrometheusConfigError,
        TLSConfigError,
        AuthenticationConfigError,
    ) as err:
        # Start-up cannot reach or configure a dependency: say which, not a traceback.
        print(f"error: {err}", file=sys.stderr)
        return EXIT_START_UP


async def serve(
    settings: Settings, config: MetricsDiscoveryConfig, hpa: HPASettings | None = None
) -> int:
    async with (
        PrometheusClient(settings.prometheus) as prometheus,
        cluster_connection.connect(
            settings.cluster.kubeconfig, qps=settings.cluster.qps, burst=settings.cluster.burst
        ) as cluster,
        contextlib.AsyncExitStack() as stack,
    ):
        mapper = await cluster_discovery.fetch_rest_mapper(cluster)
        problems = check_against_mapper(config, mapper)
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            return EXIT_CONFIG
        delegation = []
        for kubeconfig in (settings.authentication.kubeconfig, settings.authorization.kubeconfig):
            # The generic apiserver's delegation clients allow 200 qps / 400 burst.
            delegation.append(
                cluster
                if not kubeconfig
                else await stack.enter_async_context(
                    cluster_connection.connect(kubeconfig, qps=200.0, burst=400)
                )
            )
        components = build_components(
            settings,
            config,
            mapper,
            prometheus,
            cluster,
            hpa,
            authentication_cluster=delegation[0],
            authorization_cluster=delegation[1],
        )
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, components.reloader.request)
        tune_garbage_collector()
        return await supervision.supervise(
            serve_app(components.app, settings.serving), components.background
        )


GC_YOUNG_THRESHOLD: Final = 20_000
"""Allocations between collections of the youngest generation (CPython's default: 700).
A `*` request over 1,000 objects allocates some 10,000 containers that live exactly as
long as the request and are freed by reference counting; at 700 the collector walks them
over and over and promotes them to older generations it then walks again: over a
quarter of the request's CPU in `benchmarks pods` (8.9 ms -> 6.4 ms per request)."""


def tune_garbage_collector() -> None:
    """Once started: what lives for ever (modules, config, mappings) is moved out of the
    collector's sight (`gc.freeze`), and young collections come less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


@dataclass(frozen=True, slots=True)
class Components:
    """A wired adapter: the app to serve and what must run beside it."""

    app: web.Application
    discovery: Discovery
    background: Mapping[str, Callable[[], Awaitable[None]]]
    """Named coroutine factories for `supervise`."""
    reloader: reloading.ConfigReloader


def build_components(
    settings: Settings,
    config: MetricsDiscoveryConfig,
    mapper: RestMapper,
    prometheus: PrometheusClient,
    cluster: cluster_connection.Cluster,
    hpa: HPASettings | None = None,
    *,
    authentication_cluster: cluster_connection.Cluster | None = None,
    authorization_cluster: cluster_connection.Cluster | None = None,
) -> Components:
    """The adapter's parts wired together, for `serve` and for tests alike.

    A group is served when its flag is on and the config has rules for it (upstream
    installs a group only when it has rules); discovery lists series only for the
    rules of served groups, so switching a group off also saves its series calls.
    """
    groups = settings.api_groups
    serve_custom = groups.custom and bool(config.rules)
    serve_external = groups.external and bool(config.external_rules)
    serve_resource = groups.resource and config.resource_rules is not None
    discovered = dataclasses.replace(
        config,
        rules=config.rules if serve_custom else (),
        external_rules=config.external_rules if serve_external else (),
    )
    rules = RuleSet(discovered, mapper)
    discovery = Discovery(
        rules,
        prometheus,
        interval=settings.discovery.relist_interval,
        max_age=settings.discovery.effective_max_age,
    )
    # Object metadata by list and watch (started on first use), else a list per request.
    cache = cluster_informers.MetadataCache(cluster) if settings.cluster.object_cache else None
    custom = None
    if serve_custom:
        per_request = cluster_objects.ClusterObjectLister(cluster)
        lister: CustomObjectLister = per_request
        if cache is not None:
            lister = cluster_informers.CachedObjectLister(cache, per_request)
        custom = CustomMetricsProvider(
            lambda: discovery.registry,
            lambda: mapper,
            prometheus,
            lister,
            query_timeout=settings.query_timeout,
        )
    external = None
    if serve_external:
        external = ExternalMetricsProvider(
            lambda: discovery.registry, prometheus, query_timeout=settings.query_timeout
        )
    resource = None
    if serve_resource and config.resource_rules is not None:
        resource_objects: ResourceObjects = ClusterResourceObjects(cluster)
        if cache is not None:
            resource_objects = CachedResourceObjects(cache, resource_objects, mapper)
        resource = ResourceMetricsProvider(
            config.resource_rules,
            mapper,
            prometheus,
            resource_objects,
            query_timeout=settings.query_timeout,
        )
    served = [
        name
        for name, provider in (
            ("custom.metrics.k8s.io", custom),
            ("external.metrics.k8s.io", external),
            ("metrics.k8s.io", resource),
        )
        if provider is not None
    ]
    log.info("serving API groups: %s", ", ".join(served) or "none")

    def readiness() -> bool | str:
        if discovery.ready.is_set():
            return True
        state = discovery.stats.last_error or "in progress"
        return f"waiting for the first discovery of series ({state})"

    reloader = reloading.ConfigReloader(
        settings.config_file,
        reloading.rules_applier(
            discovery, resource, mapper, custom=serve_custom, external=serve_external
        ),
        poll_seconds=settings.config_reload_interval,
    )
    registry = selfmetrics.new_registry(
        DiscoveryCollector(lambda: discovery.stats),
        reloading.ReloadCollector(lambda: reloader.stats),
    )
    background: dict[str, Callable[[], Awaitable[None]]] = {
        "discovery": discovery.run,
        "config-reload": reloader.run,
    }
    authenticator, middlewares = delegated_access(
        settings,
        authentication_cluster or cluster,
        authorization_cluster or cluster,
    )
    app = server_app.create_app(
        custom=custom,
        external=external,
        resource=resource,
        readiness=readiness,
        metrics=registry,
        middlewares=middlewares,
        backend_health=lambda: prometheus.outcomes.outage(settings.discovery.unready_after),
    )
    if authenticator is not None:
        app[AUTHENTICATOR] = authenticator
        if authenticator.needs_cluster_config:
            lookup = authentication_cluster or cluster

            async def load(_: web.Application) -> None:
                await authenticator.load_cluster_config(lookup)

            app.on_startup.append(load)
            background["authentication-config"] = functools.partial(
                authenticator.follow_cluster_config, lookup
            )
    if cache is not None:
        background["object-cache"] = cache.supervise
        app.on_cleanup.append(lambda _: cache.close())
    if hpa is not None:  # `serve --hpa`: the HPA loop in this process (adapter.hpa.running)
        loop = hpa_running.embedded_loop(
            hpa, cluster, mapper, registry, custom=custom, external=external, resource=resource
        )
        background.update(loop.tasks)
    return Components(app, discovery, background, reloader)


def delegated_access(
    settings: Settings,
    authentication_cluster: cluster_connection.Cluster,
    authorization_cluster: cluster_connection.Cluster,
) -> tuple[Authenticator | None, list[Middleware]]:
    """Authentication and authorization delegated to the cluster, as middleware; none
    when `--delegated-auth=false`."""
    if not (settings.authentication.enabled and settings.authorization.enabled):
        log.warning(
            "authentication and authorization are off (--delegated-auth=false): "
            "anyone who reaches the port reads every metric"
        )
        return None, []
    authenticator = Authenticator(
        settings.authentication,
        functools.partial(cluster_reviews.review_token, authentication_cluster),
    )
    authorizer = authz.Authorizer(
        settings.authorization,
        functools.partial(cluster_reviews.review_access, authorization_cluster),
    )
    return authenticator, [authz.middleware(authenticator, authorizer)]
