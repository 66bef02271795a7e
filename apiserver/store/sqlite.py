"""SQLite backend (the embedded default), via aiosqlite.

WAL journal with `synchronous=FULL`, so an acknowledged commit survives power loss. One
connection writes (the store's single writer), another reads payloads and data keys, which WAL
lets run beside a commit. Only ciphertext ever reaches these files.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiosqlite

from .backend import DataKeyRow
from .errors import IndexKeyTaken, ObjectExists, RevisionMismatch, SchemaTooNew, StorageFull, StoreUnavailable
from .model import DataKeyWrite, ObjectWrite, PayloadWrite, StoredObject, Write

# Forward-only migrations; the index is the schema version they bring the database to.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE objects (
        resource   TEXT NOT NULL,
        namespace  TEXT NOT NULL,
        name       TEXT NOT NULL,
        revision   INTEGER NOT NULL,
        index_key  TEXT,
        body       BLOB NOT NULL,
        PRIMARY KEY (resource, namespace, name)
    );
    CREATE UNIQUE INDEX objects_by_index_key ON objects (resource, namespace, index_key)
        WHERE index_key IS NOT NULL;
    CREATE TABLE payloads (
        namespace   TEXT NOT NULL,
        name        TEXT NOT NULL,
        version     INTEGER NOT NULL,
        data_key_id TEXT NOT NULL,
        blob        BLOB NOT NULL,
        PRIMARY KEY (namespace, name, version)
    );
    CREATE TABLE data_keys (
        id        TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        kek_id    TEXT NOT NULL,
        wrapped   BLOB NOT NULL,
        created   REAL NOT NULL,
        active    INTEGER NOT NULL
    );
    CREATE INDEX data_keys_active ON data_keys (namespace, active);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO settings (key, value) VALUES ('revision', '0');
    """,
    # Data keys wrapped by a KMS v2 plugin keep what its Encrypt returned besides the ciphertext.
    """
    ALTER TABLE data_keys ADD COLUMN kek_provider TEXT NOT NULL DEFAULT 'file';
    ALTER TABLE data_keys ADD COLUMN kek_annotations TEXT NOT NULL DEFAULT '{}';
    """,
]

log = logging.getLogger(__name__)

StalePayload = tuple[str, str, int, str, bytes]  # namespace, name, version, data key id, blob
# A payload sealed by a data key that is no longer its namespace's active one (or is missing).
_STALE = "COALESCE(d.active, 0) = 0"
_DATA_KEY_COLUMNS = "id, namespace, kek_id, wrapped, created, active, kek_provider, kek_annotations"


