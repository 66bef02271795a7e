"""The Store API, the same on every backend (parametrised in conftest: SQLite and PostgreSQL).

Writes and their preconditions, index keys, revisions, snapshots for continue tokens, watch
replay and fan-out, payloads, data keys and settings; and the database enforcing conflicts that
the cache cannot see, failing only the transaction concerned.
"""

from __future__ import annotations

import asyncio

import pytest

from apiserver.store.cache import body_of
from apiserver.store.errors import IndexKeyTaken, ObjectExists, RevisionExpired, RevisionMismatch

SV = "securevalues"


def body(name: str, ns: str = "ns1", **spec) -> dict:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


async def create(store, name: str, ns: str = "ns1", index_key: str | None = None, **spec):
    return await store.commit(lambda txn: txn.create(SV, ns, name, body(name, ns, **spec), index_key))


async def update(store, name: str, expected: int | None, ns: str = "ns1", index_key: str | None = None, **spec):
    return await store.commit(
        lambda txn: txn.update(SV, ns, name, body(name, ns, **spec), expected_revision=expected, index_key=index_key)
    )


async def delete(store, name: str, expected: int | None, ns: str = "ns1"):
    return await store.commit(lambda txn: txn.delete(SV, ns, name, expected_revision=expected))


# -- writes and preconditions ---------------------------------------------------------------


async def test_create_then_get_carries_its_revision(store):
    start = store.revision
    write = await create(store, "a", description="one")
    assert write.revision == store.revision > start
    stored = store.get(SV, "ns1", "a")
    assert stored.revision == write.revision
    assert stored.body["metadata"]["resourceVersion"] == str(write.revision)
    assert stored.body["spec"] == {"description": "one"}


async def test_duplicate_create_is_object_exists(store):
    await create(store, "a")
    with pytest.raises(ObjectExists):
        await create(store, "a")
    await create(store, "a", ns="ns2")  # names are per namespace


async def test_update_precondition(store):
    first = await create(store, "a", description="one")
    with pytest.raises(RevisionMismatch):
        await update(store, "a", first.revision - 1, description="stale")
    second = await update(store, "a", first.revision, description="two")
    assert second.revision > first.revision
    third = await update(store, "a", None, description="three")  # unconditional
    assert store.get(SV, "ns1", "a").body["spec"] == {"description": "three"}
    assert third.revision > second.revision
    with pytest.raises(RevisionMismatch):
        await update(store, "missing", None)


async def test_delete_precondition_and_result(store):
    created = await create(store, "a")
    with pytest.raises(RevisionMismatch):
        await delete(store, "a", created.revision + 100)
    deleted = await delete(store, "a", created.revision)
    assert store.get(SV, "ns1", "a") is None
    assert deleted.body["metadata"]["resourceVersion"] == str(deleted.revision)
    with pytest.raises(RevisionMismatch):
        await delete(store, "a", None)
    await create(store, "a")  # the name is free again


# -- index keys ------------------------------------------------------------------------------


async def test_index_keys(store):
    await create(store, "a", index_key="Key A")
    assert store.cache.by_index(SV, "ns1", "Key A").name == "a"
    with pytest.raises(IndexKeyTaken) as taken:
        await create(store, "b", index_key="Key A")
    assert taken.value.holder == "a"
    assert store.get(SV, "ns1", "b") is None
    await create(store, "b", ns="ns2", index_key="Key A")  # per namespace
    moved = await update(store, "a", None, index_key="Key A2")
    assert store.cache.by_index(SV, "ns1", "Key A") is None
    await create(store, "c", index_key="Key A")  # the old key is free
    with pytest.raises(IndexKeyTaken):
        await update(store, "c", None, index_key="Key A2")
    await delete(store, "a", moved.revision)
    await update(store, "c", None, index_key="Key A2")  # freed by the delete
    assert store.cache.by_index(SV, "ns1", "Key A2").name == "c"


