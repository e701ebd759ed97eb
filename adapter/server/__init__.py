"""The aggregated API server: routes, discovery documents, Status errors as HTTP, TLS,
health endpoints.
"""

from adapter.server.app import HEALTH_PATHS, create_app, default_version
from adapter.server.documents import VersionInfo
from adapter.server.running import running, serve
from adapter.server.state import Readiness
from adapter.server.tls import TLSConfigError, ssl_context

__all__ = [
    "HEALTH_PATHS",
    "Readiness",
    "TLSConfigError",
    "VersionInfo",
    "create_app",
    "default_version",
    "running",
    "serve",
    "ssl_context",
]
