"""The storage ceiling: a raw SQLite loop, one durable commit per value, nothing else.

Same schema (the server's own migration), same settings (WAL, synchronous=FULL, secure_delete)
and the same rows a create writes: the object row, the payload row and the revision counter.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from apiserver.store.sqlite import MIGRATIONS

from .stats import Result, percentile


def run(path: Path, body: bytes, blob_size: int, *, seconds: float, max_rows: int = 1_000_000) -> Result:
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)  # always a fresh file
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON"):
            db.execute(f"PRAGMA {pragma}")
        db.executescript(MIGRATIONS[0])
        blob = os.urandom(blob_size)
        latencies: list[float] = []
        started = time.perf_counter()
        deadline = started + seconds
        revision = 0
        while revision < max_rows and time.perf_counter() < deadline:
            revision += 1
            name = f"raw-{revision:07d}"
            t0 = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?)",
                ("securevalues", "bench-raw", name, revision, name, body),
            )
            db.execute("INSERT INTO payloads VALUES (?, ?, ?, ?, ?)", ("bench-raw", name, 1, "dek-raw", blob))
            db.execute("UPDATE settings SET value = ? WHERE key = 'revision'", (str(revision),))
            db.execute("COMMIT")
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
    finally:
        db.close()
    latencies.sort()
    return Result(
        requests=revision,
        seconds=elapsed,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
    )
