"""Access log lines, shaped like the apiserver's httplog.

Owns the text of one access-log line (`"HTTP" verb="GET" URI="/apis/..."
latency="1.234ms" userAgent="..." srcIP="..." resp=200`, values quoted as Go's `%q`).
The server only emits records on the `adapter.server.access` logger; how records are
rendered (klog's header, JSON) is the CLI's decision (`adapter.cli.logs`).

The URI is cut at `MAX_LOGGED_URI` characters, with a marker saying how many were cut:
the server reads URLs of up to 1 MiB (`adapter.server.rejections`), and a client must
not be able to write a 1 MiB line into the log at INFO with every request. 4 KiB keeps
every path and any selector a person wrote; what gets cut is a query nobody reads whole.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from adapter.k8s import gostrings, timefmt

ACCESS_LOGGER: Final = "adapter.server.access"
MAX_LOGGED_URI: Final = 4096
"""Characters of a request URI the access log keeps."""


def bounded_uri(uri: str, limit: int = MAX_LOGGED_URI) -> str:
    """`uri` itself, or its first `limit` characters and `...(N more characters)`."""
    if len(uri) <= limit:
        return uri
    return f"{uri[:limit]}...({len(uri) - limit} more characters)"


class KlogAccessLogger(AbstractAccessLogger):
    """aiohttp access logger writing httplog-style lines at INFO."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logging.getLogger(ACCESS_LOGGER), log_format)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        src = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else ""
        self.logger.info(
            '"HTTP" verb=%s URI=%s latency=%s userAgent=%s srcIP=%s resp=%d',
            gostrings.quote(request.method),
            gostrings.quote(bounded_uri(request.path_qs)),
            gostrings.quote(timefmt.format_go_duration(time)),
            gostrings.quote(request.headers.get("User-Agent", "")),
            gostrings.quote(src),
            response.status,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
