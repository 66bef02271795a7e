"""The store: one revisioned object space over a durable backend, with group commit.

Writers hand in synchronous transaction functions. A single writer task runs every transaction
that is waiting, in order, against the cache plus the batch's pending writes, then persists the
whole batch in one database transaction (one fsync) and applies it to the cache. Concurrent
requests therefore share commits instead of queueing for one fsync each.

On a backend shared by several replicas (see `shared.py`) the batch runs inside a write session
that holds the database's revision lock: the cache first catches up with the other replicas'
changes, so every transaction sees the current state, and the database enforces the same
preconditions again. A follower task keeps the cache current between writes, and `sync()` makes
a read consistent (it sees every write acknowledged anywhere before it began).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from ..ops.metrics import Metrics, Sample
from ..ops.tasks import stop_task
from ..ops.time_slice import TimeSlice
from .backend import Backend
from .cache import ObjectCache, Watcher, body_of
from .coalesced import CoalescedRead
from .errors import (
    IndexKeyTaken,
    ObjectExists,
    RevisionExpired,
    RevisionMismatch,
    StorageFull,
    StoreError,
    StoreUnavailable,
)
from .model import DataKeyWrite, EventType, Key, ObjectWrite, PayloadWrite, StoredObject, WatchEvent, Write
from .payload_cache import PayloadCache
from .shared import Change, SharedBackend
from .txn import Txn

log = logging.getLogger(__name__)
# Objects a scan reads between two looks at its time slice: ~1 ms when each is decoded and matched.
SCAN_CHUNK = 256


@contextlib.contextmanager
def _bulk_load():
    """Load without the cyclic garbage collector, then exempt what was loaded from it.

    Loading 100 000 objects allocates millions of containers; each one triggers collections that
    rescan everything loaded so far, which tripled start-up time (bench/README.md). Object bodies
    hold no reference cycles, so freezing them costs nothing but saves every later full
    collection from walking the whole cache (a pause of hundreds of milliseconds at that size).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()


T = TypeVar("T")
Queued = tuple[Callable[[Txn], Any], asyncio.Future]
# The database refused one write of a batch: the batch's other transactions deserve another try.
_CONFLICTS = (ObjectExists, IndexKeyTaken, RevisionMismatch)
POLL_SECONDS = 1.0  # a follower looks for missed changes at least this often


@dataclass(frozen=True)
class Page:
    """One page of a list: the revision it was read at, its objects, and where the next page starts."""

    revision: int
    items: list[Any]  # decoded objects, or with `encoded` their stored JSON as orjson Fragments
    last_key: Key | None
    more: bool


class _LocalSession:
    """The write session of a backend this process alone writes: the cache is the truth."""

    def __init__(self, backend: Backend, revision: int) -> None:
        self._backend = backend
        self.head = revision
        self.changes: list[Change] | None = []

    async def persist(self, writes: list[Write], revision: int) -> int:
        await self._backend.persist(writes, revision)
        return revision


