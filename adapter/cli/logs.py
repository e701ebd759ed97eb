"""How the process logs: klog's text header, verbosity as klog's `-v`.

Owns the formatter the CLI installs on the root logger, so the adapter's logs read like
other Kubernetes components' (`I1122 10:00:00.123456   12345 file.py:42] message`), and
what each verbosity level turns on (2: the access log; 6: every PromQL query, as
prometheus-adapter logs them at `-v=6`).
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from typing import Final

from adapter.server.accesslog import ACCESS_LOGGER

__all__ = ["KlogFormatter", "configure"]

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


class _StderrHandler(logging.Handler):
    """The handler `configure` installs: writes to whatever `sys.stderr` is at the time
    (as the stdlib's last-resort handler does), and is told apart from handlers others
    installed (pytest's capture, an embedding program's), so calling `configure` again
    replaces only it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def configure(verbosity: int) -> None:
    """Install klog's format on stderr at the level `verbosity` asks for."""
    handler = _StderrHandler()
    handler.setFormatter(KlogFormatter())
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity >= 6 else logging.INFO)
    if verbosity < 2:
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
