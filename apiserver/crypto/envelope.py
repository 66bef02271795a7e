"""Envelope encryption of secret values.

Each namespace has one active random data key (DEK), wrapped by the active KEK of a `KekProvider`
(local KEKs or a KMS v2 plugin) and stored through a `DataKeyRepository`. Values are sealed with
the DEK under associated data naming namespace, name and version, so a stored blob cannot be
replayed into another row. DEKs rotate lazily: the first encrypt after `rotation_period` creates a
new one; old DEKs stay to decrypt old values.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..ops.metrics import Metrics
from . import aead
from .errors import DecryptionError, KekMismatch, KekMissing, KmsUnavailable
from .kek import KekRing
from .providers import FILE, KekProvider, LocalKeks, ProviderChain, Wrapping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataKeyRecord:
    """A stored DEK: `wrapped` is the DEK sealed by KEK `kek_id` of `provider` (hidden from repr
    anyway); `annotations` are what that provider returned with it, given back to unwrap it."""

    id: str
    namespace: str
    kek_id: str
    wrapped: bytes = field(repr=False)
    created: float
    active: bool
    provider: str = FILE
    annotations: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def wrapping(self) -> Wrapping:
        return Wrapping(self.provider, self.kek_id, self.wrapped, self.annotations)


class DataKeyRepository(Protocol):
    """Persistence of DEKs, implemented by the store."""

    async def active_data_key(self, namespace: str) -> DataKeyRecord | None:
        """The namespace's active DEK, if any."""

    async def data_key(self, key_id: str) -> DataKeyRecord | None:
        """A DEK by id, active or not."""

    async def insert_data_key(self, record: DataKeyRecord) -> None:
        """Insert `record` as active and deactivate the namespace's other DEKs, atomically."""

    async def data_keys(self, namespace: str | None = None) -> list[DataKeyRecord]:
        """All DEKs (of one namespace if given)."""

    async def update_wrapped(self, key_id: str, wrapping: Wrapping) -> None:
        """Replace a DEK's wrapping (KEK rotation); the DEK itself does not change."""


@dataclass(frozen=True)
class Ciphertext:
    """A sealed value and the id of the DEK that sealed it."""

    data_key_id: str
    blob: bytes = field(repr=False)


@dataclass(frozen=True)
class _Dek:
    id: str
    namespace: str
    created: float
    key: bytes = field(repr=False)


def dek_aad(key_id: str, namespace: str) -> bytes:
    """Associated data of a wrapped DEK: binds it to its id and namespace."""
    return b"dek\x00" + key_id.encode() + b"\x00" + namespace.encode()


def value_aad(namespace: str, name: str, version: int) -> bytes:
    """Associated data of a value: binds it to its row (namespace, name, version)."""
    # NUL separates the fields, so a NUL inside one would make the encoding ambiguous.
    if "\x00" in namespace or "\x00" in name:
        raise ValueError("namespace and name must not contain NUL")
    if isinstance(version, bool) or not isinstance(version, int):
        raise TypeError("version must be an int")
    return b"sv\x00" + namespace.encode() + b"\x00" + name.encode() + b"\x00" + str(version).encode()


