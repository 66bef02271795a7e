"""PostgreSQL backend: several replicas serving one store, via an asyncpg connection pool.

The database is the truth and the serialization point. A write session locks the single
`store_state` row (so writers on all replicas take turns and revisions commit in the order they
are numbered), reads the changes the replica's cache has not seen, persists the batch with the
revisions that follow, records each change in `changes` and notifies the other replicas. The
database re-checks every precondition (`UPDATE ... WHERE revision = ?`, unique names and index
keys), so a replica with a stale cache can never overwrite a newer write.

Connection failures and I/O errors become `StoreUnavailable` (503 at the HTTP edge), a full disk
(SQLSTATE 53100) `StorageFull` (507); statements time out rather than hang; the pool and the
listener reconnect by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import orjson

from ..ops.tasks import stop_task
from .backend import DataKeyRow
from .errors import IndexKeyTaken, ObjectExists, RevisionExpired, RevisionMismatch, StorageFull, StoreUnavailable
from .model import ObjectWrite, PayloadWrite, StoredObject, WatchEvent, Write
from .pg_schema import migrate
from .shared import Change

log = logging.getLogger(__name__)

CHANNEL = "apiserver_changes"
_DATA_KEY_COLUMNS = "id, namespace, kek_id, wrapped, created, active, kek_provider, kek_annotations"
StalePayload = tuple[str, str, int, str, bytes]  # namespace, name, version, data key id, blob
# A payload sealed by a data key that is no longer its namespace's active one (or is missing).
_STALE = "NOT COALESCE(d.active, false)"
_CHANGE_COLUMNS = "revision, type, resource, namespace, name, index_key, body, previous"
# What a lost, refused or stalled database looks like through asyncpg.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError is one too
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed", "pool is closing", connection lost mid-query
    asyncpg.exceptions.OperatorInterventionError,  # admin/crash shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, out of memory
    asyncpg.exceptions.PostgresSystemError,  # class 58: the server's I/O failed (58030), a file is missing
)


class PostgresBackend:
    def __init__(self, url: str, *, event_window: int = 50_000, pool_size: int = 10, timeout: float = 5.0) -> None:
        self._url = url
        self._window = event_window
        self._pool_size = pool_size
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncio.Task | None = None

    def __repr__(self) -> str:  # the URL may carry a password
        return "PostgresBackend()"

    # -- lifecycle ------------------------------------------------------------------------

    async def open(self) -> tuple[list[StoredObject], int]:
        try:
            # No connection floor: asyncpg would log a traceback per failed refill while the database is away.
            self._pool = await asyncpg.create_pool(
                self._url,
                min_size=0,
                max_size=self._pool_size,
                timeout=self._timeout,
                command_timeout=self._timeout * 2,
            )
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot connect to the database: {type(exc).__name__}") from None
        async with self._connection() as conn:
            await migrate(conn)
        return await self.load()

    async def close(self) -> None:
        if self._listener is not None:
            await stop_task(self._listener)
            self._listener = None
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), self._timeout)
            except (TimeoutError, *UNAVAILABLE):  # type: ignore[misc]  # a tuple of exception types
                self._pool.terminate()
            self._pool = None

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise StoreUnavailable("the database connection is closed")
        try:
            async with self._pool.acquire(timeout=self._timeout) as conn:
                yield conn
        except asyncpg.exceptions.DiskFullError:  # the transaction was rolled back: nothing was stored
            raise StorageFull("the database's disk is full") from None
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"database unavailable: {type(exc).__name__}") from None

    # -- reading the object space ---------------------------------------------------------

    async def load(self) -> tuple[list[StoredObject], int]:
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            revision = await conn.fetchval("SELECT revision FROM store_state WHERE id = 1")
            rows = await conn.fetch("SELECT resource, namespace, name, revision, index_key, body FROM objects")
        objects = [
            StoredObject(r["resource"], r["namespace"], r["name"], r["revision"], r["body"], r["index_key"])
            for r in rows
        ]  # the body stays JSON bytes, as the cache keeps it
        return objects, revision

    async def history(self, revision: int) -> tuple[int, list[Change]]:
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            pruned = await conn.fetchval("SELECT pruned_through FROM store_state WHERE id = 1")
            rows = await conn.fetch(
                f"SELECT {_CHANGE_COLUMNS} FROM changes WHERE revision > $1 AND revision <= $2 ORDER BY revision",
                pruned,
                revision,
            )
        return pruned, [_change(row) for row in rows]

    async def head_revision(self) -> int:
        async with self._connection() as conn:
            return await conn.fetchval("SELECT revision FROM store_state WHERE id = 1")

    async def changes_after(self, revision: int) -> tuple[int, list[Change]]:
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            head, pruned = await conn.fetchrow("SELECT revision, pruned_through FROM store_state WHERE id = 1")
            if revision < pruned:
                raise RevisionExpired(revision, pruned)
            changes = await _changes_after(conn, revision)
        return head, changes

    # -- writing --------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def write_session(self, known_revision: int) -> AsyncIterator[_Session]:
        async with self._connection() as conn:
            async with conn.transaction():
                # The row lock is the replicas' write turn; it is held until commit.
                head, pruned = await conn.fetchrow(
                    "SELECT revision, pruned_through FROM store_state WHERE id = 1 FOR UPDATE"
                )
                changes = None if known_revision < pruned else await _changes_after(conn, known_revision)
                yield _Session(conn, head, pruned, changes, self._window)

    # -- payloads, data keys, settings ----------------------------------------------------

    async def read_payload(self, namespace: str, name: str, version: int) -> tuple[str, bytes] | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                "SELECT data_key_id, blob FROM payloads WHERE namespace = $1 AND name = $2 AND version = $3",
                namespace,
                name,
                version,
            )
        return None if row is None else (row[0], bytes(row[1]))

    async def read_data_key(self, key_id: str) -> DataKeyRow | None:
        rows = await self._data_keys(f"SELECT {_DATA_KEY_COLUMNS} FROM data_keys WHERE id = $1", key_id)
        return rows[0] if rows else None

    async def read_active_data_key(self, namespace: str) -> DataKeyRow | None:
        rows = await self._data_keys(
            f"SELECT {_DATA_KEY_COLUMNS} FROM data_keys WHERE namespace = $1 AND active ORDER BY created DESC LIMIT 1",
            namespace,
        )
        return rows[0] if rows else None

    async def read_data_keys(self, namespace: str | None) -> list[DataKeyRow]:
        if namespace is None:
            return await self._data_keys(f"SELECT {_DATA_KEY_COLUMNS} FROM data_keys ORDER BY created")
        return await self._data_keys(
            f"SELECT {_DATA_KEY_COLUMNS} FROM data_keys WHERE namespace = $1 ORDER BY created", namespace
        )

    async def _data_keys(self, query: str, *args: Any) -> list[DataKeyRow]:
        async with self._connection() as conn:
            rows = await conn.fetch(query, *args)
        return [(r[0], r[1], r[2], bytes(r[3]), float(r[4]), bool(r[5]), r[6], r[7]) for r in rows]

    async def read_data_key_usage(self) -> dict[str, int]:
        async with self._connection() as conn:
            rows = await conn.fetch("SELECT data_key_id, COUNT(*) FROM payloads GROUP BY data_key_id")
        return {row[0]: int(row[1]) for row in rows}

    async def read_stale_payloads(
        self, namespace: str | None, after: tuple[str, str, int] | None, limit: int
    ) -> list[StalePayload]:
        where: list[str] = [_STALE]
        params: list[object] = []
        if namespace is not None:
            params.append(namespace)
            where.append(f"p.namespace = ${len(params)}")
        if after is not None:
            params.extend(after)
            n = len(params)
            where.append(f"(p.namespace, p.name, p.version) > (${n - 2}, ${n - 1}, ${n})")
        params.append(limit)
        async with self._connection() as conn:
            rows = await conn.fetch(
                "SELECT p.namespace, p.name, p.version, p.data_key_id, p.blob FROM payloads p "
                f"LEFT JOIN data_keys d ON d.id = p.data_key_id WHERE {' AND '.join(where)} "
                f"ORDER BY p.namespace, p.name, p.version LIMIT ${len(params)}",
                *params,
            )
        return [(r[0], r[1], int(r[2]), r[3], bytes(r[4])) for r in rows]

    async def count_stale_payloads(self, namespace: str | None) -> int:
        query = f"SELECT COUNT(*) FROM payloads p LEFT JOIN data_keys d ON d.id = p.data_key_id WHERE {_STALE}"
        async with self._connection() as conn:
            if namespace is None:
                return int(await conn.fetchval(query))
            return int(await conn.fetchval(query + " AND p.namespace = $1", namespace))

    async def setting(self, key: str, default: Callable[[], str]) -> str:
        """A persistent setting shared by all replicas; the first to ask creates it."""
        async with self._connection() as conn:
            value = await conn.fetchval("SELECT value FROM settings WHERE key = $1", key)
            if value is None:
                await conn.execute(
                    "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", key, default()
                )
                value = await conn.fetchval("SELECT value FROM settings WHERE key = $1", key)
        return value

    # -- following the other replicas -----------------------------------------------------

    def follow(self, poke: Callable[[], None]) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(poke), name="store-listener")

    async def _listen(self, poke: Callable[[], None]) -> None:
        """LISTEN for commits, reconnecting for as long as it takes; poke after each (re)subscription."""
        backoff = 0.2
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._url, timeout=self._timeout)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, lambda *_args: poke())
                poke()  # whatever was committed while nobody listened
                backoff = 0.2
                while not lost.is_set():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(lost.wait(), 5.0)
                    if not lost.is_set():  # a silently dead socket shows only when used
                        await conn.execute("SELECT 1", timeout=self._timeout)
            except UNAVAILABLE as exc:
                log.debug("change listener disconnected: %s", type(exc).__name__)
            except Exception:
                log.exception("change listener failed")
            finally:
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


class _Session:
    """One write transaction holding the revision lock (see `shared.WriteSession`)."""

    def __init__(
        self, conn: asyncpg.Connection, head: int, pruned: int, changes: list[Change] | None, window: int
    ) -> None:
        self._conn = conn
        self.head = head
        self._pruned = pruned
        self.changes = changes
        self._window = window

    async def persist(self, writes: list[Write], revision: int) -> int:
        conn = self._conn
        rows: list[tuple] = []
        final = revision
        for write in writes:
            if isinstance(write, ObjectWrite):
                await _write_object(conn, write)
                previous = write.previous.raw if write.previous else None
                kind = {"create": "ADDED", "update": "MODIFIED", "delete": "DELETED"}[write.op]
                rows.append(
                    (
                        write.revision,
                        kind,
                        write.resource,
                        write.namespace,
                        write.name,
                        write.index_key,
                        write.encoded(),
                        previous,
                    )
                )
            elif isinstance(write, PayloadWrite):
                await _write_payload(conn, write)
            elif write.op == "insert":
                await conn.execute(
                    "UPDATE data_keys SET active = false WHERE namespace = $1 AND active", write.namespace
                )
                await conn.execute(
                    f"INSERT INTO data_keys ({_DATA_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, true, $6, $7)",
                    write.id,
                    write.namespace,
                    write.kek_id,
                    write.wrapped,
                    write.created,
                    write.kek_provider,
                    write.kek_annotations,
                )
                # A revision of its own tells the other replicas to forget their active key.
                final += 1
                rows.append((final, "DATAKEY", "", write.namespace, write.id, None, None, None))
            elif write.op == "rewrap":
                await conn.execute(
                    "UPDATE data_keys SET kek_id = $2, wrapped = $3, kek_provider = $4, kek_annotations = $5 "
                    "WHERE id = $1",
                    write.id,
                    write.kek_id,
                    write.wrapped,
                    write.kek_provider,
                    write.kek_annotations,
                )
            else:
                await conn.execute(
                    "DELETE FROM data_keys WHERE id = $1 AND NOT active "
                    "AND NOT EXISTS (SELECT 1 FROM payloads WHERE data_key_id = $1)",
                    write.id,
                )
        if rows:
            await conn.executemany(
                f"INSERT INTO changes ({_CHANGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", rows
            )
        if final > self.head:
            await self._advance(final)
        return final

    async def _advance(self, final: int) -> None:
        pruned = self._pruned
        if final - pruned > 2 * self._window:
            pruned = final - self._window
            await self._conn.execute("DELETE FROM changes WHERE revision <= $1", pruned)
        await self._conn.execute(
            "UPDATE store_state SET revision = $1, pruned_through = $2 WHERE id = 1", final, pruned
        )
        # Delivered at commit, to every replica's listener (this one's too, harmlessly).
        await self._conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(final))


async def _write_object(conn: asyncpg.Connection, write: ObjectWrite) -> None:
    key = (write.resource, write.namespace, write.name)
    if write.op == "create":
        status = await conn.execute(
            "INSERT INTO objects VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            *key,
            write.revision,
            write.index_key,
            write.encoded(),
        )
        if status.endswith(" 1"):
            return
        if await conn.fetchval("SELECT 1 FROM objects WHERE resource = $1 AND namespace = $2 AND name = $3", *key):
            raise ObjectExists(*key)
        await _check_index_key(conn, write)
        raise ObjectExists(*key)  # unreachable unless a constraint we do not know of fired
    if write.op == "update":
        if write.index_key is not None and (write.previous is None or write.previous.index_key != write.index_key):
            await _check_index_key(conn, write)
        status = await conn.execute(
            "UPDATE objects SET revision = $5, index_key = $6, body = $7 "
            "WHERE resource = $1 AND namespace = $2 AND name = $3 AND revision = $4",
            *key,
            write.expected_revision,
            write.revision,
            write.index_key,
            write.encoded(),
        )
    else:
        status = await conn.execute(
            "DELETE FROM objects WHERE resource = $1 AND namespace = $2 AND name = $3 AND revision = $4",
            *key,
            write.expected_revision,
        )
    if not status.endswith(" 1"):
        raise RevisionMismatch(*key)


async def _check_index_key(conn: asyncpg.Connection, write: ObjectWrite) -> None:
    """Raise IndexKeyTaken when another object holds the write's index key (race-free: we hold the lock)."""
    holder = await conn.fetchval(
        "SELECT name FROM objects WHERE resource = $1 AND namespace = $2 AND index_key = $3 AND name <> $4",
        write.resource,
        write.namespace,
        write.index_key,
        write.name,
    )
    if holder is not None:
        raise IndexKeyTaken(write.resource, write.namespace, write.name, write.index_key or "", holder)


