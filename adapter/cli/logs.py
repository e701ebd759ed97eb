"""How the process logs: klog's text header or component-base's JSON, verbosity as
klog's `-v` and `--vmodule`.

Owns the logging flags (component-base/logs' `-v`, `--vmodule`, `--log-flush-frequency`,
`--logging-format`, and klog's legacy flags such as `--logtostderr`, accepted as
prometheus-adapter accepts them), the formatters the CLI installs on the root logger, so
the adapter's logs read like other Kubernetes components' (`I1122 10:00:00.123456
12345 file.py:42] message`, or `{"ts":...,"caller":"file.py:42","msg":...,"v":0}`), and
what each verbosity level turns on (2: the access log; 6: every PromQL query, as
prometheus-adapter logs them at `-v=6`).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from adapter.cli import argtypes
from adapter.server.accesslog import ACCESS_LOGGER

__all__ = ["JSONFormatter", "KlogFormatter", "add_logging_flags", "configure", "vmodule"]

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


class JSONFormatter(logging.Formatter):
    """component-base's JSON format: one object per line, `ts` in seconds, `caller`,
    `msg`, and `v` (0) for informational lines; errors carry `err` instead."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 6),
            "caller": f"{record.filename}:{record.lineno}",
            "msg": record.getMessage(),
        }
        if record.levelno >= logging.ERROR:
            entry["err"] = self.formatException(record.exc_info) if record.exc_info else ""
        else:
            entry["v"] = 0
        return json.dumps(entry, ensure_ascii=False)


def vmodule(text: str) -> tuple[tuple[str, int], ...]:
    """`--vmodule=pattern=N,...` as klog reads it (patterns match the file name without
    its extension); argparse error in klog's words otherwise."""
    entries: list[tuple[str, int]] = []
    for item in filter(None, text.split(",")):
        pattern, separator, level = item.partition("=")
        if not separator or not pattern or not level.isdigit():
            raise argparse.ArgumentTypeError(
                "syntax error: expect comma-separated list of filename=N"
            )
        entries.append((pattern, int(level)))
    return tuple(entries)


class _Verbosity(logging.Filter):
    """DEBUG records (klog's V(6) and up) pass where `-v` or a `--vmodule` entry for
    their module is 6 or more; everything at INFO and above always passes."""

    def __init__(self, verbosity: int, modules: Sequence[tuple[str, int]]) -> None:
        super().__init__()
        self.verbosity = verbosity
        self.modules = tuple(modules)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            return True
        level = self.verbosity
        for pattern, value in self.modules:
            if fnmatch.fnmatchcase(record.module, pattern):
                level = value
                break
        return level >= 6


def configure(
    verbosity: int,
    *,
    logging_format: str = "text",
    modules: Sequence[tuple[str, int]] = (),
) -> None:
    """Install klog's format (or JSON) on stderr at the level `verbosity` asks for."""
    handler = _StderrHandler()
    handler.setFormatter(JSONFormatter() if logging_format == "json" else KlogFormatter())
    handler.addFilter(_Verbosity(verbosity, modules))
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    deepest = max([verbosity, *(level for _, level in modules)])
    root.setLevel(logging.DEBUG if deepest >= 6 else logging.INFO)
    if verbosity < 2:
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


_KLOG_LEGACY: Final = (
    # (name, takes a value) -- klog's flags as component-base/logs.AddFlags adds them,
    # deprecated upstream and without effect here (logs always go to stderr).
    ("add_dir_header", False),
    ("alsologtostderr", False),
    ("log_backtrace_at", True),
    ("log_dir", True),
    ("log_file", True),
    ("log_file_max_size", True),
    ("logtostderr", False),
    ("one_output", False),
    ("skip_headers", False),
    ("skip_log_headers", False),
    ("stderrthreshold", True),
)


def add_logging_flags(parser: argparse.ArgumentParser) -> None:
    """The logging flags prometheus-adapter accepts, plus `--logging-format`."""
    group = parser.add_argument_group("logging")
    group.add_argument(
        "-v",
        "--v",
        dest="verbosity",
        type=int,
        default=argparse.SUPPRESS,
        help="log verbosity, as klog's -v (2: requests, 6: queries)",
    )
    group.add_argument(
        "--vmodule",
        type=vmodule,
        default=(),
        metavar="PATTERN=N,...",
        help="per-module verbosity; patterns match module file names (`query*=6`)",
    )
    group.add_argument(
        "--logging-format",
        choices=("text", "json"),
        default="text",
        help="klog text (default) or component-base's JSON",
    )
    group.add_argument(
        "--log-flush-frequency", type=argtypes.duration, default=5.0, metavar="DURATION"
    )
    for name, takes_value in _KLOG_LEGACY:
        names = [f"--{name}"]
        if "_" in name:
            names.append(f"--{name.replace('_', '-')}")
        if takes_value:
            group.add_argument(*names, dest=f"klog_{name}", default=None, help=argparse.SUPPRESS)
        else:
            group.add_argument(
                *names,
                dest=f"klog_{name}",
                type=argtypes.boolean,
                nargs="?",
                const=True,
                default=None,
                help=argparse.SUPPRESS,
            )
