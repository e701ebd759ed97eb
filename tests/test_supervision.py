"""supervise: a background task ending ends the process, and stopping is bounded."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapter import supervision


async def _forever() -> None:
    await asyncio.Event().wait()


async def test_main_returning_is_a_clean_stop_and_cancels_the_tasks() -> None:
    cancelled: list[str] = []

    async def worker() -> None:
        try:
            await _forever()
        except asyncio.CancelledError:
            cancelled.append("worker")
            raise

    async def main() -> None:
        await asyncio.sleep(0.01)

    assert await supervision.supervise(main(), {"worker": worker}) == 0
    assert cancelled == ["worker"]


async def test_a_background_task_that_fails_ends_the_process_naming_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def discovery() -> None:
        raise RuntimeError("prometheus went away for good")

    code = await supervision.supervise(_forever(), {"discovery": discovery})
    assert code == supervision.EXIT_TASK_DIED
    assert "'discovery' stopped: prometheus went away for good" in caplog.text


async def test_a_background_task_that_returns_ends_the_process_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def quits() -> None:
        return None

    assert await supervision.supervise(_forever(), {"quits": quits}) == 1
    assert "'quits' stopped: returned" in caplog.text


async def test_a_task_that_ignores_cancellation_does_not_hold_the_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # swallows every cancellation

    async def main() -> None:
        await asyncio.sleep(0.01)

    with caplog.at_level(logging.ERROR):
        code = await supervision.supervise(main(), {"stubborn": stubborn}, stop_timeout=0.2)
    assert code == 0
    assert "'stubborn' did not stop within" in caplog.text
    release.set()  # let it end so the test leaves nothing behind
    await asyncio.sleep(0.01)


async def test_an_error_in_main_propagates() -> None:
    async def main() -> None:
        raise OSError("address already in use")

    with pytest.raises(OSError, match="address already in use"):
        await supervision.supervise(main(), {"worker": _forever})