class Store:
    def __init__(
        self,
        backend: Backend | SharedBackend,
        *,
        event_window: int = 50_000,
        watcher_backlog: int = 10_000,
        metrics: Metrics | None = None,
    ) -> None:
        self.backend = backend
        self.metrics = metrics or Metrics()
        self.cache = ObjectCache(event_window, watcher_backlog)
        self._payloads = PayloadCache()
        # Concurrent consistent reads share their question for the database's head revision.
        self._head: CoalescedRead[int] | None = (
            CoalescedRead(backend.head_revision) if isinstance(backend, SharedBackend) else None
        )
        self._shared: SharedBackend | None = backend if isinstance(backend, SharedBackend) else None
        self.shared = self._shared is not None
        # Told the namespace (None: all) whose active data key another replica replaced.
        self.on_data_key_change: Callable[[str | None], None] | None = None
        self._queue: list[Queued] = []
        self._wake = asyncio.Event()
        self._poke = asyncio.Event()
        self._catching_up = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self._storage_full = False  # the last commit found no room: said once in the log, not per write

    async def open(self) -> None:
        with _bulk_load():
            await self._open()

    async def _open(self) -> None:
        objects, revision = await self.backend.open()
        if self._shared is not None:
            oldest, history = await self._shared.history(revision)
            self.cache.load(objects, revision, [c.event for c in history if c.event], oldest)
            self._shared.follow(self._poke.set)
            self._tasks.append(asyncio.create_task(self._follow_loop(), name="store-follower"))
        else:
            self.cache.load(objects, revision)
        self._tasks.append(asyncio.create_task(self._write_loop(), name="store-writer"))

    async def close(self) -> None:
        for task in self._tasks:
            await stop_task(task)
        self._tasks.clear()
        for _, future in self._queue:
            if not future.done():
                future.set_exception(RuntimeError("store closed"))
        self.cache.close_watchers()
        await self.backend.close()

    # -- reads ----------------------------------------------------------------------------
    #
    # Everything above the store reads through these methods (or through the Txn a transaction
    # function is given); the cache and the backend are the store's own.

    @property
    def revision(self) -> int:
        return self.cache.revision

    @property
    def oldest_revision(self) -> int:
        """The oldest revision a list or watch can still start from (older ones are Expired)."""
        return self.cache.oldest_revision

    def get(self, resource: str, namespace: str, name: str) -> StoredObject | None:
        return self.cache.get(resource, namespace, name)

    def by_index(self, resource: str, namespace: str, index_key: str) -> StoredObject | None:
        """The object holding the unique `index_key` of its kind in `namespace` (the strategy's `index_key`)."""
        return self.cache.by_index(resource, namespace, index_key)

    def iter_current(self, resource: str, namespace: str | None) -> Iterator[StoredObject]:
        """The current objects of `resource` in `namespace` (None: every namespace), in key order."""
        return self.cache.iter_current(resource, namespace)

    def count(self, resource: str, namespace: str | None) -> int:
        """How many current objects of `resource` are in `namespace`."""
        return self.cache.count(resource, namespace)

    async def count_where(self, resource: str, namespace: str | None, where: Callable[[dict[str, Any]], bool]) -> int:
        """How many current objects of `resource` in `namespace` have a body `where` takes (read as a `scan`)."""
        found = 0
        async for chunk in self.scan(resource, namespace):
            found += sum(1 for _, entry in chunk if where(body_of(entry)))
        return found

    async def scan(
        self, resource: str, namespace: str | None, *, revision: int | None = None, after: Key | None = None
    ) -> AsyncGenerator[list[tuple[Key, StoredObject | dict[str, Any]]], None]:
        """The objects of `resource` in `namespace` as they were at `revision` (default: now), in key
        order after `after`, in chunks; the event loop is given back between chunks once a time slice
        is spent. Reading at a fixed revision keeps the scan one consistent snapshot although commits
        land between chunks. Raises RevisionExpired when `revision` is (or, during a scan of tens of
        thousands of commits, becomes) older than the retained window."""
        at = self.cache.revision if revision is None else revision
        pace = TimeSlice()
        while True:
            chunk = list(itertools.islice(self.cache.iter_at(resource, namespace, at, after), SCAN_CHUNK))
            if chunk:
                yield chunk
            if len(chunk) < SCAN_CHUNK:
                return
            after = chunk[-1][0]
            await pace.share()

    async def list_page(
        self,
        resource: str,
        namespace: str | None,
        *,
        revision: int | None = None,
        after: Key | None = None,
        limit: int = 0,
        accept_key: Callable[[Key], bool] | None = None,
        accept_body: Callable[[dict[str, Any]], bool] | None = None,
        encoded: bool = False,
    ) -> Page:
        """Up to `limit` (0: all) objects as they were at `revision`, in key order after `after`,
        keeping those `accept_key` and `accept_body` take. Costs in proportion to what is read, not
        to the namespace, and in slices of loop time (`scan`). Raises RevisionExpired for a revision
        older than the retained window.

        An object is decoded only for `accept_body`, or to be returned decoded. With `encoded`, the
        items are the stored JSON as it is, for a response: decoding 10 000 objects and collecting
        their garbage was about 170 ms on the event loop, passing their bytes a few."""
        at = self.cache.revision if revision is None else revision
        items: list[Any] = []
        last: Key | None = None
        async with contextlib.aclosing(self.scan(resource, namespace, revision=at, after=after)) as chunks:
            async for chunk in chunks:
                for key, entry in chunk:
                    if accept_key is not None and not accept_key(key):
                        continue
                    body = None
                    if accept_body is not None:
                        body = body_of(entry)
                        if not accept_body(body):
                            continue
                    if limit and len(items) == limit:
                        return Page(at, items, last, more=True)
                    if encoded and isinstance(entry, StoredObject):
                        items.append(orjson.Fragment(entry.raw))
                    else:
                        items.append(body if body is not None else body_of(entry))
                    last = key
        return Page(at, items, last, more=False)

    def read(self, reader: Callable[[Txn], T]) -> T:
        """Run `reader` against a read-only view of the current state (no await: one consistent moment)."""
        txn = Txn(self.cache, {}, {})
        result = reader(txn)
        if txn.writes:
            raise RuntimeError("Store.read is for reads; write through Store.commit")
        return result

    def watch(
        self, resource: str, namespace: str | None, after_revision: int | None
    ) -> tuple[Watcher, list[WatchEvent]]:
        return self.cache.watch(resource, namespace, after_revision)

    async def read_payload(
        self, namespace: str, name: str, version: int, *, fresh: bool = False
    ) -> tuple[str, bytes] | None:
        """A version's (data key id, ciphertext); `fresh` reads past the cache (see payload_cache.py)."""
        if not fresh:
            cached = self._payloads.get(namespace, name, version)
            if cached is not None:
                return cached
        epoch = self._payloads.epoch
        row = await self.backend.read_payload(namespace, name, version)
        if row is not None and epoch == self._payloads.epoch:
            self._payloads.remember(namespace, name, version, (row[0], bytes(row[1])))
        return row

    async def setting(self, key: str, default: Callable[[], str]) -> str:
        """A server-wide setting kept in the database; `default()` is stored by the first to ask."""
        return await self.backend.setting(key, default)

    async def sync(self) -> None:
        """Bring the cache up to the database's current revision: call before a consistent read.

        A no-op unless replicas share the backend. Raises StoreUnavailable when the database
        cannot be asked (the read must not silently be served stale).
        """
        if self._head is None:
            return
        head = await self._head.read()
        if self.cache.revision < head:
            await self._catch_up(head)

    def object_counts(self) -> list[Sample]:
        """Objects in the cache by resource (for the `apiserver_storage_objects` gauge)."""
        return [((resource,), self.cache.count(resource)) for resource in self.cache.resources()]

    def watcher_counts(self) -> list[Sample]:
        """Watchers registered by resource (for the `apiserver_registered_watchers` gauge)."""
        return [((resource,), count) for resource, count in self.cache.watcher_counts().items()]

    async def health(self) -> str | None:
        """The readiness check: None while consistent reads can be served, else why not.

        A full disk does not count: reads go on, and a replica taken out of its load balancer
        would refuse them too.
        """
        try:
            await self.sync()
        except StoreUnavailable:
            return "the database is unavailable"
        return None

    async def _catch_up(self, target: int | None) -> None:
        """Read and apply the changes after the cache's revision (once at a time)."""
        async with self._catching_up:
            if target is not None and self.cache.revision >= target:
                return  # a concurrent catch-up got there
            try:
                assert self._shared is not None, "only replicas catch up"
                head, changes = await self._shared.changes_after(self.cache.revision)
            except RevisionExpired:
                await self._reload()
                return
            self._apply_to_cache(changes, head)

    async def _reload(self) -> None:
        log.warning("store cache at revision %d fell behind the retained changes; reloading", self.cache.revision)
        assert self._shared is not None, "only replicas reload"
        objects, revision = await self._shared.load()
        oldest, history = await self._shared.history(revision)
        self.cache.reload(objects, revision, [c.event for c in history if c.event], oldest)
        self._payloads.clear()
        if self.on_data_key_change:
            self.on_data_key_change(None)

    def _apply_to_cache(self, changes: list[Change], head: int) -> None:
        """Apply committed changes newer than the cache (each arrives by one path or more)."""
        fresh = [c for c in changes if c.revision > self.cache.revision]
        self.cache.apply([(c.event, c.stored) for c in fresh if c.event is not None])
        for change in fresh:
            if change.event is not None:
                self._payloads.forget(change.event.namespace, change.event.name)
        for change in fresh:
            if change.data_key_namespace is not None and self.on_data_key_change:
                self.on_data_key_change(change.data_key_namespace)
        self.cache.advance(head)

    async def _follow_loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._poke.wait(), POLL_SECONDS)
            self._poke.clear()
            try:
                await self.sync()
            except StoreUnavailable:
                pass  # the database is away; requests say 503 until it is back
            except Exception:
                log.exception("store follower failed; retrying")

    # -- writes ---------------------------------------------------------------------------

    async def commit(self, transaction: Callable[[Txn], T]) -> T:
        """Run `transaction` in the next batch; resolves once the batch is durable and visible.

        `transaction` must depend on nothing but its `txn`: after a conflict found only by the
        database, the batch's transactions are run again one by one.
        """
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
                started = time.perf_counter()
                await self._run_batch(queued)
                self.metrics.record_commit(len(queued), time.perf_counter() - started)

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Any]:
        if self._shared is not None:
            async with self._shared.write_session(self.cache.revision) as session:
                yield session
        else:
            assert not isinstance(self.backend, SharedBackend)
            yield _LocalSession(self.backend, self.cache.revision)

    async def _run_batch(self, queued: list[Queued]) -> None:
        done: list[tuple[Queued, Any]] = []
        try:
            async with self._session() as session:
                if session.changes is None:
                    await self._reload()
                else:
                    self._apply_to_cache(session.changes, session.head)
                writes, revision = self._run_transactions(queued, done)
                if writes:
                    revision = await session.persist(writes, revision)
        except _CONFLICTS as exc:
            if len(done) > 1:
                # One transaction conflicted in the database: run each alone, so that each
                # gets its own outcome instead of failing with its neighbour.
                log.info(
                    "batch conflict in the database (%s); retrying its %d transactions one by one",
                    type(exc).__name__,
                    len(done),
                )
                for item, _ in done:
                    await self._run_batch([item])
            else:
                _fail(done, exc)
            return
        except Exception as exc:
            if isinstance(exc, StorageFull) and not self._storage_full:
                self._storage_full = True
                log.error("the database's disk is full: writes are refused (507) until space returns; reads go on")
            elif not isinstance(exc, StoreError):
                log.error("commit of a batch failed: %s", type(exc).__name__)
            _fail(done, exc)
            for _, future in queued:  # the session could not even start
                if not future.done():
                    future.set_exception(exc)
            return
        if writes:
            if self._storage_full:
                self._storage_full = False
                log.warning("the database accepts writes again: space returned")
            self._apply_to_cache(_changes(writes), revision)
            self._remember_payloads(writes)
        for (_, future), result in done:
            if not future.done():
                future.set_result(result)

    def _remember_payloads(self, writes: list[Write]) -> None:
        """A value just written is the one most likely to be decrypted next (a service starting)."""
        for write in writes:
            if not isinstance(write, PayloadWrite):
                continue
            if write.op == "put":
                self._payloads.remember(write.namespace, write.name, write.version, (write.data_key_id, write.blob))
            else:  # destroyed, or re-sealed if it still existed: the database knows which
                self._payloads.forget(write.namespace, write.name)

    def _run_transactions(self, queued: list[Queued], done: list[tuple[Queued, Any]]) -> tuple[list[Write], int]:
        """Run each transaction against the cache and the batch so far; returns the writes and last revision."""
        pending: dict = {}
        pending_index: dict = {}
        next_revision = self.cache.revision + 1
        writes: list[Write] = []
        for item in queued:
            transaction, future = item
            if future.cancelled():
                continue
            txn = Txn(self.cache, pending, pending_index)
            try:
                result = transaction(txn)
            except Exception as exc:  # the transaction's own refusal: only it fails
                future.set_exception(exc)
                continue
            next_revision = txn.finish(next_revision)
            writes.extend(txn.writes)
            done.append((item, result))
        return writes, next_revision - 1


def _fail(done: list[tuple[Queued, Any]], exc: BaseException) -> None:
    for (_, future), _ in done:
        if not future.done():
            future.set_exception(exc)


def _changes(writes: list[Write]) -> list[Change]:
    """The changes a committed batch made, as other replicas will read them back."""
    changes = []
    for write in writes:
        if not isinstance(write, ObjectWrite):
            continue
        assert write.body is not None
        previous = write.previous.body if write.previous else None
        if write.op == "delete":
            event = WatchEvent(
                write.revision, "DELETED", write.resource, write.namespace, write.name, write.body, previous
            )
            changes.append(Change(write.revision, event))
        else:
            stored = write.stored
            assert stored is not None, "a committed create or update has its stored form"
            kind: EventType = "ADDED" if write.op == "create" else "MODIFIED"
            event = WatchEvent(write.revision, kind, write.resource, write.namespace, write.name, write.body, previous)
            changes.append(Change(write.revision, event, stored))
    return changes


__all__ = ["Backend", "Page", "Store", "Txn", "DataKeyWrite", "PayloadWrite"]
