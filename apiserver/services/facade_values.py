"""Secure values addressed by facade key: the one service both facades (InfluxDB, Cloudflare) call.

See docs/architecture.md, "Facade keys". InfluxDB keys and Cloudflare names are case-sensitive free strings,
while a SecureValue name is a DNS subdomain. So:

- A value's *facade key* is its `compat.apiserver.local/key` annotation (FACADE_KEY) when present,
  otherwise its name: values created through the native API appear under their names, and are
  updated and deleted by that key.
- A key written through a facade for the first time gets a new SecureValue named
  `name_for_key(key)`: a readable slug of the key plus a short hash of the exact key
  (`SNOWFLAKE_PASS` -> `snowflake-pass-cf8c31797d`), with the exact key in FACADE_KEY. A key is
  never mapped to itself, even when it is a valid name: the annotation makes the mapping
  explicit, and `foo` (facade) never silently collides with a native `foo` later on.
- The store indexes (namespace, facade key) -> object (`SecureValueStrategy.index_key`), so
  `find` is one indexed lookup and keys are unique per namespace.
- The name only has to be unique when the value is created (lookups go through the index), so
  in the rare case that the name is taken (a native value named exactly so), the next name of the
  deterministic sequence `name_for_key(key, attempt)` is used.

API (each facade builds one `FacadeValues` over a Registry whose SecureValueStrategy carries that
facade's limits):

- `find(ctx, ns, key) -> dict | None`: the object (authorized `get`), or None.
- `list(ctx, ns, label_selector=None) -> [(key, object)]`: what the caller may get, sorted
  byte-wise (code point order) by key; needs `list` on the namespace. `keys(ctx, ns)`: the keys alone.
- `upsert(ctx, ns, [FacadeWrite]) -> [object]`: creates or updates (a new version of the same
  SecureValue) every key in ONE transaction; any failure writes nothing.
- `delete(ctx, ns, [key]) -> [existing keys]`: deletes in ONE transaction (Registry.prepare_delete);
  absent keys are skipped.
- `copy_value(ctx, ns, source_key, target) -> object`: a value copied inside the server.

Writes are optimistic (each update is conditional on the revision it was computed from); a write
that lost a race to another writer is recomputed on the new state, serialised per namespace.
Authorization is the registry's (the Authorizer); errors are the machinery's ApiErrors, which
each facade renders in its own dialect. This module never sees HTTP.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..machinery.context import Principal, RequestContext
from ..machinery.errors import AlreadyExists, ApiError, Conflict, bad_request, field_error, invalid, not_found
from ..machinery.prepared import Prepared
from ..machinery.registry import Registry
from ..machinery.selectors import LabelSelector
from ..resources import FACADE_KEY
from ..resources.securevalue import SECURE_VALUES, facade_key
from ..store.cache import body_of
from .secret_bytes import SecretBytes
from .securevalues import SecureValuePayload, ValueNotStored

if TYPE_CHECKING:
    pass

_SLUG_MAX = 40
_HASH_CHARS = 10  # 40 bits: a repeat needs the same slug too, and is then resolved by `attempt`
_RETRIES = 8  # concurrent writers of the same keys: recompute on the new state
_NON_SLUG = re.compile(r"[^a-z0-9]+")
T = TypeVar("T")


def name_for_key(key: str, attempt: int = 0) -> str:
    """The SecureValue name for a new facade key: `<slug>-<hash>`, a valid DNS subdomain (≤ 51 chars).

    Deterministic: the slug keeps the key readable (ASCII-folded, lower case, runs of other
    characters as `-`); the hash is of the exact key (so `Key` and `key` differ), and of the
    attempt number when an earlier name of the sequence is taken.
    """
    folded = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode().lower()
    slug = _NON_SLUG.sub("-", folded).strip("-")[:_SLUG_MAX].strip("-") or "key"
    material = key.encode("utf-8", "surrogatepass") + (b"\x00%d" % attempt if attempt else b"")
    return f"{slug}-{hashlib.sha256(material).hexdigest()[:_HASH_CHARS]}"


@dataclass
class FacadeWrite:
    """What a facade wants stored under one key. Fields left None keep what an existing value has.

    - `value`: the new value; None keeps the current one (a new key needs one).
    - `description`: replaces the description; None keeps the current one, and a new value then
      gets `new_description`.
    - `decrypters`: replaces the decrypters; None keeps the current ones ([] for a new value).
    - `add_decrypters`: added to the (kept or given) decrypters, without repeats: InfluxDB's
      configured identity is added to a native value's own decrypters rather than replacing them.
    - `annotations`, `labels`: merged over the current ones. FACADE_KEY is the service's.
    - `create_only`: an existing key is a 409 Conflict (Cloudflare's create).
    """

    key: str
    value: SecretBytes | None = None
    description: str | None = None
    decrypters: builtins.list[str] | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    new_description: str = ""
    add_decrypters: builtins.list[str] = field(default_factory=list)
    create_only: bool = False


class KeyExists(AlreadyExists):
    """A `create_only` write found its key taken (a 409 AlreadyExists naming the key)."""


class FacadeValues:
    """Over a registry of its own, whose SecureValueStrategy carries the facade's value limits."""

    def __init__(self, registry: Registry, payload: SecureValuePayload) -> None:
        self.registry = registry
        self.payload = payload
        self._store = registry.store
        self._authorizer = registry.authorizer
        self._locks: dict[str, asyncio.Lock] = {}

    # -- reads ----------------------------------------------------------------------------

    def _lookup(self, namespace: str, key: str) -> dict[str, Any] | None:
        stored = self._store.by_index(SECURE_VALUES.resource, namespace, key)
        return None if stored is None else stored.body

    def find(self, ctx: RequestContext, namespace: str, key: str) -> dict[str, Any] | None:
        """The SecureValue known by `key`, or None; one indexed lookup. Raises 403 if the caller may not get it."""
        obj = self._lookup(namespace, key)
        if obj is not None:
            self._authorizer.authorize(ctx.principal, "get", SECURE_VALUES, namespace, obj["metadata"]["name"])
        return obj

    async def list(
        self, ctx: RequestContext, namespace: str, label_selector: str | None = None
    ) -> builtins.list[tuple[str, dict[str, Any]]]:
        """(key, object) of every value the caller may get, sorted by key (byte-wise in UTF-8)."""
        found = [(facade_key(body), body) async for body in self._visible(ctx, namespace, label_selector)]
        # UTF-8 byte order is code point order, which is how Python compares strings.
        found.sort(key=lambda item: item[0])
        return found

    async def keys(self, ctx: RequestContext, namespace: str) -> builtins.list[str]:
        """The sorted keys of every value the caller may get. Only the keys are kept: 10 000 decoded
        objects alive at once cost pauses of the cyclic garbage collector (10 ms and more)."""
        return sorted([facade_key(body) async for body in self._visible(ctx, namespace, None)])

    async def _visible(
        self, ctx: RequestContext, namespace: str, label_selector: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        """The values of `namespace` the caller may get, read in slices of loop time as one snapshot
        (a namespace may hold tens of thousands)."""
        self._authorizer.authorize(ctx.principal, "list", SECURE_VALUES, namespace)
        selector = LabelSelector.parse(label_selector)
        async for chunk in self._store.scan(SECURE_VALUES.resource, namespace):
            for (_, name), entry in chunk:
                body = body_of(entry)
                if selector.matches(body["metadata"].get("labels")) and self._authorizer.can(
                    ctx.principal, "get", SECURE_VALUES, namespace, name
                ):
                    yield body

    def allows_any(self, principal: Principal, namespace: str, verbs: builtins.list[str]) -> bool:
        """Whether `principal` may do any of `verbs` to secure values of `namespace` (a facade's coarse check)."""
        return any(self._authorizer.can(principal, verb, SECURE_VALUES, namespace) for verb in verbs)

    # -- writes ---------------------------------------------------------------------------

    async def upsert(
        self, ctx: RequestContext, namespace: str, writes: builtins.list[FacadeWrite]
    ) -> builtins.list[dict[str, Any]]:
        """Create or update every key in one transaction; all or nothing."""
        keys = [w.key for w in writes]
        if len(set(keys)) != len(keys):
            raise bad_request("each key may be written only once per request")
        return await self._retrying(namespace, lambda: self._upsert_once(ctx, namespace, writes))

    async def _upsert_once(
        self, ctx: RequestContext, namespace: str, writes: builtins.list[FacadeWrite]
    ) -> builtins.list[dict]:
        claimed: set[str] = set()
        prepared = [await self._prepare(ctx, namespace, write, claimed) for write in writes]
        return await self.registry.commit(ctx, prepared)

    async def _retrying(self, namespace: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Optimistic first; when another writer got there first, retry serialised per namespace.

        Each retry recomputes on the new state. Serialising the retries (not the first attempts)
        keeps the fast path concurrent while many writers of one key cannot starve each other.
        """
        try:
            return await attempt()
        except ApiError as exc:
            if not _lost_race(exc):
                raise
        async with self._locks.setdefault(namespace, asyncio.Lock()):
            for retry in range(_RETRIES):
                try:
                    return await attempt()
                except ApiError as exc:
                    if not _lost_race(exc) or retry == _RETRIES - 1:
                        raise
        raise AssertionError("unreachable")

    async def _prepare(self, ctx: RequestContext, namespace: str, write: FacadeWrite, claimed: set[str]) -> Prepared:
        current = self._lookup(namespace, write.key)
        if current is None:
            name = self._free_name(namespace, write.key, claimed)
            claimed.add(name)
            return await self.registry.prepare_create(ctx, namespace, _new_object(name, write))
        name = current["metadata"]["name"]
        if write.create_only:
            raise KeyExists(
                f'the key "{write.key}" already exists',
                SECURE_VALUES.group,
                SECURE_VALUES.resource,
                name,
            )
        revision = current["metadata"].get("resourceVersion")
        return await self.registry.prepare_update(ctx, namespace, name, lambda old: _with_write(old, write), revision)

    def _free_name(self, namespace: str, key: str, claimed: set[str]) -> str:
        for attempt in range(64):
            name = name_for_key(key, attempt)
            if name not in claimed and self._store.get(SECURE_VALUES.resource, namespace, name) is None:
                return name
        raise invalid(
            SECURE_VALUES.kind,
            "",
            [field_error("invalid", "metadata.name", "no free name for the key")],
            SECURE_VALUES.group,
        )

    async def delete(self, ctx: RequestContext, namespace: str, keys: builtins.list[str]) -> builtins.list[str]:
        """Delete the values of `keys` in one transaction; returns the keys that existed."""
        wanted = list(dict.fromkeys(keys))

        async def attempt() -> builtins.list[str]:
            prepared: builtins.list[Prepared] = []
            existing: builtins.list[str] = []
            for key in wanted:
                current = self._lookup(namespace, key)
                if current is not None:
                    prepared.append(self.registry.prepare_delete(ctx, namespace, current["metadata"]["name"]))
                    existing.append(key)
            if prepared:
                await self.registry.commit(ctx, prepared)
            return existing

        return await self._retrying(namespace, attempt)

    async def copy_value(
        self, ctx: RequestContext, namespace: str, source_key: str, target: FacadeWrite
    ) -> dict[str, Any]:
        """Store the source's current value under `target.key` (plaintext stays inside the server)."""
        source = self.find(ctx, namespace, source_key)
        if source is None:
            raise not_found(SECURE_VALUES.resource, source_key, SECURE_VALUES.group)
        try:
            value = await self.payload.reveal(source)
        except ValueNotStored:
            raise invalid(
                SECURE_VALUES.kind,
                source["metadata"]["name"],
                [field_error("forbidden", "spec.ref", "a value kept by reference cannot be copied")],
                SECURE_VALUES.group,
            ) from None
        target.value = value
        return (await self.upsert(ctx, namespace, [target]))[0]


def _lost_race(exc: ApiError) -> bool:
    """Another writer changed one of the keys (or took a name) between our read and our commit."""
    return isinstance(exc, (Conflict, AlreadyExists)) and not isinstance(exc, KeyExists)


def _value_text(value: SecretBytes) -> str:
    # Facade values arrive as JSON strings, so they are UTF-8; the strategy checks limits on text.
    return value.reveal().decode("utf-8", "replace")


def _merged_decrypters(current: builtins.list[str], write: FacadeWrite) -> builtins.list[str]:
    decrypters = list(write.decrypters if write.decrypters is not None else current)
    decrypters += [d for d in write.add_decrypters if d not in decrypters]
    return decrypters


def _new_object(name: str, write: FacadeWrite) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "description": write.description if write.description is not None else write.new_description
    }
    if write.value is not None:
        spec["value"] = _value_text(write.value)
    decrypters = _merged_decrypters([], write)
    if decrypters:
        spec["decrypters"] = decrypters
    metadata: dict[str, Any] = {"name": name, "annotations": {**write.annotations, FACADE_KEY: write.key}}
    if write.labels:
        metadata["labels"] = dict(write.labels)
    return {"apiVersion": SECURE_VALUES.api_version, "kind": SECURE_VALUES.kind, "metadata": metadata, "spec": spec}


def _with_write(obj: dict[str, Any], write: FacadeWrite) -> dict[str, Any]:
    """The new state of an existing value under `write` (the registry validates and versions it)."""
    meta, spec = obj["metadata"], obj.setdefault("spec", {})
    if write.annotations:
        meta["annotations"] = {**(meta.get("annotations") or {}), **write.annotations}
    if write.labels:
        meta["labels"] = {**(meta.get("labels") or {}), **write.labels}
    if write.value is not None:
        spec["value"] = _value_text(write.value)
    if write.description is not None:
        spec["description"] = write.description
    decrypters = _merged_decrypters(list(spec.get("decrypters") or []), write)
    if decrypters or "decrypters" in spec:
        spec["decrypters"] = decrypters
    return obj
