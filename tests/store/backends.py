"""The store's backends under test: each case opens real stores on a real database.

`BackendCase` hides which database it is, so one test body runs against SQLite and PostgreSQL
alike; `tamper_*` write behind the store's back, as another writer the cache does not know of
would, to check that the database itself enforces the store's preconditions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import orjson

from apiserver.store.postgres import PostgresBackend
from apiserver.store.sqlite import SqliteBackend
from apiserver.store.store import Store


class BackendCase:
    def __init__(self, kind: str, *, path: Path | None = None, url: str | None = None) -> None:
        self.kind = kind
        self.path = path
        self.url = url
        self.stores: list[Store] = []

    def backend(self, event_window: int = 50_000):
        if self.kind == "sqlite":
            assert self.path is not None
            return SqliteBackend(self.path)
        assert self.url is not None
        return PostgresBackend(self.url, event_window=event_window, timeout=2.0)

    async def open(self, event_window: int = 50_000) -> Store:
        store = Store(self.backend(event_window), event_window=event_window)
        await store.open()
        self.stores.append(store)
        return store

    async def close_all(self) -> None:
        for store in self.stores:
            await store.close()
        self.stores.clear()

    async def tamper_insert(self, resource: str, namespace: str, name: str, index_key: str | None = None) -> None:
        """Insert an object row that no store's cache knows of."""
        body = orjson.dumps({"metadata": {"name": name, "namespace": namespace, "resourceVersion": "999"}})
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as db:
                db.execute(
                    "INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?)", (resource, namespace, name, 999, index_key, body)
                )
            return
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(
                "INSERT INTO objects VALUES ($1, $2, $3, 999, $4, $5)", resource, namespace, name, index_key, body
            )
        finally:
            await conn.close()

    async def tamper_bump(self, resource: str, namespace: str, name: str) -> None:
        """Change an object's revision in the database only."""
        query = "UPDATE objects SET revision = revision + 1000 WHERE resource = {0} AND namespace = {1} AND name = {2}"
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as db:
                db.execute(query.format("?", "?", "?"), (resource, namespace, name))
            return
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(query.format("$1", "$2", "$3"), resource, namespace, name)
        finally:
            await conn.close()
