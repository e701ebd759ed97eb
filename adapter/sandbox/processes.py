"""Child processes of the sandbox, and the promise that none outlives it.

Owns spawning every process the sandbox starts (pod workers, Prometheus, the adapter,
`ab`, kubectl) and stopping them: each child gets a session (and so a process group) of
its own, so a stop reaches whatever it forked; is asked by the kernel to die when the
sandbox dies, even by SIGKILL (`PR_SET_PDEATHSIG`, kept across `execve`); and is listed
in a registry that an `atexit` hook empties, for the exits that skip `finally` blocks.
A stop is graceful as the kubelet's: SIGTERM to the group, the grace period, then
SIGKILL.

Who starts what is the caller's business (`kubelet`, `scraping`, `onemachine`, `demo`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["Child", "live_children", "spawn", "stop_all_now"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_LIVE: dict[int, subprocess.Popen[bytes] | asyncio.subprocess.Process] = {}


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGKILL it when its parent goes."""
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def stop_all_now() -> None:
    """SIGKILL every live child's group: the last resort of `atexit` and of tests."""
    for pid in list(_LIVE):
        _signal_group(pid, signal.SIGKILL)
        _LIVE.pop(pid, None)


atexit.register(stop_all_now)


def live_children() -> list[int]:
    """Process ids (= group ids) of the children not yet stopped."""
    return list(_LIVE)


class Child:
    """One started child process (asyncio), stopped with `stop`."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process = process
        self.name = name

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self) -> int:
        code = await self.process.wait()
        _LIVE.pop(self.pid, None)
        _signal_group(self.pid, signal.SIGKILL)  # whatever it forked and left behind
        return code

    async def stop(self, grace: float = 10.0) -> int:
        """SIGTERM to the group, `grace` seconds, then SIGKILL; returns the exit code."""
        if self.process.returncode is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self.process.wait()), grace)
            except TimeoutError:
                log.info("%s (pid %d) outlived its %.0fs grace: killed", self.name, self.pid, grace)
                _signal_group(self.pid, signal.SIGKILL)
        return await self.wait()


async def spawn(
    argv: Sequence[str],
    *,
    name: str,
    env: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    stdout: int | IO[bytes] | None = None,
    cwd: Path | None = None,
) -> Child:
    """Start `argv` in a session of its own, tied to this process's life. Output goes to
    `log_file` (appended) unless `stdout` is given (e.g. `asyncio.subprocess.PIPE`)."""
    log_handle = open(log_file, "ab") if log_file is not None else None  # noqa: SIM115
    try:
        out: int | IO[bytes] | None = stdout
        if out is None:
            out = log_handle if log_handle is not None else subprocess.DEVNULL
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=log_handle if log_handle is not None else subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    finally:
        if log_handle is not None:
            log_handle.close()
    _LIVE[process.pid] = process
    return Child(process, name)
