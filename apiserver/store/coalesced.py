"""Many concurrent callers, one database round-trip: linearizable reads, batched.

A consistent read on a replica must see every write acknowledged anywhere before the read began,
so it asks the database for its current revision. Asking once per request costs a round-trip per
GET; Kubernetes batches such requests (consistent reads from the watch cache wait for one progress
notification that serves every request waiting for it). Here the same: callers that arrive while
no query runs start one; callers that arrive while one runs wait for the next, which starts when
the running one ends, so every caller gets an answer read after it arrived, and a crowd of
callers costs at most two queries at a time instead of one each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class CoalescedRead(Generic[T]):
    def __init__(self, query: Callable[[], Awaitable[T]]) -> None:
        self._query = query
        self._running: asyncio.Task[T] | None = None
        self._next: asyncio.Future[T] | None = None

    async def read(self) -> T:
        if self._running is None:
            self._running = self._start()
            return await asyncio.shield(self._running)
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            self._next.add_done_callback(_retrieve)  # its waiters may all have gone (cancelled requests)
        return await asyncio.shield(self._next)

    def _start(self) -> asyncio.Task[T]:
        task = asyncio.ensure_future(self._query())
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[T]) -> None:
        waiting, self._next = self._next, None
        if waiting is None:
            self._running = None
        else:
            self._running = self._start()
            self._running.add_done_callback(lambda done: _settle(waiting, done))
        if not task.cancelled():
            task.exception()  # retrieved: every waiter that is still there gets it through its shield


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


def _settle(future: asyncio.Future[T], done: asyncio.Task[T]) -> None:
    if future.done():
        return
    if done.cancelled():
        future.cancel()
    elif done.exception() is not None:
        future.set_exception(done.exception())  # type: ignore[arg-type]
    else:
        future.set_result(done.result())
