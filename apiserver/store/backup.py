"""Backup and restore of the SQLite store, with SQLite's online backup API.

A backup is a copy of the database file made page by page inside one read transaction, so it is
a consistent snapshot even while the server writes (WAL lets writers go on meanwhile). It holds
what the database holds: objects, token hashes, ciphertexts and wrapped data keys; never the KEK
(kept outside the database) nor the admin token file. Restoring needs the KEKs the data keys are
wrapped by; `kek_ids` names them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from pathlib import Path

from .errors import StoreError

DATABASE_NAME = "apiserver.db"


class BackupError(StoreError):
    """A backup or restore that cannot be done (messages name files, never contents)."""


def backup(database: Path, output: Path) -> list[str]:
    """Snapshot `database` into `output` (0600, written under a temporary name, then renamed)."""
    if not database.is_file():
        raise BackupError(f"no database at {database}")
    output = output.resolve()
    temp = output.with_name(f".{output.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        # Read-only URI: the backup must never write to (or create) the server's database.
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as source:
            source.execute("PRAGMA busy_timeout = 30000")
            with contextlib.closing(sqlite3.connect(temp)) as target:
                source.backup(target)  # every page in one step: one snapshot
                target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no WAL beside it
                ids = _check(target, output)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, output)
    except sqlite3.Error as exc:
        temp.unlink(missing_ok=True)
        raise BackupError(f"backup of {database} failed: {exc.sqlite_errorname}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return ids


def restore(backup_file: Path, data_dir: Path) -> list[str]:
    """Restore a backup into `data_dir`, which must be empty or absent; returns the KEK ids it needs."""
    if not backup_file.is_file():
        raise BackupError(f"no backup at {backup_file}")
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError(f"{data_dir} is not an empty directory: restore into a new one")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as source:
            ids = _check(source, backup_file)
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            target_path = data_dir / DATABASE_NAME
            fd = os.open(target_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            with contextlib.closing(sqlite3.connect(target_path)) as target:
                source.backup(target)
                target.execute("PRAGMA journal_mode = WAL")  # as the server runs it
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup_file} is not an apiserver backup ({exc.sqlite_errorname})") from None
    return ids


def _check(db: sqlite3.Connection, path: Path) -> list[str]:
    """Integrity and shape of a copy; the ids of the KEKs its data keys are wrapped by."""
    (result,) = db.execute("PRAGMA integrity_check").fetchone()
    if result != "ok":
        raise BackupError(f"{path} is damaged (integrity check: {result})")
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"objects", "payloads", "data_keys", "schema_migrations"} <= tables:
        raise BackupError(f"{path} is not an apiserver database")
    return sorted(row[0] for row in db.execute("SELECT DISTINCT kek_id FROM data_keys"))
