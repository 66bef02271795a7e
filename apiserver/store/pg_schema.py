"""The PostgreSQL schema, as forward-only migrations applied under an advisory lock.

Replicas starting at once all call `migrate`; the advisory lock makes the first one apply what
is missing while the others wait, then find nothing left to do.
"""

from __future__ import annotations

import asyncpg

from .errors import SchemaTooNew

# Forward-only migrations; the index is the schema version they bring the database to.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE objects (
        resource   text   NOT NULL,
        namespace  text   NOT NULL,
        name       text   NOT NULL,
        revision   bigint NOT NULL,
        index_key  text,
        body       bytea  NOT NULL,
        PRIMARY KEY (resource, namespace, name)
    );
    CREATE UNIQUE INDEX objects_by_index_key ON objects (resource, namespace, index_key)
        WHERE index_key IS NOT NULL;
    -- Every committed change, kept for a window of revisions: replicas follow it, and
    -- watches and continue tokens resume from it on any replica.
    CREATE TABLE changes (
        revision   bigint PRIMARY KEY,
        type       text   NOT NULL,  -- ADDED, MODIFIED, DELETED, or DATAKEY (a namespace's new DEK)
        resource   text   NOT NULL,
        namespace  text   NOT NULL,
        name       text   NOT NULL,
        index_key  text,
        body       bytea,
        previous   bytea
    );
    CREATE TABLE payloads (
        namespace   text    NOT NULL,
        name        text    NOT NULL,
        version     bigint  NOT NULL,
        data_key_id text    NOT NULL,
        blob        bytea   NOT NULL,
        PRIMARY KEY (namespace, name, version)
    );
    CREATE TABLE data_keys (
        id        text             PRIMARY KEY,
        namespace text             NOT NULL,
        kek_id    text             NOT NULL,
        wrapped   bytea            NOT NULL,
        created   double precision NOT NULL,
        active    boolean          NOT NULL
    );
    CREATE INDEX data_keys_active ON data_keys (namespace) WHERE active;
    CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);
    -- The store-wide revision: its row lock serializes writers across replicas, so revisions
    -- commit in the order they are numbered.
    CREATE TABLE store_state (
        id             integer PRIMARY KEY CHECK (id = 1),
        revision       bigint  NOT NULL,
        pruned_through bigint  NOT NULL  -- changes at or before this revision were deleted
    );
    INSERT INTO store_state VALUES (1, 0, 0);
    """,
    # Data keys wrapped by a KMS v2 plugin keep what its Encrypt returned besides the ciphertext.
    """
    ALTER TABLE data_keys ADD COLUMN kek_provider text NOT NULL DEFAULT 'file';
    ALTER TABLE data_keys ADD COLUMN kek_annotations text NOT NULL DEFAULT '{}';
    """,
]

_LOCK_KEY = 0x61706973_65727665  # "apiserve": the migrations' advisory lock


async def migrate(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"
        )
        current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        if current > len(MIGRATIONS):
            raise SchemaTooNew(current, len(MIGRATIONS))
        for version in range(current + 1, len(MIGRATIONS) + 1):
            async with conn.transaction():
                await conn.execute(MIGRATIONS[version - 1])
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
