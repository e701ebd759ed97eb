"""Access log lines and a klog-style formatter.

Owns the text of one access-log line, shaped like the apiserver's httplog
(`"HTTP" verb="GET" URI="/apis/..." latency="1.234ms" userAgent="..." srcIP="..."
resp=200`), and `KlogFormatter`, which renders any log record with klog's header
(`I1122 10:00:00.123456   12345 file.py:42] message`) so the adapter's logs read like
other Kubernetes components'. Installing the formatter on the root logger is the CLI's
decision; the server only emits records on the `adapter.server.access` logger.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from adapter.k8s import timefmt

ACCESS_LOGGER: Final = "adapter.server.access"

_LEVEL_LETTERS: Final = {
    logging.DEBUG: "I",
    logging.INFO: "I",
    logging.WARNING: "W",
    logging.ERROR: "E",
    logging.CRITICAL: "F",
}


class KlogFormatter(logging.Formatter):
    """`Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg`, klog's header, in local time
    as klog writes it; the process id stands in for the thread id, as in klog."""

    def format(self, record: logging.LogRecord) -> str:
        letter = _LEVEL_LETTERS.get(record.levelno, "I")
        when = datetime.fromtimestamp(record.created)
        header = (
            f"{letter}{when:%m%d %H:%M:%S}.{when.microsecond:06d} "
            f"{record.process or 0:>7} {record.filename}:{record.lineno}] "
        )
        text = header + record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class KlogAccessLogger(AbstractAccessLogger):
    """aiohttp access logger writing httplog-style lines at INFO."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(logging.getLogger(ACCESS_LOGGER), log_format)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        src = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else ""
        self.logger.info(
            '"HTTP" verb=%s URI=%s latency=%s userAgent=%s srcIP=%s resp=%d',
            _quote(request.method),
            _quote(request.path_qs),
            _quote(timefmt.format_go_duration(time)),
            _quote(request.headers.get("User-Agent", "")),
            _quote(src),
            response.status,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
