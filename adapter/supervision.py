"""Named background tasks, and the rule that one of them ending ends the process.

Owns `supervise`, which `serve` and `hpa run` both run their parts under: the main
coroutine (serving until a signal) beside named background tasks (discovery, the object
cache, the HPA controller, its event sink, config reloads). A background task is meant to
run for ever; if one returns or fails, the process says which and exits non-zero rather
than limping on with stale metrics or a dead controller. Stopping is bounded: every task
is cancelled and given `stop_timeout` seconds, and one that ignores cancellation is
named in the log instead of holding the process up.

It sits at the bottom of the package (it imports nothing of it) so that the composition
root (`adapter.serving`) and the HPA loop's own command (`adapter.hpa.running`) share it
without importing each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

__all__ = ["EXIT_TASK_DIED", "STOP_TIMEOUT", "supervise"]

log = logging.getLogger(__name__)

EXIT_TASK_DIED: Final = 1
"""Exit status when a background task stopped on its own."""

STOP_TIMEOUT: Final = 10.0
"""Seconds the tasks get to finish after cancellation. The server's own shutdown
(draining requests) is bounded separately and shorter; ten seconds covers a Lease
release and a final status write without making a stuck task block a rollout."""


async def supervise(
    main: Awaitable[None],
    tasks: Mapping[str, Callable[[], Awaitable[None]]],
    *,
    stop_timeout: float = STOP_TIMEOUT,
) -> int:
    """Run `main` beside named background tasks until one of them ends.

    Returns 0 when `main` returns (a stop signal), EXIT_TASK_DIED when a background task
    ended first; an exception from `main` propagates. Either way every task is cancelled
    and awaited for at most `stop_timeout` seconds.
    """
    background = [asyncio.ensure_future(factory()) for factory in tasks.values()]
    for task, name in zip(background, tasks, strict=True):
        task.set_name(name)
    main_task = asyncio.ensure_future(main)
    main_task.set_name("main")
    try:
        done, _ = await asyncio.wait([main_task, *background], return_when=asyncio.FIRST_COMPLETED)
        if main_task in done:
            main_task.result()
            return 0
        for task in done:
            error = None if task.cancelled() else task.exception()
            log.critical("background task %r stopped: %s", task.get_name(), error or "returned")
        return EXIT_TASK_DIED
    finally:
        await _stop([main_task, *background], stop_timeout)


async def _stop(tasks: list[asyncio.Task[None]], timeout: float) -> None:
    for task in tasks:
        task.cancel()
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        log.error("task %r did not stop within %.0fs of cancellation", task.get_name(), timeout)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: an error after cancellation is not news
