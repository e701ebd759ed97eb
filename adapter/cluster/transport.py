"""The HTTP client under a Cluster: per-request work it need not repeat.

Owns one measured fix. kubernetes-asyncio opens its aiohttp session with
`trust_env=True`, so every request looks up the proxy environment variables and
`~/.netrc` again, each in a thread-pool hop: measured on this project's 2-core machine,
a GET against the API stand-in costs 410 us of CPU that way and 97 us without. The
environment does not change while the process runs, so `settle_environment` looks once:
when no proxy applies to the API server's address and there is no netrc file (the
usual case, in a pod and on a laptop), the per-request lookups are turned off; when one
applies, they stay on and requests go through it, as client-go's
http.ProxyFromEnvironment would send them.

Callers that make many requests per second (the HPA loop) call it once after
`adapter.cluster.connection.connect`; it belongs in `connect` itself eventually.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from adapter.cluster.connection import Cluster

__all__ = ["settle_environment"]

log = logging.getLogger(__name__)


def _netrc_present() -> bool:
    configured = os.environ.get("NETRC")
    if configured:
        return Path(configured).exists()
    return (Path.home() / ".netrc").exists()


def settle_environment(cluster: Cluster) -> bool:
    """Turn off per-request environment lookups when they cannot change anything;
    True when they were turned off."""
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
