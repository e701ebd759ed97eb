"""The work queue of HPA keys: client-go's rate-limited workqueue as the HPA uses it.

Owns when each HPA is synced. kube-controller-manager puts a key back with
`AddRateLimited`, and its HPA rate limiter answers "the resync period" every time, so
every add is really "sync this HPA one period from now"; the queue keeps only the
earliest pending time of a key, so the informer's periodic resync and the re-add after
each sync do not stack up, and a sync period is what an HPA waits between syncs. As in
client-go, a key is handed to one worker at a time: a key added while it is being
processed is held back until `done`, then queued once.

Workers are coroutines calling `get` / `done`; `shut_down` makes every `get` raise
`QueueShutDown`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Callable

__all__ = ["QueueShutDown", "WorkQueue"]


class QueueShutDown(Exception):
    """The queue was shut down; the worker should stop."""


class WorkQueue:
    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._ready: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: dict[str, float] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._sequence = itertools.count()
        self._changed = asyncio.Event()
        self._shut_down = False

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return asyncio.get_running_loop().time()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        """Keys ready to be handed out (not those waiting for their time)."""
        return len(self._ready)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def add(self, key: str) -> None:
        """Queue the key now (once, however often it is added before a worker takes it)."""
        if self._shut_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._ready.append(key)
        self._notify()

    def add_after(self, key: str, delay: float) -> None:
        """Queue the key `delay` seconds from now, unless it is due sooner already."""
        if self._shut_down:
            return
        if delay <= 0:
            self.add(key)
            return
        due = self._now() + delay
        pending = self._waiting.get(key)
        if pending is not None and pending <= due:
            return
        self._waiting[key] = due
        heapq.heappush(self._heap, (due, next(self._sequence), key))
        if self._heap[0][2] == key:
            self._notify()

    def forget(self, key: str) -> None:
        """The rate limiter's Forget; the HPA limiter keeps no per-key state."""

    def _promote_due(self) -> float | None:
        """Move due keys to the ready queue; the seconds until the next one, if any."""
        now = self._now()
        while self._heap:
            due, _, key = self._heap[0]
            if self._waiting.get(key) != due:
                heapq.heappop(self._heap)  # superseded by an earlier time
                continue
            if due > now:
                return due - now
            heapq.heappop(self._heap)
            del self._waiting[key]
            self.add(key)
        return None

    async def get(self) -> str:
        while True:
            if self._shut_down:
                raise QueueShutDown()
            wait = self._promote_due()
            if self._ready:
                key = self._ready.popleft()
                self._dirty.discard(key)
                self._processing.add(key)
                return key
            changed = self._changed
            try:
                async with asyncio.timeout(wait):
                    await changed.wait()
            except TimeoutError:
                pass

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._ready.append(key)
            self._notify()

    def shut_down(self) -> None:
        self._shut_down = True
        self._notify()