async def test_index_key_moves_within_one_batch(store):
    await create(store, "a", index_key="k")
    results = await asyncio.gather(update(store, "a", None, index_key="other"), create(store, "b", index_key="k"))
    assert store.cache.by_index(SV, "ns1", "k").name == "b"
    assert results[1].revision > results[0].revision


# -- revisions -------------------------------------------------------------------------------


async def test_revisions_strictly_increase_across_concurrent_writers(store):
    writes = await asyncio.gather(*(create(store, f"n{i}") for i in range(25)))
    revisions = [w.revision for w in writes]
    assert len(set(revisions)) == 25
    assert revisions == sorted(revisions)  # committed in the order they were handed in
    assert store.revision == max(revisions)


async def test_reopen_keeps_objects_and_revision(case):
    store = await case.open()
    await create(store, "a", index_key="ka")
    last = await update(store, "a", None, description="kept", index_key="ka")
    await store.close()
    case.stores.remove(store)
    again = await case.open()
    assert again.revision == last.revision
    assert again.get(SV, "ns1", "a").body["spec"] == {"description": "kept"}
    assert again.cache.by_index(SV, "ns1", "ka").name == "a"
    later = await create(again, "b")
    assert later.revision > last.revision


async def test_transaction_refusal_fails_only_itself(store):
    def refuse(txn):
        raise ValueError("refused")

    results = await asyncio.gather(create(store, "a"), store.commit(refuse), create(store, "b"), return_exceptions=True)
    assert isinstance(results[1], ValueError)
    assert store.get(SV, "ns1", "a") and store.get(SV, "ns1", "b")


# -- the database enforces what the cache cannot see -----------------------------------------


async def test_database_duplicate_fails_only_its_transaction(case, store):
    await case.tamper_insert(SV, "ns1", "hidden")
    results = await asyncio.gather(
        create(store, "before"), create(store, "hidden"), create(store, "after"), return_exceptions=True
    )
    assert isinstance(results[1], ObjectExists), results
    assert results[1].name == "hidden"
    assert not isinstance(results[0], Exception) and not isinstance(results[2], Exception), results
    assert store.get(SV, "ns1", "before") and store.get(SV, "ns1", "after")
    assert store.get(SV, "ns1", "hidden") is None


async def test_database_revision_check(case, store):
    created = await create(store, "a")
    await case.tamper_bump(SV, "ns1", "a")
    results = await asyncio.gather(
        update(store, "a", created.revision, description="lost"), create(store, "b"), return_exceptions=True
    )
    assert isinstance(results[0], RevisionMismatch), results
    assert not isinstance(results[1], Exception), results
    assert store.get(SV, "ns1", "a").revision == created.revision  # the cache kept the truth it knew


async def test_database_index_key_check(case, store):
    await case.tamper_insert(SV, "ns1", "hidden", index_key="hk")
    with pytest.raises(IndexKeyTaken) as refused:
        await create(store, "visible", index_key="hk")
    assert (refused.value.name, refused.value.holder) == ("visible", "hidden")
    assert store.get(SV, "ns1", "visible") is None


# -- snapshots for continue tokens -----------------------------------------------------------


async def test_iter_at_reconstructs_past_snapshots(store):
    for name in ("a", "b", "c"):
        await create(store, name, description=f"{name}0")
    snapshot = store.revision
    await update(store, "b", None, description="b1")
    await delete(store, "c", None)
    await create(store, "d")
    await create(store, "x", ns="ns2")
    past = list(store.cache.iter_at(SV, "ns1", snapshot))
    assert [(k, body_of(e)["spec"].get("description")) for k, e in past] == [
        (("ns1", "a"), "a0"),
        (("ns1", "b"), "b0"),
        (("ns1", "c"), "c0"),
    ]
    page2 = list(store.cache.iter_at(SV, "ns1", snapshot, after=("ns1", "a")))
    assert [k for k, _ in page2] == [("ns1", "b"), ("ns1", "c")]
    now = list(store.cache.iter_at(SV, None, store.revision))
    # (A store started from a seed database holds other namespaces too: see conftest.)
    assert [k for k, _ in now if k[0] in ("ns1", "ns2")] == [("ns1", "a"), ("ns1", "b"), ("ns1", "d"), ("ns2", "x")]


