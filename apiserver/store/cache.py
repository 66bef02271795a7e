"""The in-memory read side of the store: current objects, a window of recent events, watchers.

Like the Kubernetes watch cache, every read is answered from here, and it is kept current by
applying each committed batch. Objects are kept sorted by (namespace, name) so that a page costs
in proportion to the page, not to the namespace. Past states inside the event window are
reconstructed from each event's `previous` object, which gives consistent list snapshots for
continue tokens without keeping a second copy of the data.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
from collections.abc import Iterable, Iterator
from typing import Any

from sortedcontainers import SortedDict

from .errors import RevisionExpired
from .model import Key, StoredObject, WatchEvent

_MAX_NAME = "\U0010ffff"


class Watcher:
    """One subscriber's queue of events. A watcher that falls too far behind is closed, not waited for."""

    def __init__(self, cache: ObjectCache, resource: str, namespace: str | None, backlog: int) -> None:
        self._cache = cache
        self.resource = resource
        self.namespace = namespace
        self._pending: list[WatchEvent] = []
        self._waiter: asyncio.Future[None] | None = None
        self._backlog = backlog
        self.overflowed = False
        self.closed = False

    def offer(self, event: WatchEvent) -> None:
        if self.closed:
            return
        if self.namespace is not None and event.namespace != self.namespace:
            return
        if len(self._pending) >= self._backlog:
            self.overflowed = True
            self.close()
            return
        self._pending.append(event)
        self._wake()

    async def next_batch(self, timeout: float | None = None) -> list[WatchEvent]:
        """The events since the last call; empty on timeout or when closed."""
        if not self._pending and not self.closed:
            # A bare future and a timer, not wait_for(): that wraps every wait in a new Task, which
            # was a sixth of the CPU time of a fan-out to 1 000 watchers (bench/README.md).
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout, self._wake) if timeout is not None else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        batch, self._pending = self._pending, []
        return batch

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._wake()
            self._cache._watchers.get(self.resource, set()).discard(self)


