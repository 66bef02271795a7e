"""The store's vocabulary: stored objects, write operations and watch events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

Key = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped kinds
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


class StoredObject:
    """One object as kept in the store: its API body (never a secret value) and revision.

    The body is kept as compact JSON bytes and decoded on each access of `body`: a decoded
    SecureValue costs ~3.7 KB of Python dicts and strings, its JSON ~0.7 KB, and the read cache
    holds every object (100 000 values: ~500 MB against ~170 MB; bench/README.md). Decoding takes
    microseconds, and each caller gets its own copy, so nothing can alter the cache by mutating a
    body it was given.
    """

    __slots__ = ("resource", "namespace", "name", "revision", "raw", "index_key")
    resource: str
    namespace: str
    name: str
    revision: int
    raw: bytes
    index_key: str | None

    def __init__(
        self,
        resource: str,
        namespace: str,
        name: str,
        revision: int,
        body: dict[str, Any] | bytes,
        index_key: str | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "resource", resource)
        set_(self, "namespace", namespace)
        set_(self, "name", name)
        set_(self, "revision", revision)
        set_(self, "raw", bytes(body) if isinstance(body, (bytes, bytearray, memoryview)) else orjson.dumps(body))
        set_(self, "index_key", index_key)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"StoredObject is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredObject):
            return NotImplemented
        return (self.resource, self.namespace, self.name, self.revision, self.raw, self.index_key) == (
            other.resource,
            other.namespace,
            other.name,
            other.revision,
            other.raw,
            other.index_key,
        )

    __hash__ = None  # type: ignore[assignment]  # as before: equal objects need not hash alike

    def __repr__(self) -> str:
        return (
            f"StoredObject(resource={self.resource!r}, namespace={self.namespace!r}, name={self.name!r}, "
            f"revision={self.revision!r}, index_key={self.index_key!r})"
        )

    @property
    def body(self) -> dict[str, Any]:
        """A fresh decoded copy of the object's API body."""
        return orjson.loads(self.raw)

    def may_hold(self, text: str) -> bool:
        """False when the body certainly holds no string `text` (one JSON writes without escapes, such
        as a name or an id): a check of the bytes, so a scan decodes only the objects that may match."""
        return f'"{text}"'.encode() in self.raw

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
    stored: StoredObject | None = None  # what a create or update stores, once its revision is assigned

    def encoded(self) -> bytes:
        """The body as the backend stores it: encoded once, when the revision was assigned."""
        return self.stored.raw if self.stored is not None else orjson.dumps(self.body)


@dataclass(slots=True)
class PayloadWrite:
    """Store an encrypted payload for (namespace, name, version), or destroy all of a name's payloads.

    `reseal` replaces one payload re-encrypted under another data key, only if it still exists
    under `previous_data_key_id` (a concurrent delete or re-encryption wins; nothing is resurrected).
    """

    op: Literal["put", "destroy", "reseal"]
    namespace: str
    name: str
    version: int = 0
    data_key_id: str = ""
    blob: bytes = b""
    previous_data_key_id: str = ""


@dataclass(slots=True)
class DataKeyWrite:
    """Insert a wrapped data key as the namespace's active one, re-wrap an existing key, or destroy
    one (only if inactive and no payload refers to it: the database checks, not the caller)."""

    op: Literal["insert", "rewrap", "destroy"]
    id: str
    namespace: str = ""
    kek_id: str = ""
    wrapped: bytes = b""
    created: float = 0.0
    # Who wrapped it ("file": a local KEK; "kms": a KMS v2 plugin) and what that plugin returned with
    # the wrapped key (JSON of base64 values), to be handed back when it unwraps it.
    kek_provider: str = "file"
    kek_annotations: str = "{}"


Write = ObjectWrite | PayloadWrite | DataKeyWrite
