"""The HPA loop's work queue: client-go's rate-limited workqueue as the HPA uses it.

Pins client-go's `util/workqueue` semantics the HPA controller relies on
(pkg/controller/podautoscaler/horizontal.go, enqueueHPA / processNextWorkItem with
NewDefaultHPARateLimiter): a key is queued once however often it is added, a key
being processed is handed out again only after `Done`, `AddAfter` keeps the earliest
pending time, and a shut-down queue stops its workers.
"""

from __future__ import annotations

import asyncio

import pytest

from adapter.hpa.queueing import QueueShutDown, WorkQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_key_added_twice_is_handed_out_once() -> None:
    queue = WorkQueue()
    queue.add("shop/web")
    queue.add("shop/web")
    queue.add("shop/api")
    assert await queue.get() == "shop/web"
    assert await queue.get() == "shop/api"
    assert len(queue) == 0


async def test_a_key_added_while_processing_comes_back_after_done() -> None:
    """Two workers never sync one HPA at once (workqueue's processing/dirty sets)."""
    queue = WorkQueue()
    queue.add("shop/web")
    key = await queue.get()
    queue.add("shop/web")
    assert len(queue) == 0  # held back while a worker has it
    queue.done(key)
    assert len(queue) == 1
    assert await queue.get() == "shop/web"


async def test_add_after_keeps_the_earliest_time() -> None:
    """AddRateLimited with the HPA limiter is AddAfter(resyncPeriod): the informer's
    resync and the re-add after a sync do not push an HPA's next sync back."""
    clock = Clock()
    queue = WorkQueue(clock)
    queue.add_after("shop/web", 15)
    clock.now += 5
    queue.add_after("shop/web", 15)  # due at 1020, later than 1015: ignored
    clock.now += 10
    assert await asyncio.wait_for(queue.get(), 1) == "shop/web"
    assert queue.waiting == 0


async def test_a_key_waits_for_its_time() -> None:
    clock = Clock()
    queue = WorkQueue(clock)
    queue.add_after("shop/web", 15)
    waiter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    clock.now += 15
    queue.add("shop/other")  # any change wakes the waiters, who look at the clock again
    got = await asyncio.wait_for(waiter, 1)
    assert got in ("shop/web", "shop/other")


@pytest.mark.parametrize("delay", [0, -1])
async def test_no_delay_is_an_immediate_add(delay: float) -> None:
    queue = WorkQueue()
    queue.add_after("shop/web", delay)
    assert await asyncio.wait_for(queue.get(), 1) == "shop/web"


async def test_shut_down_stops_waiting_workers() -> None:
    queue = WorkQueue()
    waiter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.shut_down()
    with pytest.raises(QueueShutDown):
        await asyncio.wait_for(waiter, 1)
    queue.add("shop/web")  # ignored after shutdown
    assert len(queue) == 0
