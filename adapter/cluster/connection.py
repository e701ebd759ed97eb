"""One connection to the Kubernetes API: configuration, rate limit, raw requests, errors.

Owns loading a kubeconfig (a path, `$KUBECONFIG`, `~/.kube/config`) or the in-cluster
service account into a kubernetes-asyncio `ApiClient`, the client-side rate limit
client-go applies (`--client-qps`, `--client-burst`), and the one way the rest of the
package talks to the server: a request whose answer is raw bytes (decoded by callers
with orjson, never through kubernetes-asyncio's model classes, which cost more than the
request itself for big lists). Failures come out as one small tree: the server
unreachable (`ClusterUnavailable`, a ConnectionError) or the server saying no
(`ClusterApiError`, carrying the parsed Status). What to ask is `discovery`'s and
`objects`'s business.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.config.config_exception import ConfigException
from yarl import URL

from adapter.k8s import status

__all__ = [
    "Cluster",
    "ClusterApiError",
    "ClusterConfigError",
    "ClusterError",
    "ClusterUnavailable",
    "RateLimiter",
    "connect",
]

USER_AGENT = "metrics-adapter/0.1.0"

log = logging.getLogger(__name__)


class ClusterError(Exception):
    """Anything that kept a Kubernetes API request from succeeding."""


class ClusterConfigError(ClusterError, ValueError):
    """No usable kubeconfig or in-cluster configuration."""


class ClusterUnavailable(ClusterError, ConnectionError):
    """The API server could not be reached or did not answer in time."""


class ClusterApiError(ClusterError):
    """The API server answered with an error Status (403 Forbidden, 404 NotFound, ...)."""

    def __init__(self, error: status.StatusError, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: {error.code} {error.reason}: {error.message}")
        self.status = error
        self.method = method
        self.path = path

    @property
    def code(self) -> int:
        return self.status.code

    @property
    def reason(self) -> str:
        return self.status.reason


class RateLimiter:
    """client-go's token bucket: `burst` requests at once, then `qps` per second.
    A qps of zero or less turns the limit off."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps = qps
        self.burst = max(burst, 1)
        self._tokens = float(self.burst)
        self._stamp: float | None = None
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.qps <= 0:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            now = loop.time()
            if self._stamp is not None:
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.qps)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = (1 - self._tokens) / self.qps
            await asyncio.sleep(wait)
            self._stamp = loop.time()
            self._tokens = 0.0


@dataclass(slots=True)
class Cluster:
    """A connected API client. Use through `connect`, which closes it."""

    api: Any
    """The kubernetes-asyncio ApiClient (for callers that want its typed APIs)."""
    host: str
    limiter: RateLimiter
    timeout: float = 30.0
    """Seconds a request may take (client-go's default for kubectl is none; the HPA
    controller and aggregated servers use tens of seconds)."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> bytes:
        """One API request; the response body on 2xx, typed errors otherwise."""
        await self.limiter.acquire()
        header_params = {"Accept": "application/json", "Content-Type": content_type}
        if headers:
            header_params.update(headers)
        try:
            response = await self.api.call_api(
                path,
                method,
                query_params=list(query),
                header_params=header_params,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout if timeout is not None else self.timeout,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise ClusterUnavailable(
                f"{method} {self.host}{path}: {err or type(err).__name__}"
            ) from err
        try:
            raw: bytes = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise ClusterUnavailable(
                f"{method} {self.host}{path}: {err or type(err).__name__}"
            ) from err
        finally:
            response.release()
        if 200 <= response.status < 300:
            return raw
        raise ClusterApiError(status_from_response(response.status, method, raw), method, path)

    async def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        raw = await self.request(method, path, **kwargs)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise ClusterApiError(
                status.internal_error(f"invalid JSON from the API server: {err}"), method, path
            ) from err

    async def close(self) -> None:
        await self.api.close()


def status_from_response(code: int, method: str, raw: bytes) -> status.StatusError:
    """The Status body the server sent, or client-go's stand-in for a non-Status body."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return status.StatusError.from_status(body, http_code=code)
    text = raw.decode("utf-8", "replace").strip()
    return status.generic_server_response(code, method, "", "", "", text, unexpected_response=True)


def default_kubeconfig() -> str | None:
    """`$KUBECONFIG` (possibly a list) or ~/.kube/config when it exists; else None."""
    from_env = os.environ.get("KUBECONFIG")
    if from_env:
        return from_env
    home = os.path.expanduser("~/.kube/config")
    return home if os.path.exists(home) else None


async def _load(kubeconfig: str | None, context: str | None) -> Any:
    configuration = k8s_client.Configuration()
    path = kubeconfig if kubeconfig is not None else default_kubeconfig()
    try:
        if path is not None:
            await k8s_config.load_kube_config(
                config_file=path,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as err:
        where = path if path is not None else "in-cluster service account"
        raise ClusterConfigError(
            f"unable to load Kubernetes configuration ({where}): {err}"
        ) from err
    return configuration


def _netrc_present() -> bool:
    configured = os.environ.get("NETRC")
    if configured:
        return Path(configured).exists()
    return (Path.home() / ".netrc").exists()


def _settle_environment(cluster: Cluster) -> bool:
    """Turn off aiohttp's per-request environment lookups when they cannot change anything.

    kubernetes-asyncio opens its session with `trust_env=True`, so every request looks
    up the proxy variables and `~/.netrc` again, each in a thread-pool hop: a GET against
    the API stand-in costs 410 us of CPU that way and 97 us without (measured on 2
    cores). The environment does not change while the process runs: when no proxy
    applies to the API server and there is no netrc file, the lookups are turned off;
    otherwise requests go through the proxy, as client-go's ProxyFromEnvironment would.
    True when they were turned off.
    """
    session = getattr(getattr(cluster.api, "rest_client", None), "pool_manager", None)
    if not isinstance(session, aiohttp.ClientSession) or not session.trust_env:
        return False
    try:
        get_env_proxy_for_url(URL(cluster.host))
    except LookupError:
        pass  # no proxy for the API server: the lookups only cost time
    else:
        log.info("requests to %s go through the proxy the environment names", cluster.host)
        return False
    if _netrc_present():
        return False
    session._trust_env = False
    return True


@asynccontextmanager
async def connect(
    kubeconfig: str | None = None,
    *,
    qps: float = 5.0,
    burst: int = 10,
    context: str | None = None,
    timeout: float = 30.0,
) -> AsyncIterator[Cluster]:
    """Connect with a kubeconfig file, or (None) `$KUBECONFIG`/~/.kube/config when
    present and the in-cluster service account otherwise; closed on exit."""
    configuration = await _load(kubeconfig, context)
    api = k8s_client.ApiClient(configuration=configuration)
    api.user_agent = USER_AGENT
    cluster = Cluster(
        api=api, host=str(configuration.host), limiter=RateLimiter(qps, burst), timeout=timeout
    )
    _settle_environment(cluster)
    try:
        yield cluster
    finally:
        await cluster.close()