class SqliteBackend:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None

    async def open(self) -> tuple[list[StoredObject], int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await _connect(self.path)
        try:
            await self._migrate(self._writer)
        except BaseException:
            await self.close()  # the connection's thread would otherwise keep a failed process alive
            raise
        self._reader = await _connect(self.path)
        objects = []
        async with self._writer.execute(
            "SELECT resource, namespace, name, revision, index_key, body FROM objects"
        ) as cur:
            async for resource, namespace, name, revision, index_key, body in cur:
                objects.append(StoredObject(resource, namespace, name, revision, body, index_key))  # kept as JSON
        async with self._writer.execute("SELECT value FROM settings WHERE key = 'revision'") as cur:
            (revision,) = await cur.fetchone()  # type: ignore[misc]
        return objects, int(revision)

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied REAL NOT NULL)"
        )
        async with db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
            (current,) = await cur.fetchone()  # type: ignore[misc]
        if current > len(MIGRATIONS):
            raise SchemaTooNew(current, len(MIGRATIONS))
        for version in range(current + 1, len(MIGRATIONS) + 1):
            await db.executescript(
                "BEGIN IMMEDIATE;"
                + MIGRATIONS[version - 1]
                + f";INSERT INTO schema_migrations VALUES ({version}, {time.time()});COMMIT;"
            )

    async def persist(self, writes: list[Write], revision: int) -> None:
        """Write a batch in one transaction, in a single hop to the connection's thread.

        One await per statement cost a thread round-trip each (15-25% of a create's CPU); the
        batch's statements are plain SQLite calls, so they run together on aiosqlite's thread.
        """
        db = self._writer
        assert db is not None
        with self._storage_errors():
            await db._execute(_persist, db._conn, writes, revision)  # aiosqlite's hop to its thread

    @contextlib.contextmanager
    def _storage_errors(self) -> Iterator[None]:
        """SQLite's full disk and I/O errors as the store's errors (507 and 503 at the edge, not 500).

        SQLite rolls the failed statement or transaction back and the connection stays usable, so
        the next write after space returns simply succeeds: nothing needs to be reopened.
        """
        try:
            yield
        except sqlite3.DatabaseError as exc:
            primary = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
            if primary == sqlite3.SQLITE_FULL:
                raise StorageFull("the database's disk is full") from None
            if primary == sqlite3.SQLITE_IOERR:
                log.error("I/O error on the database %s: %s", self.path, exc.sqlite_errorname)
                raise StoreUnavailable("the database could not be read or written") from None
            raise

    async def _read(self, query: str, params: tuple) -> list:
        """One query on the reader connection, executed and fetched in a single call.

        A cursor left open across an await keeps the connection's read transaction, and with it
        its WAL snapshot, open; concurrent readers then keep each other on an old snapshot and miss
        commits the cache already shows. Fetching in the same call ends the statement at once.
        """
        assert self._reader is not None
        with self._storage_errors():
            return list(await self._reader.execute_fetchall(query, params))

    async def read_payload(self, namespace: str, name: str, version: int) -> tuple[str, bytes] | None:
        rows = await self._read(
            "SELECT data_key_id, blob FROM payloads WHERE namespace = ? AND name = ? AND version = ?",
            (namespace, name, version),
        )
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    async def read_data_key(self, key_id: str) -> DataKeyRow | None:
        rows = await self._read(f"SELECT {_DATA_KEY_COLUMNS} FROM data_keys WHERE id = ?", (key_id,))
        return _key_row(rows[0]) if rows else None

    async def read_active_data_key(self, namespace: str) -> DataKeyRow | None:
        rows = await self._read(
            f"SELECT {_DATA_KEY_COLUMNS} FROM data_keys WHERE namespace = ? AND active = 1 "
            "ORDER BY created DESC LIMIT 1",
            (namespace,),
        )
        return _key_row(rows[0]) if rows else None

    async def read_data_keys(self, namespace: str | None) -> list[DataKeyRow]:
        query, params = f"SELECT {_DATA_KEY_COLUMNS} FROM data_keys", tuple[str, ...]()
        if namespace is not None:
            query, params = query + " WHERE namespace = ?", (namespace,)
        return [_key_row(r) for r in await self._read(query + " ORDER BY created", params)]

    async def read_data_key_usage(self) -> dict[str, int]:
        rows = await self._read("SELECT data_key_id, COUNT(*) FROM payloads GROUP BY data_key_id", ())
        return {row[0]: int(row[1]) for row in rows}

    async def read_stale_payloads(
        self, namespace: str | None, after: tuple[str, str, int] | None, limit: int
    ) -> list[StalePayload]:
        where: list[str] = [_STALE]
        params: list[object] = []
        if namespace is not None:
            where.append("p.namespace = ?")
            params.append(namespace)
        if after is not None:
            where.append("(p.namespace, p.name, p.version) > (?, ?, ?)")
            params.extend(after)
        rows = await self._read(
            "SELECT p.namespace, p.name, p.version, p.data_key_id, p.blob FROM payloads p "
            f"LEFT JOIN data_keys d ON d.id = p.data_key_id WHERE {' AND '.join(where)} "
            "ORDER BY p.namespace, p.name, p.version LIMIT ?",
            (*params, limit),
        )
        return [(r[0], r[1], int(r[2]), r[3], bytes(r[4])) for r in rows]

    async def count_stale_payloads(self, namespace: str | None) -> int:
        query = f"SELECT COUNT(*) FROM payloads p LEFT JOIN data_keys d ON d.id = p.data_key_id WHERE {_STALE}"
        params: tuple = ()
        if namespace is not None:
            query, params = query + " AND p.namespace = ?", (namespace,)
        return int((await self._read(query, params))[0][0])

    async def setting(self, key: str, default: Callable[[], str]) -> str:
        """A persistent server setting, created from `default()` the first time it is asked for."""
        db = self._writer
        assert db is not None
        with self._storage_errors():
            async with db.execute("SELECT value FROM settings WHERE key = ?", (key,)) as cur:
                row = await cur.fetchone()
            if row is not None:
                return row[0]
            await db.execute("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)", (key, default()))
            await db.commit()
        return await self.setting(key, default)

    async def close(self) -> None:
        for db in (self._reader, self._writer):
            if db is not None:
                await db.close()
        self._reader = self._writer = None


async def _connect(path: Path) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=FULL")
    await db.execute("PRAGMA busy_timeout=5000")
    # Freed pages are zeroed, so a destroyed ciphertext does not linger in the file.
    await db.execute("PRAGMA secure_delete=ON")
    return db


def _key_row(row) -> DataKeyRow:
    return (row[0], row[1], row[2], bytes(row[3]), float(row[4]), bool(row[5]), row[6], row[7])


