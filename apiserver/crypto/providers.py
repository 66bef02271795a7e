"""KEK providers: who wraps and unwraps the data keys.

`LocalKeks` wraps with the KEKs of a key file or of ``APISERVER_KEK`` (AES-256-GCM, here in the
process); a KMS v2 plugin (kms.py) wraps remotely. `ProviderChain` lets a server that moves from
its key file to a KMS plugin keep opening the data keys its file wrapped until `keys rewrap` has
moved them. Each stored data key names its provider, the id of its KEK, and whatever the provider
returned with the wrapped key (a KMS plugin's annotations), all of which unwrapping gets back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import aead
from .errors import DecryptionError, KekConfigError
from .kek import KekRing

log = logging.getLogger(__name__)

FILE = "file"  # a local KEK (key file or APISERVER_KEK)


@dataclass(frozen=True)
class Wrapping:
    """A data key as one provider wrapped it; `annotations` are stored beside it in plaintext."""

    provider: str
    kek_id: str
    wrapped: bytes = field(repr=False)
    annotations: Mapping[str, bytes] = field(default_factory=dict)


class KekProvider(Protocol):
    """Wraps new data keys under its active KEK and unwraps the ones it (or a predecessor) wrapped."""

    @property
    def active(self) -> tuple[str, str]:
        """(provider, KEK id) of the KEK that wraps new data keys (the id is "" while not known yet)."""

    def ids(self) -> list[tuple[str, str]]:
        """(provider, KEK id) of every KEK it can unwrap with, the active one included."""

    def knows(self, provider: str, kek_id: str) -> bool:
        """Whether a data key wrapped by this KEK can be given to `unwrap` at all."""

    def cache_valid(self) -> bool:
        """Whether data keys unwrapped earlier may still be used (a KMS plugin unreachable for too
        long says no: then they are dropped, and every use waits for the plugin again)."""

    async def wrap(self, plaintext: bytes, aad: bytes) -> Wrapping: ...

    async def unwrap(self, wrapping: Wrapping, aad: bytes) -> bytes:
        """The data key; `DecryptionError` when the KEK does not open it."""

    def status(self) -> dict[str, Any]:
        """What `keys status` shows of the provider besides its KEKs (never key material)."""


class LocalKeks:
    """The KEK ring of a key file (re-read when a data key names a KEK it lacks) or of the environment."""

    def __init__(
        self,
        keks: KekRing,
        *,
        reload: Callable[[], KekRing] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.ring = keks
        # Re-reads the KEK source when a data key names a KEK we lack: another replica re-wrapped
        # it under a KEK just added to the shared file.
        self._reload = reload
        self._clock = clock or time.time
        self._last_reload = 0.0

    def __repr__(self) -> str:
        return f"LocalKeks({self.ring!r})"

    @property
    def active(self) -> tuple[str, str]:
        return (FILE, self.ring.active.id)

    def ids(self) -> list[tuple[str, str]]:
        return [(FILE, kek_id) for kek_id in self.ring.ids()]

    def knows(self, provider: str, kek_id: str) -> bool:
        return provider == FILE and kek_id in self.ring.ids()

    def cache_valid(self) -> bool:
        return True

    def replace(self, keks: KekRing) -> None:
        self.ring = keks
        log.info("KEKs loaded: %s, active %s", ", ".join(keks.ids()), keks.active.id)

    async def wrap(self, plaintext: bytes, aad: bytes) -> Wrapping:
        kek = self.ring.active
        return Wrapping(FILE, kek.id, aead.seal(kek.key, plaintext, aad))

    async def unwrap(self, wrapping: Wrapping, aad: bytes) -> bytes:
        if wrapping.provider != FILE:
            raise DecryptionError()
        if wrapping.kek_id not in self.ring.ids():
            self._reload_for(wrapping.kek_id)
        kek = self.ring.get(wrapping.kek_id)  # DecryptionError if the KEK is not configured
        return aead.open_(kek.key, wrapping.wrapped, aad)

    def status(self) -> dict[str, Any]:
        return {}

    def _reload_for(self, kek_id: str) -> None:
        """Re-read the KEK source (at most once a second) because a data key needs `kek_id`."""
        if self._reload is None or self._clock() - self._last_reload < 1.0:
            return
        self._last_reload = self._clock()
        try:
            keks = self._reload()
        except KekConfigError as exc:
            log.warning("KEK %s is needed but the KEK source could not be re-read: %s", kek_id, exc)
            return
        if kek_id in keks.ids():
            self.replace(keks)


class ProviderChain:
    """A writing provider (new data keys) and older ones that still unwrap what they wrapped."""

    def __init__(self, writer: KekProvider, *readers: KekProvider) -> None:
        self.writer = writer
        self.readers = readers

    @property
    def active(self) -> tuple[str, str]:
        return self.writer.active

    def ids(self) -> list[tuple[str, str]]:
        return [pair for provider in (*self.readers, self.writer) for pair in provider.ids()]

    def knows(self, provider: str, kek_id: str) -> bool:
        return any(p.knows(provider, kek_id) for p in (self.writer, *self.readers))

    def cache_valid(self) -> bool:
        return self.writer.cache_valid()

    async def wrap(self, plaintext: bytes, aad: bytes) -> Wrapping:
        return await self.writer.wrap(plaintext, aad)

    async def unwrap(self, wrapping: Wrapping, aad: bytes) -> bytes:
        for provider in self.readers:
            if provider.knows(wrapping.provider, wrapping.kek_id):
                return await provider.unwrap(wrapping, aad)
        return await self.writer.unwrap(wrapping, aad)

    def status(self) -> dict[str, Any]:
        return self.writer.status()