class HeldSlice:
    """A time slice that gives the loop back after every chunk, and waits there until released."""

    def __init__(self) -> None:
        self.released = asyncio.Event()

    def __call__(self) -> HeldSlice:
        return self

    async def share(self) -> None:
        await self.released.wait()


@pytest.fixture
def held_slice(monkeypatch) -> HeldSlice:
    import apiserver.store.store as store_module

    held = HeldSlice()
    monkeypatch.setattr(store_module, "SCAN_CHUNK", 4)
    monkeypatch.setattr(store_module, "TimeSlice", held)
    return held


async def test_a_list_read_in_slices_is_one_snapshot_while_commits_land_between_them(store, held_slice):
    """A list gives the loop back between chunks; what commits meanwhile must not show in it."""
    names = [f"v{i:02d}" for i in range(30)]
    for name in names:
        await create(store, name, description="before")
    at = store.revision
    listing = asyncio.ensure_future(store.list_page(SV, "ns1"))
    await asyncio.sleep(0)  # the first chunk is read; the list waits between two chunks
    await delete(store, "v29", None)
    await update(store, "v25", None, description="after")
    await create(store, "v99")
    assert not listing.done()
    held_slice.released.set()
    page = await listing
    assert page.revision == at
    assert [(o["metadata"]["name"], o["spec"]["description"]) for o in page.items] == [(n, "before") for n in names]
    assert store.revision > at


async def test_a_list_that_outlives_the_window_of_changes_is_expired(case, held_slice):
    store = await case.open(event_window=3)
    for i in range(10):
        await create(store, f"v{i}")
    listing = asyncio.ensure_future(store.list_page(SV, "ns1"))
    await asyncio.sleep(0)
    for i in range(10):  # more than twice the window: the list's revision is compacted away
        await update(store, "v0", None, description=str(i))
    held_slice.released.set()
    with pytest.raises(RevisionExpired):
        await listing


async def test_old_revisions_expire_beyond_the_window(case):
    store = await case.open(event_window=3)
    first = await create(store, "a")
    for i in range(10):
        await update(store, "a", None, description=str(i))
    with pytest.raises(RevisionExpired):
        list(store.cache.iter_at(SV, "ns1", first.revision))
    with pytest.raises(RevisionExpired):
        store.watch(SV, "ns1", first.revision)
    assert list(store.cache.iter_at(SV, "ns1", store.revision - 1))  # recent ones still work


# -- watch -----------------------------------------------------------------------------------


async def test_watch_fan_out_and_replay(store):
    everywhere, _ = store.watch(SV, None, None)
    in_ns1, _ = store.watch(SV, "ns1", None)
    start = store.revision
    a = await create(store, "a")
    await create(store, "b", ns="ns2")
    await update(store, "a", a.revision, description="changed")
    await delete(store, "a", None)
    seen = await everywhere.next_batch(timeout=2)
    assert [(e.type, e.namespace, e.name) for e in seen] == [
        ("ADDED", "ns1", "a"),
        ("ADDED", "ns2", "b"),
        ("MODIFIED", "ns1", "a"),
        ("DELETED", "ns1", "a"),
    ]
    assert [e.revision for e in seen] == sorted(e.revision for e in seen)
    assert seen[2].previous["spec"] == {} and seen[2].object["spec"] == {"description": "changed"}
    assert [e.name for e in await in_ns1.next_batch(timeout=2)] == ["a", "a", "a"]
    _, replay = store.watch(SV, "ns1", start)
    assert [(e.type, e.revision) for e in replay] == [(e.type, e.revision) for e in seen if e.namespace == "ns1"]
    _, replay_after = store.watch(SV, None, seen[1].revision)
    assert [e.type for e in replay_after] == ["MODIFIED", "DELETED"]
    everywhere.close()
    in_ns1.close()


