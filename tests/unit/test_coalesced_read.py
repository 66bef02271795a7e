"""Batched linearizable reads: every caller gets an answer read after it arrived; a crowd shares queries."""

from __future__ import annotations

import asyncio

import pytest

from apiserver.store.coalesced import CoalescedRead


class Database:
    """A revision counter whose reads take a while, as a round-trip to PostgreSQL does."""

    def __init__(self) -> None:
        self.revision = 0
        self.queries = 0
        self.release = asyncio.Event()

    async def head(self) -> int:
        self.queries += 1
        seen = self.revision  # the value as of the moment the query starts
        await self.release.wait()
        return seen


async def test_a_crowd_costs_at_most_two_queries_and_each_caller_sees_what_was_committed_before_it():
    db = Database()
    reads = CoalescedRead(db.head)
    first = asyncio.create_task(reads.read())
    while db.queries == 0:
        await asyncio.sleep(0)  # until the first query is running, having seen revision 0
    db.revision = 5  # a write acknowledged while that query runs...
    later = [asyncio.create_task(reads.read()) for _ in range(50)]  # ...then 50 readers arrive
    await asyncio.sleep(0)
    assert db.queries == 1
    db.release.set()
    assert await first == 0
    assert await asyncio.gather(*later) == [5] * 50  # not the answer of the query that began before them
    assert db.queries == 2


async def test_alone_it_asks_every_time_and_errors_reach_every_waiter():
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise ConnectionError("database away")

    reads = CoalescedRead(failing)
    tasks = [asyncio.create_task(reads.read()) for _ in range(3)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results) and calls == 2
    with pytest.raises(ConnectionError):
        await reads.read()  # nothing stuck after a failure: a new query runs
    assert calls == 3


async def test_a_cancelled_caller_does_not_cancel_the_query_for_the_others():
    db = Database()
    reads = CoalescedRead(db.head)
    impatient = asyncio.create_task(reads.read())
    patient = asyncio.create_task(reads.read())
    await asyncio.sleep(0)
    impatient.cancel()
    db.release.set()
    assert await patient == 0
