"""The store's fast paths that the benchmarks called for (bench/README.md): compact cached bodies,
watchers that wait without a Task per wait, and a bulk load that leaves the collector as it was."""

from __future__ import annotations

import asyncio
import gc
import time

import orjson
import pytest

from apiserver.store.cache import ObjectCache
from apiserver.store.model import StoredObject, WatchEvent
from apiserver.store.sqlite import SqliteBackend
from apiserver.store.store import Store

BODY = {
    "metadata": {"name": "a", "namespace": "ns", "uid": "u-1", "labels": {"tier": "gold"}},
    "spec": {"description": "d"},
}


def test_stored_object_keeps_json_and_hands_out_copies():
    stored = StoredObject("securevalues", "ns", "a", 7, BODY, "a")
    assert stored.raw == orjson.dumps(BODY)
    assert stored.body == BODY and stored.uid == "u-1" and stored.key == ("ns", "a")
    given = stored.body
    given["metadata"]["labels"]["tier"] = "changed"  # a caller mutating its copy...
    assert stored.body["metadata"]["labels"]["tier"] == "gold"  # ...cannot alter the cached object
    assert stored.body is not stored.body


def test_stored_object_from_row_bytes_equality_and_immutability():
    from_row = StoredObject("securevalues", "ns", "a", 7, memoryview(orjson.dumps(BODY)), "a")
    assert from_row == StoredObject("securevalues", "ns", "a", 7, BODY, "a")
    assert from_row != StoredObject("securevalues", "ns", "a", 8, BODY, "a")
    with pytest.raises(AttributeError):
        from_row.revision = 9  # type: ignore[misc]
    assert "uid" not in repr(from_row) and "gold" not in repr(from_row)  # no body in logs by accident


def _event(revision: int) -> WatchEvent:
    return WatchEvent(revision, "ADDED", "securevalues", "ns", f"v{revision}", BODY, None)


async def test_watcher_delivers_times_out_and_wakes_on_close():
    cache = ObjectCache()
    watcher, replay = cache.watch("securevalues", "ns", None)
    assert replay == []
    started = time.monotonic()
    assert await watcher.next_batch(timeout=0.05) == []
    assert 0.04 <= time.monotonic() - started < 1.0

    waiting = asyncio.create_task(watcher.next_batch(timeout=10))
    await asyncio.sleep(0)
    watcher.offer(_event(1))
    watcher.offer(WatchEvent(2, "ADDED", "securevalues", "other", "x", BODY, None))  # another namespace
    assert [e.revision for e in await asyncio.wait_for(waiting, 1)] == [1]

    waiting = asyncio.create_task(watcher.next_batch(timeout=10))
    await asyncio.sleep(0)
    watcher.close()
    assert await asyncio.wait_for(waiting, 1) == []
    assert watcher.closed


async def test_cancelled_wait_leaves_the_watcher_usable():
    watcher, _ = ObjectCache().watch("securevalues", None, None)
    waiting = asyncio.create_task(watcher.next_batch(timeout=10))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    watcher.offer(_event(3))
    assert [e.revision for e in await watcher.next_batch(timeout=1)] == [3]


@pytest.mark.parametrize("collector_on", [True, False])
async def test_open_restores_the_collector_and_loads_objects(tmp_path, collector_on):
    path = tmp_path / "db.sqlite"
    store = Store(SqliteBackend(path))
    await store.open()
    await store.commit(lambda txn: txn.create("securevalues", "ns", "a", BODY, "a"))
    await store.close()

    was = gc.isenabled()
    (gc.enable if collector_on else gc.disable)()
    try:
        reopened = Store(SqliteBackend(path))
        await reopened.open()
        assert gc.isenabled() is collector_on
        stored = reopened.get("securevalues", "ns", "a")
        assert stored is not None and stored.body["spec"] == BODY["spec"]
        assert stored.body["metadata"]["resourceVersion"] == str(stored.revision)
        await reopened.close()
    finally:
        (gc.enable if was else gc.disable)()
