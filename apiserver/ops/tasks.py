"""Stopping background tasks for sure."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def stop_task(task: asyncio.Task, grace: float = 10.0) -> None:
    """Cancel `task` and wait for it, repeating the cancellation until it lands.

    On Python 3.11, `asyncio.wait_for` can swallow a cancellation that arrives just as the wait it
    guards completes (fixed in 3.12); a loop built on it then runs on, and a plain
    `cancel(); await task` waits forever. Cancelling again until the task is done cannot.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
        if not task.done() and loop.time() > deadline:
            log.warning("background task %s did not stop within %.0f s", task.get_name(), grace)
            return
    if not task.cancelled() and task.exception() is not None:
        log.warning("background task %s ended with %s", task.get_name(), type(task.exception()).__name__)
