"""stop_task stops a loop even when a cancellation is swallowed (as wait_for can on Python 3.11)."""

from __future__ import annotations

import asyncio

from apiserver.ops.tasks import stop_task


async def test_a_swallowed_cancellation_is_repeated_until_the_task_stops():
    swallowed = 0

    async def stubborn_loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed < 2:  # what wait_for did on 3.11 when the inner wait completed at once
                    swallowed += 1
                    continue
                raise

    task = asyncio.create_task(stubborn_loop())
    await asyncio.sleep(0)
    await asyncio.wait_for(stop_task(task), 5)
    assert task.cancelled() and swallowed == 2


async def test_a_task_that_will_not_stop_is_given_up_on_after_the_grace(caplog):
    released = asyncio.Event()

    async def immortal() -> None:
        while not released.is_set():
            try:
                await released.wait()
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(immortal(), name="immortal")
    await asyncio.sleep(0)
    await asyncio.wait_for(stop_task(task, grace=0.3), 5)
    assert not task.done() and "immortal did not stop" in caplog.text
    released.set()  # let it end, so the test leaves nothing running
    await task