class ObjectCache:
    """Current state of every resource plus the retained event window."""

    def __init__(self, event_window: int = 50_000, watcher_backlog: int = 10_000) -> None:
        self._objects: dict[str, SortedDict] = {}
        self._index: dict[tuple[str, str, str], str] = {}
        self._events: list[WatchEvent] = []
        self._window = event_window
        self._watcher_backlog = watcher_backlog
        self._watchers: dict[str, set[Watcher]] = {}
        self.revision = 0
        # Revisions at or after this one can be replayed; older ones are compacted away.
        self.oldest_revision = 0

    # -- loading and applying -------------------------------------------------------------

    def load(
        self,
        objects: Iterable[StoredObject],
        revision: int,
        history: Iterable[WatchEvent] = (),
        oldest_revision: int | None = None,
    ) -> None:
        """Start from `objects` at `revision`; `history` (the events after `oldest_revision`, up to
        `revision`) lets watches and continue tokens from before this start resume, as they can on
        another replica of a shared database."""
        for obj in objects:
            self._put(obj)
        self._events = sorted(history, key=lambda e: e.revision)
        self.revision = revision
        self.oldest_revision = revision if oldest_revision is None else oldest_revision

    def reload(
        self,
        objects: Iterable[StoredObject],
        revision: int,
        history: Iterable[WatchEvent] = (),
        oldest_revision: int | None = None,
    ) -> None:
        """Replace everything after falling too far behind a shared database to catch up by events.

        Watchers are closed: they missed events, and their clients re-list, as after an etcd compaction.
        """
        self.close_watchers()
        self._objects.clear()
        self._index.clear()
        self.load(objects, revision, history, oldest_revision)

    def apply(self, events: list[tuple[WatchEvent, StoredObject | None]]) -> None:
        """Apply committed changes in revision order and fan them out to watchers."""
        for event, stored in events:
            if event.type == "DELETED":
                self._drop(event.resource, event.key)
            else:
                assert stored is not None
                self._put(stored)
            self._events.append(event)
            self.revision = max(self.revision, event.revision)
            for watcher in list(self._watchers.get(event.resource, ())):
                watcher.offer(event)
        self._compact()

    def advance(self, revision: int) -> None:
        """Move the revision forward without a change of ours (writes that touched no object)."""
        self.revision = max(self.revision, revision)

    def _put(self, obj: StoredObject) -> None:
        objects = self._objects.get(obj.resource)
        if objects is None:  # not setdefault: it would build a throw-away SortedDict per call
            objects = self._objects[obj.resource] = SortedDict()
        old = objects.get(obj.key)
        if old is not None and old.index_key is not None:
            self._index.pop((obj.resource, obj.namespace, old.index_key), None)
        objects[obj.key] = obj
        if obj.index_key is not None:
            self._index[(obj.resource, obj.namespace, obj.index_key)] = obj.name

    def _drop(self, resource: str, key: Key) -> None:
        old = self._objects.get(resource, {}).pop(key, None)
        if old is not None and old.index_key is not None:
            self._index.pop((resource, old.namespace, old.index_key), None)

    def _compact(self) -> None:
        if len(self._events) > 2 * self._window:
            cut = len(self._events) - self._window
            self.oldest_revision = self._events[cut - 1].revision
            del self._events[:cut]

    # -- reads ----------------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> StoredObject | None:
        return self._objects.get(resource, {}).get((namespace, name))

    def by_index(self, resource: str, namespace: str, index_key: str) -> StoredObject | None:
        name = self._index.get((resource, namespace, index_key))
        return None if name is None else self.get(resource, namespace, name)

    def count(self, resource: str, namespace: str | None = None) -> int:
        objects = self._objects.get(resource)
        if not objects:
            return 0
        if namespace is None:
            return len(objects)
        return sum(1 for _ in objects.irange((namespace, ""), (namespace, _MAX_NAME)))

    def watcher_counts(self) -> dict[str, int]:
        return {resource: len(watchers) for resource, watchers in self._watchers.items()}

    def resources(self) -> list[str]:
        """Every resource that holds at least one object (in any namespace)."""
        return [resource for resource, objects in self._objects.items() if objects]

    def any_in(self, resource: str, namespace: str) -> bool:
        objects = self._objects.get(resource)
        if not objects:
            return False
        return next(iter(objects.irange((namespace, ""), (namespace, _MAX_NAME))), None) is not None

    def iter_current(self, resource: str, namespace: str | None, after: Key | None = None) -> Iterator[StoredObject]:
        objects = self._objects.get(resource)
        if not objects:
            return iter(())
        low, high = _bounds(namespace, after)
        keys = objects.irange(low, high, inclusive=(after is None, True))
        return (objects[k] for k in keys)

    def iter_at(
        self, resource: str, namespace: str | None, revision: int, after: Key | None = None
    ) -> Iterator[tuple[Key, StoredObject | dict[str, Any]]]:
        """Objects as they were at `revision`, in key order, starting after `after`: the stored
        object, or for one changed since, the body it had then (past states are kept decoded)."""
        if revision >= self.revision:
            return ((o.key, o) for o in self.iter_current(resource, namespace, after))
        if revision < self.oldest_revision:
            raise RevisionExpired(revision, self.oldest_revision)
        # The state at `revision` of a key changed since is the `previous` of its first later event.
        past: dict[Key, dict[str, Any] | None] = {}
        for event in self.events_after(revision):
            if event.resource == resource and (namespace is None or event.namespace == namespace):
                past.setdefault(event.key, event.previous)
        low, high = _bounds(namespace, after)
        changed = sorted(k for k in past if (after is None or k > after) and low <= k <= high)
        current_keys = (o.key for o in self.iter_current(resource, namespace, after))
        return self._merge_at(resource, past, heapq.merge(current_keys, changed))

    def _merge_at(
        self, resource: str, past: dict[Key, Any], keys: Iterator[Key]
    ) -> Iterator[tuple[Key, StoredObject | dict[str, Any]]]:
        previous_key = None
        for key in keys:
            if key == previous_key:
                continue
            previous_key = key
            entry = past[key] if key in past else self._objects[resource][key]
            if entry is not None:
                yield key, entry

    def events_after(self, revision: int) -> list[WatchEvent]:
        if revision < self.oldest_revision:
            raise RevisionExpired(revision, self.oldest_revision)
        start = bisect.bisect_right(self._events, revision, key=lambda e: e.revision)
        return self._events[start:]

    # -- watch ----------------------------------------------------------------------------

    def watch(
        self, resource: str, namespace: str | None, after_revision: int | None
    ) -> tuple[Watcher, list[WatchEvent]]:
        """Register a watcher; returns it with the retained events after `after_revision` to replay.

        Registration and the replay snapshot happen without an await in between, so no event
        can fall between them.
        """
        replay: list[WatchEvent] = []
        if after_revision is not None:
            replay = [
                e
                for e in self.events_after(after_revision)
                if e.resource == resource and (namespace is None or e.namespace == namespace)
            ]
        watcher = Watcher(self, resource, namespace, self._watcher_backlog)
        self._watchers.setdefault(resource, set()).add(watcher)
        return watcher, replay

    def close_watchers(self) -> None:
        for watchers in list(self._watchers.values()):
            for watcher in list(watchers):
                watcher.close()


def body_of(entry: StoredObject | dict[str, Any]) -> dict[str, Any]:
    """The decoded body of an entry of `ObjectCache.iter_at`."""
    return entry.body if isinstance(entry, StoredObject) else entry


def _bounds(namespace: str | None, after: Key | None) -> tuple[Key, Key]:
    if namespace is None:
        return (after or ("", "")), (_MAX_NAME, _MAX_NAME)
    return (after or (namespace, "")), (namespace, _MAX_NAME)
