"""The typed keys under which the application keeps its state, and the small mutable
holders they point to.

Owns nothing but names: `adapter.server.app` fills these keys, handlers read them. The
served API groups are objects satisfying `ServedAPI`; each group's module
(`custom_metrics`, `external_metrics`, later `resource_metrics` for metrics.k8s.io)
provides one, so adding a group is one module and one line in `app.create_app`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from adapter.server.authn import Authenticator
from adapter.server.documents import APIResourceJSON, GroupVersions, VersionInfo


class ServedAPI(Protocol):
    """One API group this server answers: its discovery entry and its routes."""

    @property
    def group(self) -> GroupVersions: ...

    def resources(self, version: str) -> list[APIResourceJSON]:
        """The APIResourceList entries for `/apis/<group>/<version>`."""
        ...

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the group's resource paths (not its discovery paths)."""
        ...


Readiness = Callable[[], bool | str]
"""True when ready; False or a reason (str) when not. Called on every `/readyz`."""

BackendHealth = Callable[[], str | None]
"""None while the metrics backend answers; else why it is taken as down (`/readyz`)."""


@dataclass(slots=True)
class Lifecycle:
    """Mutable: the runner flips `shutting_down` on SIGTERM so `/readyz` fails while
    in-flight requests drain, as the apiserver's `shutdown` readyz check does."""

    shutting_down: bool = False


SERVED_APIS: web.AppKey[tuple[ServedAPI, ...]] = web.AppKey("served_apis")
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")
BACKEND_HEALTH: web.AppKey[BackendHealth] = web.AppKey("backend_health")
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
VERSION = web.AppKey("version", VersionInfo)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
"""Set when requests are authenticated: the listener's TLS context asks for client
certificates and trusts its CA bundles (`adapter.server.running`)."""
