"""A database made before data keys recorded their KEK provider is migrated when a store opens it:
its data keys read as wrapped by a local KEK, without annotations, and KMS wrappings can follow."""

from __future__ import annotations

import contextlib
import sqlite3

import asyncpg

from apiserver.crypto.providers import Wrapping
from apiserver.store import pg_schema, sqlite
from apiserver.store.data_keys import StoreDataKeys


async def _create_first_schema(case) -> None:
    """The schema as the first migration left it, with one data key."""
    row = ("dek-old", "ns1", "kek-a", b"wrapped-old", 100.0)
    if case.kind == "sqlite":
        with contextlib.closing(sqlite3.connect(case.path)) as db, db:
            db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied REAL NOT NULL)")
            db.executescript(sqlite.MIGRATIONS[0])
            db.execute("INSERT INTO schema_migrations VALUES (1, 0)")
            db.execute("INSERT INTO data_keys VALUES (?, ?, ?, ?, ?, 1)", row)
        return
    conn = await asyncpg.connect(case.url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute(pg_schema.MIGRATIONS[0])
        await conn.execute("INSERT INTO schema_migrations (version) VALUES (1)")
        await conn.execute("INSERT INTO data_keys VALUES ($1, $2, $3, $4, $5, true)", *row)
    finally:
        await conn.close()


async def test_existing_data_keys_are_migrated(case):
    await _create_first_schema(case)
    store = await case.open()
    data_keys = StoreDataKeys(store)
    (record,) = await data_keys.data_keys()
    assert (record.id, record.kek_id, record.wrapped, record.active) == ("dek-old", "kek-a", b"wrapped-old", True)
    assert (record.provider, dict(record.annotations)) == ("file", {})

    annotations = {"nonce.kms.example.com": b"\x00\x01\xff", "v.kms.example.com": b"1"}
    await data_keys.update_wrapped("dek-old", Wrapping("kms", "projects/p/keys/k/1", b"kms-wrapped", annotations))
    record = await data_keys.data_key("dek-old")
    assert record is not None
    assert (record.provider, record.kek_id, record.wrapped) == ("kms", "projects/p/keys/k/1", b"kms-wrapped")
    assert dict(record.annotations) == annotations
    await case.close_all()
    reopened = StoreDataKeys(await case.open())  # the schema is current: nothing is applied twice
    assert await reopened.data_key("dek-old") == record
