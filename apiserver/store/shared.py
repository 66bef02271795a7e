"""What a backend shared by several replicas adds to the store protocol.

With one process (SQLite), the store's writer is the only writer, so its cache is the truth and
it numbers revisions itself. With several replicas on one database, the database is the truth:
each write session locks the database's revision, hands back every change committed since the
replica's cache last looked (so transactions run against the current state), persists the batch
under the numbers that follow, and tells the other replicas. Their caches follow by revision:
a notification says "there is more", a read by revision says what, so a lost notification
delays an update but never loses it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .backend import BackendReads
from .model import StoredObject, WatchEvent, Write


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change at `revision`: an object event, or a namespace's new active data key."""

    revision: int
    event: WatchEvent | None = None
    stored: StoredObject | None = None  # the object after the event (None for a deletion)
    data_key_namespace: str | None = None


class WriteSession(Protocol):
    """One database transaction holding the store-wide revision lock."""

    head: int  # the database's revision when the lock was taken
    changes: list[Change] | None  # committed after the caller's revision; None: too old, reload

    async def persist(self, writes: list[Write], revision: int) -> int:
        """Write the batch (object revisions up to `revision`); returns the database's new revision."""


@runtime_checkable
class SharedBackend(BackendReads, Protocol):
    def write_session(self, known_revision: int) -> AbstractAsyncContextManager[WriteSession]:
        """Lock the revision and read the changes after `known_revision`; commits on a clean exit."""

    async def head_revision(self) -> int:
        """The database's current revision (concurrent consistent reads share one ask: coalesced.py)."""

    async def changes_after(self, revision: int) -> tuple[int, list[Change]]:
        """(current revision, changes after `revision`); RevisionExpired once they are pruned."""

    async def history(self, revision: int) -> tuple[int, list[Change]]:
        """(oldest resumable revision, retained changes up to `revision`) to seed a cache's window."""

    async def load(self) -> tuple[list[StoredObject], int]:
        """Every object and the revision they are current at."""

    def follow(self, poke: Callable[[], None]) -> None:
        """Call `poke()` whenever another replica may have committed (notifications, reconnects)."""
