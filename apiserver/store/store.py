"""The store: one revisioned object space over a durable backend, with group commit.

Writers hand in synchronous transaction functions. A single writer task runs every transaction
that is waiting, in order, against the cache plus the batch's pending writes, then persists the
whole batch in one database transaction (one fsync) and applies it to the cache. Concurrent
requests therefore share commits instead of queueing for one fsync each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .cache import ObjectCache, Watcher
from .model import DataKeyWrite, ObjectWrite, PayloadWrite, StoredObject, WatchEvent, Write
from .txn import Txn

log = logging.getLogger(__name__)
T = TypeVar("T")


class Backend(Protocol):
    """Durable storage under the store (SQLite embedded; PostgreSQL later)."""

    async def open(self) -> tuple[list[StoredObject], int]: ...
    async def persist(self, writes: list[Write], revision: int) -> None: ...
    async def read_payload(self, namespace: str, name: str, version: int) -> tuple[str, bytes] | None: ...
    async def read_data_key(self, key_id: str) -> tuple[str, str, str, bytes, float, bool] | None: ...
    async def read_active_data_key(self, namespace: str) -> tuple[str, str, str, bytes, float, bool] | None: ...
    async def read_data_keys(self, namespace: str | None) -> list[tuple[str, str, str, bytes, float, bool]]: ...
    async def setting(self, key: str, default: Callable[[], str]) -> str: ...
    async def close(self) -> None: ...


class Store:
    def __init__(self, backend: Backend, *, event_window: int = 50_000, watcher_backlog: int = 10_000) -> None:
        self.backend = backend
        self.cache = ObjectCache(event_window, watcher_backlog)
        self._queue: list[tuple[Callable[[Txn], Any], asyncio.Future]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task | None = None

    async def open(self) -> None:
        objects, revision = await self.backend.open()
        self.cache.load(objects, revision)
        self._writer = asyncio.create_task(self._write_loop(), name="store-writer")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        for _, future in self._queue:
            if not future.done():
                future.set_exception(RuntimeError("store closed"))
        self.cache.close_watchers()
        await self.backend.close()

    # -- reads ----------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self.cache.revision

    def get(self, resource: str, namespace: str, name: str) -> StoredObject | None:
        return self.cache.get(resource, namespace, name)

    def watch(self, resource: str, namespace: str | None, after_revision: int | None) -> tuple[Watcher, list[WatchEvent]]:
        return self.cache.watch(resource, namespace, after_revision)

    async def read_payload(self, namespace: str, name: str, version: int) -> tuple[str, bytes] | None:
        return await self.backend.read_payload(namespace, name, version)

    # -- writes ---------------------------------------------------------------------------

    async def commit(self, transaction: Callable[[Txn], T]) -> T:
        """Run `transaction` in the next batch; resolves once the batch is durable and visible."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append((transaction, future))
        self._wake.set()
        return await future

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            queued, self._queue = self._queue, []
            if queued:
                await self._run_batch(queued)

    async def _run_batch(self, queued: list[tuple[Callable[[Txn], Any], asyncio.Future]]) -> None:
        pending: dict = {}
        pending_index: dict = {}
        next_revision = self.cache.revision + 1
        writes: list[Write] = []
        done: list[tuple[asyncio.Future, Any]] = []
        for transaction, future in queued:
            if future.cancelled():
                continue
            txn = Txn(self.cache, pending, pending_index)
            try:
                result = transaction(txn)
            except Exception as exc:  # the transaction's own refusal: only it fails
                future.set_exception(exc)
                continue
            next_revision = txn.seal(next_revision)
            writes.extend(txn.writes)
            done.append((future, result))
        if not writes:
            for future, result in done:
                future.set_result(result)
            return
        revision = next_revision - 1
        try:
            await self.backend.persist(writes, revision)
        except Exception as exc:
            log.error("commit of %d writes failed: %s", len(writes), type(exc).__name__)
            for future, _ in done:
                if not future.done():
                    future.set_exception(exc)
            return
        self.cache.apply(_events(writes))
        self.cache.advance(revision)
        for future, result in done:
            if not future.done():
                future.set_result(result)


def _events(writes: list[Write]) -> list[tuple[WatchEvent, StoredObject | None]]:
    events = []
    for write in writes:
        if not isinstance(write, ObjectWrite):
            continue
        assert write.body is not None
        previous = write.previous.body if write.previous else None
        if write.op == "delete":
            events.append((WatchEvent(write.revision, "DELETED", write.resource, write.namespace, write.name,
                                      write.body, previous), None))
        else:
            stored = StoredObject(write.resource, write.namespace, write.name, write.revision, write.body,
                                  write.index_key)
            kind = "ADDED" if write.op == "create" else "MODIFIED"
            events.append((WatchEvent(write.revision, kind, write.resource, write.namespace, write.name,
                                      write.body, previous), stored))
    return events


__all__ = ["Backend", "Store", "Txn", "DataKeyWrite", "PayloadWrite"]