# -- payloads, data keys, settings -----------------------------------------------------------


async def test_payload_put_read_destroy(store):
    await store.commit(lambda txn: txn.put_payload("ns1", "a", 1, "dek-1", b"\x00cipher-1"))
    await store.commit(lambda txn: txn.put_payload("ns1", "a", 2, "dek-1", b"cipher-2"))
    assert await store.read_payload("ns1", "a", 1) == ("dek-1", b"\x00cipher-1")
    assert await store.read_payload("ns1", "a", 2) == ("dek-1", b"cipher-2")
    assert await store.read_payload("ns1", "a", 3) is None
    await store.commit(lambda txn: txn.destroy_payloads("ns1", "a"))
    assert await store.read_payload("ns1", "a", 1) is None
    assert await store.read_payload("ns1", "a", 2) is None


async def test_payload_and_object_commit_together(store):
    def both(txn):
        txn.create(SV, "ns1", "a", body("a"))
        txn.put_payload("ns1", "a", 1, "dek", b"blob")

    await store.commit(both)
    assert store.get(SV, "ns1", "a") is not None
    assert await store.read_payload("ns1", "a", 1) == ("dek", b"blob")


async def test_data_keys_insert_rotate_rewrap(store):
    backend = store.backend
    await store.commit(lambda txn: txn.insert_data_key("k1", "ns1", "kek-a", b"wrapped-1", 100.0))
    await store.commit(lambda txn: txn.insert_data_key("k2", "ns1", "kek-a", b"wrapped-2", 200.0))
    await store.commit(lambda txn: txn.insert_data_key("k3", "ns2", "kek-a", b"wrapped-3", 150.0))
    assert await backend.read_active_data_key("ns1") == ("k2", "ns1", "kek-a", b"wrapped-2", 200.0, True, "file", "{}")
    assert (await backend.read_data_key("k1"))[5] is False  # rotated out, still readable
    assert [row[0] for row in await backend.read_data_keys("ns1")] == ["k1", "k2"]
    assert [row[0] for row in await backend.read_data_keys(None) if row[0] in ("k1", "k2", "k3")] == ["k1", "k3", "k2"]
    await store.commit(lambda txn: txn.rewrap_data_key("k1", "kek-b", b"rewrapped-1"))
    assert await backend.read_data_key("k1") == ("k1", "ns1", "kek-b", b"rewrapped-1", 100.0, False, "file", "{}")
    # A KMS plugin's wrapping keeps its key id and annotations beside the wrapped key.
    annotations = '{"kms.example.com/v":"AQI="}'
    await store.commit(lambda txn: txn.rewrap_data_key("k1", "key/7", b"kms-1", "kms", annotations))
    assert await backend.read_data_key("k1") == ("k1", "ns1", "key/7", b"kms-1", 100.0, False, "kms", annotations)
    await store.commit(lambda txn: txn.insert_data_key("k4", "ns4", "key/7", b"kms-4", 300.0, "kms", annotations))
    assert await backend.read_active_data_key("ns4") == (
        "k4",
        "ns4",
        "key/7",
        b"kms-4",
        300.0,
        True,
        "kms",
        annotations,
    )
    assert await backend.read_data_key("missing") is None
    assert await backend.read_active_data_key("ns3") is None


