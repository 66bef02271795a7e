"""Several stores on one PostgreSQL database, as several replicas: they agree on one truth.

Each test opens two real stores (each with its pool, listener and follower) on a fresh database.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from backends import BackendCase
from pg import start_postgres
from test_store_contract import SV, create, update

from apiserver.crypto.envelope import Ciphertext, Envelope
from apiserver.crypto.kek import KekRing, new_kek
from apiserver.store.data_keys import StoreDataKeys
from apiserver.store.errors import ObjectExists, RevisionMismatch, StoreUnavailable


@pytest.fixture
async def replicas(postgres):
    case = BackendCase("postgres", url=postgres.fresh_url("replicas"))
    a, b = await case.open(), await case.open()
    yield case, a, b
    await case.close_all()


async def eventually(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_a_write_on_one_is_read_at_once_after_sync_on_the_other(replicas):
    _, a, b = replicas
    written = await create(a, "x", description="from a")
    await b.sync()  # what a consistent read does first
    assert b.get(SV, "ns1", "x").revision == written.revision
    assert b.revision >= written.revision


async def test_a_write_on_one_reaches_watchers_on_the_other(replicas):
    _, a, b = replicas
    watcher, _ = b.watch(SV, "ns1", None)
    first = await create(a, "x")
    await update(a, "x", first.revision, description="again")
    events = []
    deadline = time.monotonic() + 5
    while len(events) < 2 and time.monotonic() < deadline:
        events += await watcher.next_batch(timeout=0.5)  # delivered by NOTIFY, no sync needed
    assert [(e.type, e.name) for e in events] == [("ADDED", "x"), ("MODIFIED", "x")]
    assert events[1].previous["spec"] == {}
    watcher.close()


async def test_revisions_interleave_strictly_increasing(replicas):
    _, a, b = replicas
    writes = await asyncio.gather(*(create(a if i % 2 else b, f"n{i}") for i in range(20)))
    revisions = sorted(w.revision for w in writes)
    assert len(set(revisions)) == 20
    await a.sync()
    await b.sync()
    assert a.revision == b.revision == revisions[-1]
    assert list(a.cache.iter_at(SV, None, a.revision)) == list(b.cache.iter_at(SV, None, b.revision))


async def test_conflicting_updates_across_replicas_have_one_winner(replicas):
    _, a, b = replicas
    base = await create(a, "x")
    await b.sync()
    for round_ in range(5):
        results = await asyncio.gather(
            update(a, "x", base.revision, description=f"a{round_}"),
            update(b, "x", base.revision, description=f"b{round_}"),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, Exception)]
        assert len(winners) == 1, results
        assert isinstance(next(r for r in results if isinstance(r, Exception)), RevisionMismatch)
        base = winners[0]
        await a.sync()
        await b.sync()
        assert a.get(SV, "ns1", "x").revision == b.get(SV, "ns1", "x").revision == base.revision


async def test_concurrent_creates_across_replicas_have_one_winner(replicas):
    _, a, b = replicas
    for i in range(5):
        results = await asyncio.gather(
            create(a, f"c{i}", index_key=f"k{i}"), create(b, f"c{i}", index_key=f"k{i}"), return_exceptions=True
        )
        assert sum(not isinstance(r, Exception) for r in results) == 1, results
        assert any(isinstance(r, ObjectExists) for r in results), results


async def test_snapshots_agree_across_replicas(replicas):
    _, a, b = replicas
    for name in ("p", "q", "r"):
        await create(a, name)
    snapshot = a.revision
    await update(a, "q", None, description="later")
    await b.sync()
    assert list(b.cache.iter_at(SV, "ns1", snapshot)) == list(a.cache.iter_at(SV, "ns1", snapshot))


async def test_a_replica_started_later_can_resume_older_revisions(replicas):
    case, a, _ = replicas
    start = a.revision
    await create(a, "early")
    late = await case.open()
    _, replay = late.watch(SV, "ns1", start)
    assert [(e.type, e.name) for e in replay] == [("ADDED", "early")]


async def test_missed_notifications_are_caught_up(replicas, postgres):
    case, a, b = replicas
    conn = await asyncpg.connect(case.url)
    try:  # drop every listening connection: the notifications of the next write are lost
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
        )
    finally:
        await conn.close()
    written = await create(a, "during")
    await eventually(lambda: b.get(SV, "ns1", "during") is not None)
    assert b.get(SV, "ns1", "during").revision == written.revision


async def test_values_and_key_rotation_are_shared(replicas):
    _, a, b = replicas
    keks = KekRing([new_kek()])
    envelope_a, envelope_b = Envelope(keks, StoreDataKeys(a)), Envelope(keks, StoreDataKeys(b))
    b.on_data_key_change = envelope_b.forget_active
    sealed = await envelope_a.encrypt("ns1", "v", 1, b"shared plaintext")
    await a.commit(lambda txn: txn.put_payload("ns1", "v", 1, sealed.data_key_id, sealed.blob))
    row = await b.read_payload("ns1", "v", 1)
    assert await envelope_b.decrypt("ns1", "v", 1, Ciphertext(*row)) == b"shared plaintext"
    before = (await envelope_b.encrypt("ns1", "w", 1, b"x")).data_key_id
    assert before == sealed.data_key_id  # B now caches the namespace's active key
    rotated = await envelope_a.rotate("ns1")
    await b.sync()
    assert (await envelope_b.encrypt("ns1", "w", 2, b"y")).data_key_id == rotated


async def test_database_outage_is_unavailable_then_recovers():
    server = start_postgres()  # its own server: this test stops it
    try:
        case = BackendCase("postgres", url=server.fresh_url("outage"))
        store = await case.open()
        await create(store, "before")
        server.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.sync()
        with pytest.raises(StoreUnavailable):
            await create(store, "during")
        with pytest.raises(StoreUnavailable):
            await store.read_payload("ns1", "before", 1)
        assert time.monotonic() - started < 10  # refused quickly, never hanging
        assert store.get(SV, "ns1", "before") is not None  # the cache still answers rv=0 reads
        server.start()
        deadline = time.monotonic() + 15
        while True:
            try:
                await create(store, "after")
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
        await store.sync()
        assert store.get(SV, "ns1", "after") is not None
        await case.close_all()
    finally:
        server.destroy()


async def test_a_replica_left_behind_the_retained_changes_reloads(postgres):
    case = BackendCase("postgres", url=postgres.fresh_url("behind"))
    try:
        a = await case.open(event_window=3)
        b = await case.open(event_window=3)
        await create(a, "old")
        await b.sync()
        watcher, _ = b.watch(SV, "ns1", None)
        # Cut B off, as a network partition would: no notifications, no polling.
        for task in b._tasks[:1] + [b.backend._listener]:
            task.cancel()
        await asyncio.sleep(0.1)
        for i in range(12):  # more than twice the window: A prunes the changes B has not read
            await update(a, "old", None, description=str(i))
        await create(a, "new")
        await b.sync()
        assert b.get(SV, "ns1", "new") is not None
        assert b.get(SV, "ns1", "old").body["spec"] == {"description": "11"}
        assert b.revision == a.revision
        assert watcher.closed  # it missed events: its client must re-list
    finally:
        await case.close_all()


async def test_a_value_deleted_and_recreated_on_one_replica_is_not_read_stale_on_the_other(replicas):
    """Replicas cache ciphertexts they read; another replica's delete must make them forget."""
    _, a, b = replicas
    await create(a, "x")
    await a.commit(lambda txn: txn.put_payload("ns1", "x", 1, "dek-1", b"old"))
    await b.sync()
    assert await b.read_payload("ns1", "x", 1) == ("dek-1", b"old")  # cached on b

    def delete_all(txn):
        txn.delete(SV, "ns1", "x", expected_revision=None)
        txn.destroy_payloads("ns1", "x")

    await a.commit(delete_all)
    await create(a, "x")
    await a.commit(lambda txn: txn.put_payload("ns1", "x", 1, "dek-1", b"new"))
    await b.sync()  # what a consistent read does before it is served
    assert await b.read_payload("ns1", "x", 1) == ("dek-1", b"new")