def _persist(conn: sqlite3.Connection, writes: list[Write], revision: int) -> None:
    """Runs on the connection's thread: every write of a batch, then the revision, in one transaction."""
    if conn.in_transaction:  # left open by a failed write whose rollback failed as well
        conn.rollback()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for write in writes:
            _execute_write(conn, write)
        conn.execute("UPDATE settings SET value = ? WHERE key = 'revision'", (str(revision),))
        conn.execute("COMMIT")
    except BaseException:
        # A no-op when SQLite already rolled the transaction back itself; a rollback that fails
        # too (the disk is gone) must not hide the error that says why.
        with contextlib.suppress(sqlite3.Error):
            conn.rollback()
        raise
    if any(isinstance(w, DataKeyWrite) and w.op == "destroy" for w in writes):
        # A destroyed data key must not survive in older page versions in the WAL: copy the
        # (zeroed, thanks to secure_delete) pages into the database and empty the WAL. Best effort:
        # a reader holding an old snapshot makes SQLite skip what it still needs, until next time.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _execute_write(conn: sqlite3.Connection, write: Write) -> None:
    if isinstance(write, ObjectWrite):
        _apply_object(conn, write)
    elif isinstance(write, PayloadWrite):
        if write.op == "put":
            conn.execute(
                "INSERT OR REPLACE INTO payloads VALUES (?, ?, ?, ?, ?)",
                (write.namespace, write.name, write.version, write.data_key_id, write.blob),
            )
        elif write.op == "reseal":
            conn.execute(
                "UPDATE payloads SET data_key_id = ?, blob = ? "
                "WHERE namespace = ? AND name = ? AND version = ? AND data_key_id = ?",
                (write.data_key_id, write.blob, write.namespace, write.name, write.version, write.previous_data_key_id),
            )
        else:
            conn.execute("DELETE FROM payloads WHERE namespace = ? AND name = ?", (write.namespace, write.name))
    elif isinstance(write, DataKeyWrite):
        if write.op == "insert":
            conn.execute("UPDATE data_keys SET active = 0 WHERE namespace = ?", (write.namespace,))
            conn.execute(
                f"INSERT INTO data_keys ({_DATA_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                (
                    write.id,
                    write.namespace,
                    write.kek_id,
                    write.wrapped,
                    write.created,
                    write.kek_provider,
                    write.kek_annotations,
                ),
            )
        elif write.op == "rewrap":
            conn.execute(
                "UPDATE data_keys SET kek_id = ?, wrapped = ?, kek_provider = ?, kek_annotations = ? WHERE id = ?",
                (write.kek_id, write.wrapped, write.kek_provider, write.kek_annotations, write.id),
            )
        else:
            conn.execute(
                "DELETE FROM data_keys WHERE id = ? AND active = 0 "
                "AND NOT EXISTS (SELECT 1 FROM payloads WHERE data_key_id = ?)",
                (write.id, write.id),
            )


def _apply_object(conn: sqlite3.Connection, write: ObjectWrite) -> None:
    key = (write.resource, write.namespace, write.name)
    if write.op == "create":
        try:
            conn.execute(
                "INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?)",
                (*key, write.revision, write.index_key, write.encoded()),
            )
        except sqlite3.IntegrityError as exc:
            raise _unique_violation(conn, write, exc) from None
        return
    if write.op == "update":
        try:
            cur = conn.execute(
                "UPDATE objects SET revision = ?, index_key = ?, body = ? "
                "WHERE resource = ? AND namespace = ? AND name = ? AND revision = ?",
                (write.revision, write.index_key, write.encoded(), *key, write.expected_revision),
            )
        except sqlite3.IntegrityError as exc:
            raise _unique_violation(conn, write, exc) from None
    else:
        cur = conn.execute(
            "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ? AND revision = ?",
            (*key, write.expected_revision),
        )
    # The cache already checked this; the database enforces it as well (it must, with replicas).
    if cur.rowcount != 1:
        raise RevisionMismatch(*key)


def _unique_violation(conn: sqlite3.Connection, write: ObjectWrite, exc: sqlite3.IntegrityError) -> Exception:
    """The store error for a duplicate the cache did not see (a name, or an index key held by another)."""
    key = (write.resource, write.namespace, write.name)
    if "index_key" in str(exc) and write.index_key is not None:
        row = conn.execute(
            "SELECT name FROM objects WHERE resource = ? AND namespace = ? AND index_key = ?",
            (write.resource, write.namespace, write.index_key),
        ).fetchone()
        return IndexKeyTaken(*key, write.index_key, row[0] if row else "")
    return ObjectExists(*key)