class Envelope:
    """Encrypts and decrypts values with per-namespace DEKs wrapped by a KEK provider.

    `keks` is a provider, or a ring of local KEKs (then `reload_keks` re-reads their source when a
    data key names a KEK the ring lacks).
    """

    def __init__(
        self,
        keks: KekProvider | KekRing,
        repository: DataKeyRepository,
        *,
        rotation_period: float = 86400.0,
        clock: Callable[[], float] = time.time,
        reload_keks: Callable[[], KekRing] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        if rotation_period <= 0:
            raise ValueError("rotation_period must be positive")
        if isinstance(keks, KekRing):
            keks = LocalKeks(keks, reload=reload_keks, clock=clock)
        self.provider: KekProvider = keks
        self._repository = repository
        self._rotation_period = rotation_period
        self._clock = clock
        self._deks: dict[str, _Dek] = {}  # unwrapped DEKs by id: each is unwrapped once
        self._active: dict[str, _Dek] = {}  # active DEK by namespace
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"Envelope(provider={self.provider!r}, cached_data_keys={len(self._deks)})"

    async def encrypt(self, namespace: str, name: str, version: int, plaintext: bytes) -> Ciphertext:
        """Seal `plaintext` for the row (namespace, name, version) with the namespace's DEK."""
        aad = value_aad(namespace, name, version)
        self._expire_cache()
        dek = await self._active_dek(namespace)
        return Ciphertext(dek.id, aead.seal(dek.key, plaintext, aad))

    async def decrypt(self, namespace: str, name: str, version: int, ciphertext: Ciphertext) -> bytes:
        """Open a value sealed for this row; `DecryptionError` on any failure."""
        try:
            aad = value_aad(namespace, name, version)
        except (ValueError, TypeError):
            raise DecryptionError() from None
        self._expire_cache()
        dek = self._deks.get(ciphertext.data_key_id)
        self.metrics.record_dek_cache(hit=dek is not None)
        if dek is None:
            record = await self._repository.data_key(ciphertext.data_key_id)
            if record is None:
                raise DecryptionError()
            dek = await self._unwrap(record)
        # The value AAD already covers the namespace; this check just fails early and clearly.
        if dek.namespace != namespace:
            raise DecryptionError()
        return aead.open_(dek.key, ciphertext.blob, aad)

    @property
    def local_keks(self) -> LocalKeks | None:
        """The provider of local KEKs (a key file or the environment), if this envelope has one."""
        chain = self.provider
        candidates = (chain.writer, *chain.readers) if isinstance(chain, ProviderChain) else (chain,)
        return next((p for p in candidates if isinstance(p, LocalKeks)), None)

    def _expire_cache(self) -> None:
        """Forget every unwrapped DEK once the provider says they may no longer serve."""
        if self._deks and not self.provider.cache_valid():
            log.warning("dropping %d cached data keys: the KEK provider has been unavailable too long", len(self._deks))
            self._deks.clear()
            self._active.clear()

    def cached_data_key(self, key_id: str) -> bool:
        return key_id in self._deks

    def forget_data_key(self, key_id: str) -> None:
        """Drop a destroyed data key from memory."""
        dek = self._deks.pop(key_id, None)
        if dek is not None and self._active.get(dek.namespace) is dek:
            del self._active[dek.namespace]

    async def active_data_key_id(self, namespace: str) -> str:
        """The id of the DEK that seals the namespace's new values (created if due)."""
        return (await self._active_dek(namespace)).id

    async def reseal(self, namespace: str, name: str, version: int, ciphertext: Ciphertext) -> Ciphertext:
        """Re-encrypt a stored value under the namespace's active DEK (same row, same associated data)."""
        plaintext = await self.decrypt(namespace, name, version, ciphertext)
        return await self.encrypt(namespace, name, version, plaintext)

    async def check_data_keys(self) -> None:
        """Unwrap every stored DEK once: `KekMissing` names a KEK that a data key needs and we lack,
        `KekMismatch` one whose configured key does not open the data keys it wrapped."""
        for record in await self._repository.data_keys():
            if record.id in self._deks:
                continue
            if not self.provider.knows(record.provider, record.kek_id):
                raise KekMissing(record.kek_id, record.provider)
            try:
                await self._unwrap(record)
            except DecryptionError:
                raise KekMismatch(record.kek_id, record.provider) from None
            except KmsUnavailable as exc:
                # The plugin may come back: serve (not ready) instead of refusing to start.
                log.warning("the data keys were not checked at start: %s", exc)
                return

    async def rotate(self, namespace: str) -> str:
        """Make a new active DEK for the namespace now; returns its id."""
        async with self._lock(namespace):
            dek = await self._create(namespace)
        return dek.id

    async def rewrap_all(self, provider: str | None = None) -> int:
        """Re-wrap every DEK not yet under the active KEK (only those `provider` wrapped, if given);
        returns how many were re-wrapped.

        Run after a KEK rotation; once it returns, old KEKs can be removed from the ring.
        """
        count = 0
        for record in await self._repository.data_keys():
            if (record.provider, record.kek_id) == self.provider.active:
                continue
            if provider is not None and record.provider != provider:
                continue
            dek = await self._unwrap(record)
            wrapping = await self.provider.wrap(dek.key, dek_aad(record.id, record.namespace))
            await self._repository.update_wrapped(record.id, wrapping)
            count += 1
        if count:
            log.info("re-wrapped %d data keys under KEK %s", count, self.provider.active[1])
        return count

    def forget_active(self, namespace: str | None = None) -> None:
        """Drop the cached active DEK of a namespace (all if None), e.g. after another replica
        rotated it; the next encrypt asks the repository again."""
        if namespace is None:
            self._active.clear()
        else:
            self._active.pop(namespace, None)

    def _lock(self, namespace: str) -> asyncio.Lock:
        lock = self._locks.get(namespace)
        if lock is None:
            lock = self._locks[namespace] = asyncio.Lock()
        return lock

    def _fresh(self, created: float) -> bool:
        return self._clock() - created < self._rotation_period

    async def _active_dek(self, namespace: str) -> _Dek:
        dek = self._active.get(namespace)
        if dek is not None and self._fresh(dek.created):
            return dek  # steady state: no repository call, no lock
        # The lock makes concurrent first encrypts in a namespace create a single DEK.
        async with self._lock(namespace):
            dek = self._active.get(namespace)
            if dek is not None and self._fresh(dek.created):
                return dek
            record = await self._repository.active_data_key(namespace)
            if record is not None and record.active and record.namespace == namespace and self._fresh(record.created):
                dek = await self._unwrap(record)
                self._active[namespace] = dek
                return dek
            return await self._create(namespace)

    async def _create(self, namespace: str) -> _Dek:
        """Create, wrap, store and cache a new active DEK (caller holds the namespace lock)."""
        dek = _Dek(
            id="dek-" + secrets.token_hex(8),
            namespace=namespace,
            created=self._clock(),
            key=os.urandom(aead.KEY_SIZE),
        )
        w = await self.provider.wrap(dek.key, dek_aad(dek.id, namespace))  # KmsUnavailable: no new DEK now
        record = DataKeyRecord(dek.id, namespace, w.kek_id, w.wrapped, dek.created, True, w.provider, w.annotations)
        await self._repository.insert_data_key(record)
        self._deks[dek.id] = dek
        self._active[namespace] = dek
        log.info("created data key %s for namespace %s under KEK %s", dek.id, namespace, w.kek_id)
        return dek

    async def _unwrap(self, record: DataKeyRecord) -> _Dek:
        """The DEK of a record, from the cache or unwrapped by its provider (then cached)."""
        dek = self._deks.get(record.id)
        if dek is not None:
            return dek
        key = await self.provider.unwrap(record.wrapping, dek_aad(record.id, record.namespace))
        if len(key) != aead.KEY_SIZE:
            raise DecryptionError()
        dek = self._deks[record.id] = _Dek(record.id, record.namespace, record.created, key)
        return dek