async def test_reseal_and_destroy_data_keys(store):
    """Re-encryption's writes: a reseal only replaces a payload still under the expected key, and a
    data key is destroyed only when inactive and sealing nothing (the database checks both)."""
    backend = store.backend
    await store.commit(lambda txn: txn.insert_data_key("old", "ns9", "kek-a", b"w-old", 100.0))
    for name in ("a", "b"):
        await store.commit(lambda txn, name=name: txn.put_payload("ns9", name, 1, "old", b"blob-" + name.encode()))
    await store.commit(lambda txn: txn.insert_data_key("new", "ns9", "kek-a", b"w-new", 200.0))
    stale = await backend.read_stale_payloads("ns9", None, 10)
    assert [(r[1], r[3]) for r in stale] == [("a", "old"), ("b", "old")]
    assert [r[1] for r in await backend.read_stale_payloads("ns9", ("ns9", "a", 1), 10)] == ["b"]
    assert await backend.count_stale_payloads("ns9") == 2
    await store.commit(lambda txn: txn.destroy_data_key("old"))  # still seals two values: kept
    assert await backend.read_data_key("old") is not None
    await store.commit(lambda txn: txn.reseal_payload("ns9", "a", 1, "old", "new", b"resealed-a"))
    await store.commit(lambda txn: txn.destroy_payloads("ns9", "b"))
    await store.commit(lambda txn: txn.reseal_payload("ns9", "b", 1, "old", "new", b"resealed-b"))  # deleted: no-op
    assert await store.read_payload("ns9", "a", 1, fresh=True) == ("new", b"resealed-a")
    assert await store.read_payload("ns9", "b", 1, fresh=True) is None
    assert (await backend.read_data_key_usage()).get("new") == 1
    assert await backend.count_stale_payloads("ns9") == 0
    await store.commit(lambda txn: txn.destroy_data_key("new"))  # active: kept
    await store.commit(lambda txn: txn.destroy_data_key("old"))
    assert await backend.read_data_key("old") is None
    assert await backend.read_data_key("new") is not None


async def test_settings_are_created_once_and_kept(case):
    store = await case.open()
    calls = []

    def default():
        calls.append(1)
        return "first"

    assert await store.backend.setting("secret", default) == "first"
    assert await store.backend.setting("secret", lambda: "second") == "first"
    await store.close()
    case.stores.remove(store)
    again = await case.open()
    assert await again.backend.setting("secret", lambda: "third") == "first"
    assert calls == [1]


async def test_sync_is_safe_on_every_backend(store):
    await create(store, "a")
    await store.sync()
    assert store.get(SV, "ns1", "a") is not None


async def test_payload_reads_never_return_a_deleted_objects_ciphertext(store):
    """Read payloads are cached: a delete and re-create under the same name must not meet the old one."""
    await create(store, "a")
    await store.commit(lambda txn: txn.put_payload("ns1", "a", 1, "dek-1", b"old"))
    assert await store.read_payload("ns1", "a", 1) == ("dek-1", b"old")  # now cached

    def delete_all(txn):
        txn.delete(SV, "ns1", "a", expected_revision=None)
        txn.destroy_payloads("ns1", "a")

    await store.commit(delete_all)
    assert await store.read_payload("ns1", "a", 1) is None
    await create(store, "a")
    await store.commit(lambda txn: txn.put_payload("ns1", "a", 1, "dek-2", b"new"))
    assert await store.read_payload("ns1", "a", 1) == ("dek-2", b"new")
    assert await store.read_payload("ns1", "a", 1, fresh=True) == ("dek-2", b"new")


async def test_a_fresh_payload_read_sees_a_rewrite_of_the_same_version(store):
    await store.commit(lambda txn: txn.put_payload("ns1", "a", 1, "dek-1", b"first"))
    assert await store.read_payload("ns1", "a", 1) == ("dek-1", b"first")
    await store.commit(lambda txn: txn.put_payload("ns1", "a", 1, "dek-2", b"re-encrypted"))
    assert await store.read_payload("ns1", "a", 1) == ("dek-2", b"re-encrypted")
    assert await store.read_payload("ns1", "a", 1, fresh=True) == ("dek-2", b"re-encrypted")
