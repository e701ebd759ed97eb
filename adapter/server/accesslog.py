"""Access log lines, shaped like the apiserver's httplog.

Owns the text of one access-log line (`"HTTP" verb="GET" URI="/apis/..."
latency="1.234ms" userAgent="..." srcIP="..." resp=200`, values quoted as Go's `%q`).
The server only emits records on the `adapter.server.access` logger; how records are
rendered (klog's header, JSON) is the CLI's decision (`adapter.cli.logs`).
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from adapter.k8s import gostrings, timefmt

ACCESS_LOGGER: Final = "adapter.server.access"


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
            gostrings.quote(request.path_qs),
            gostrings.quote(timefmt.format_go_duration(time)),
            gostrings.quote(request.headers.get("User-Agent", "")),
            gostrings.quote(src),
            response.status,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
