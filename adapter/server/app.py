"""The aiohttp application: which API groups are served, in which middleware order.

Owns `create_app` and the outermost middleware that turns every failure into a
metav1.Status response: `StatusError` from providers and parsing, unknown paths
(404 NotFound, worded as the apiserver's notfoundhandler), and anything unexpected
(500 InternalError, logged with its traceback). Routes live with their groups
(`custom_metrics`, `external_metrics`, `resource_metrics` for metrics.k8s.io), discovery
(`discovery`) and health (`health`).

Slot for later work:

- Authentication and authorization (`adapter.server.authn`, `adapter.server.authz`) come
  in as `middlewares`. They run inside the Status-error middleware, so raising
  `StatusError` (401 Unauthorized, 403 Forbidden) gives a proper Status body.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import sys
from collections.abc import Sequence
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry

import adapter
from adapter import selfmetrics
from adapter.k8s import status, timefmt
from adapter.providers import deadlines
from adapter.providers.base import (
    CustomMetricsProvider,
    ExternalMetricsProvider,
    ResourceMetricsProvider,
)
from adapter.server import discovery, health, responses
from adapter.server.custom_metrics import CustomMetricsAPI
from adapter.server.documents import VersionInfo
from adapter.server.external_metrics import ExternalMetricsAPI
from adapter.server.resource_metrics import ResourceMetricsAPI
from adapter.server.state import (
    BACKEND_HEALTH,
    LIFECYCLE,
    READINESS,
    SERVED_APIS,
    VERSION,
    BackendHealth,
    Lifecycle,
    Readiness,
    ServedAPI,
)

log = logging.getLogger(__name__)

HEALTH_PATHS: Final = ("/healthz", "/livez", "/readyz")
"""Prefixes an authorization middleware should let through unauthenticated."""


_GO_ARCH: Final = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}


def default_version() -> VersionInfo:
    """`/version` for this build: the package version, and Python where Go is expected."""
    major, minor, *_ = adapter.__version__.split(".")
    machine = platform.machine().lower()
    return VersionInfo(
        major=major,
        minor=minor,
        git_version=f"v{adapter.__version__}",
        go_version=f"{platform.python_implementation()} {platform.python_version()}",
        compiler=sys.implementation.name,
        platform=f"{sys.platform}/{_GO_ARCH.get(machine, machine)}",
    )


@web.middleware
async def status_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as a metav1.Status with the code it names."""
    try:
        return await handler(request)
    except status.StatusError as err:
        return responses.status_response(request, err)
    except web.HTTPNotFound:
        return responses.status_response(request, responses.not_found())
    except web.HTTPMethodNotAllowed:
        return responses.status_response(request, responses.method_not_allowed())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return responses.status_response(request, status.generic(exc.status, exc.reason))
    except Exception:  # the boundary: nothing may escape as a bare 500 page
        log.exception("%s %s failed", request.method, request.path_qs)
        # The traceback goes to the log; the caller reads plain words, no internals.
        return responses.status_response(
            request, status.internal_error("the adapter failed unexpectedly; see its log")
        )


async def _drop_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Go's net/http sends no Server header; neither do we."""
    response.headers.popall("Server", None)


@web.middleware
async def request_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """`?timeout=` (a Go duration, as Kubernetes clients send it) bounds the queries made
    for this request; see `adapter.providers.deadlines`.

    A timeout of zero or less is no deadline on the client's part, as kube-apiserver
    reads it (`WithRequestDeadline` in k8s.io/apiserver's endpoints/filters/
    request_deadline.go keeps its own maximum unless the timeout is > 0): the queries
    then run under the adapter's own `--prometheus-timeout` alone.
    """
    text = request.query.get("timeout")
    if not text:
        return await handler(request)
    try:
        seconds = timefmt.parse_go_duration(text)
    except ValueError as err:
        # The apiserver's own wording for a timeout it cannot read.
        raise status.bad_request(f"invalid timeout specified in the request URL: {err}") from err
    if seconds <= 0:
        return await handler(request)
    token = deadlines.REQUEST_DEADLINE.set(asyncio.get_running_loop().time() + seconds)
    try:
        return await handler(request)
    finally:
        deadlines.REQUEST_DEADLINE.reset(token)


def create_app(
    *,
    custom: CustomMetricsProvider | None,
    external: ExternalMetricsProvider | None,
    readiness: Readiness,
    resource: ResourceMetricsProvider | None = None,
    version: VersionInfo | None = None,
    middlewares: Sequence[Middleware] = (),
    metrics: CollectorRegistry | None = None,
    backend_health: BackendHealth | None = None,
) -> web.Application:
    """The aggregated API server's application.

    A group whose provider is None is not served at all: absent from `/apis` and 404 on
    every path under it, as when upstream's adapter has no rules of that kind.
    `readiness` and `backend_health` (Prometheus answering) feed `/readyz` (see
    `adapter.server.health`).
    """
    served: list[ServedAPI] = []
    if custom is not None:
        served.append(CustomMetricsAPI(custom))
    if external is not None:
        served.append(ExternalMetricsAPI(external))
    if resource is not None:
        served.append(ResourceMetricsAPI(resource))

    app = web.Application(middlewares=[status_errors, request_deadline, *middlewares])
    app[SERVED_APIS] = tuple(served)
    app[READINESS] = readiness
    app[BACKEND_HEALTH] = backend_health or (lambda: None)
    app[LIFECYCLE] = Lifecycle()
    app[VERSION] = version or default_version()

    discovery.add_routes(app.router, app[SERVED_APIS])
    for api in served:
        api.add_routes(app.router)
    health.add_routes(app.router)
    if metrics is not None:  # the process' own /metrics (adapter.selfmetrics)
        selfmetrics.add_routes(app, metrics)
    app.on_response_prepare.append(_drop_server_header)
    return app