async def _write_payload(conn: asyncpg.Connection, write: PayloadWrite) -> None:
    if write.op == "put":
        await conn.execute(
            "INSERT INTO payloads VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace, name, version) "
            "DO UPDATE SET data_key_id = EXCLUDED.data_key_id, blob = EXCLUDED.blob",
            write.namespace,
            write.name,
            write.version,
            write.data_key_id,
            write.blob,
        )
    elif write.op == "reseal":
        await conn.execute(
            "UPDATE payloads SET data_key_id = $4, blob = $5 "
            "WHERE namespace = $1 AND name = $2 AND version = $3 AND data_key_id = $6",
            write.namespace,
            write.name,
            write.version,
            write.data_key_id,
            write.blob,
            write.previous_data_key_id,
        )
    else:
        await conn.execute("DELETE FROM payloads WHERE namespace = $1 AND name = $2", write.namespace, write.name)


async def _changes_after(conn: asyncpg.Connection, revision: int) -> list[Change]:
    rows = await conn.fetch(f"SELECT {_CHANGE_COLUMNS} FROM changes WHERE revision > $1 ORDER BY revision", revision)
    return [_change(row) for row in rows]


def _change(row: asyncpg.Record) -> Change:
    revision, kind = row["revision"], row["type"]
    if kind == "DATAKEY":
        return Change(revision, data_key_namespace=row["namespace"])
    body = orjson.loads(row["body"])
    previous = orjson.loads(row["previous"]) if row["previous"] is not None else None
    event = WatchEvent(revision, kind, row["resource"], row["namespace"], row["name"], body, previous)
    stored = (
        None
        if kind == "DELETED"
        else StoredObject(row["resource"], row["namespace"], row["name"], revision, row["body"], row["index_key"])
    )
    return Change(revision, event, stored)
