"""The store's vocabulary: stored objects, write operations and watch events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Key = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped kinds
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object as kept in the store: its API body (never a secret value) and revision."""

    resource: str
    namespace: str
    name: str
    revision: int
    body: dict[str, Any]
    index_key: str | None = None

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)

    @property
    def uid(self) -> str:
        return self.body.get("metadata", {}).get("uid", "")


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A committed change, with the object before it (for snapshots and selector exits)."""

    revision: int
    type: EventType
    resource: str
    namespace: str
    name: str
    object: dict[str, Any]
    previous: dict[str, Any] | None

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)


@dataclass(slots=True)
class ObjectWrite:
    """Create, replace or delete one object; `expected_revision` is a precondition the backend enforces."""

    op: Literal["create", "update", "delete"]
    resource: str
    namespace: str
    name: str
    body: dict[str, Any] | None = None
    index_key: str | None = None
    expected_revision: int | None = None
    revision: int = 0  # assigned at commit
    previous: StoredObject | None = None


@dataclass(slots=True)
class PayloadWrite:
    """Store an encrypted payload for (namespace, name, version), or destroy all of a name's payloads."""

    op: Literal["put", "destroy"]
    namespace: str
    name: str
    version: int = 0
    data_key_id: str = ""
    blob: bytes = b""


@dataclass(slots=True)
class DataKeyWrite:
    """Insert a wrapped data key as the namespace's active one, or re-wrap an existing key."""

    op: Literal["insert", "rewrap"]
    id: str
    namespace: str = ""
    kek_id: str = ""
    wrapped: bytes = b""
    created: float = 0.0


Write = ObjectWrite | PayloadWrite | DataKeyWrite


@dataclass(slots=True)
class Batch:
    """The writes of one logical transaction, in order."""

    writes: list[Write] = field(default_factory=list)
