"""The store as the crypto layer's DataKeyRepository: wrapped DEKs live beside the data they seal.

It also answers the questions of key maintenance (how many values each data key protects, which
values are sealed by a data key that is no longer active) and makes its writes: re-sealing one
value under another data key, destroying a data key that protects nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson

from ..crypto.envelope import Ciphertext, DataKeyRecord
from ..crypto.providers import Wrapping
from .backend import DataKeyRow
from .store import Store
from .txn import Txn


@dataclass(frozen=True)
class StalePayload:
    """A stored value sealed by a data key that is no longer its namespace's active one."""

    namespace: str
    name: str
    version: int
    ciphertext: Ciphertext = field(repr=False)

    @property
    def position(self) -> tuple[str, str, int]:
        return (self.namespace, self.name, self.version)


class StoreDataKeys:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def active_data_key(self, namespace: str) -> DataKeyRecord | None:
        row = await self._store.backend.read_active_data_key(namespace)
        return None if row is None else _record(row)

    async def data_key(self, key_id: str) -> DataKeyRecord | None:
        row = await self._store.backend.read_data_key(key_id)
        return None if row is None else _record(row)

    async def insert_data_key(self, record: DataKeyRecord) -> None:
        annotations = encode_annotations(record.annotations)
        await self._store.commit(
            lambda txn: txn.insert_data_key(
                record.id, record.namespace, record.kek_id, record.wrapped, record.created, record.provider, annotations
            )
        )

    async def data_keys(self, namespace: str | None = None) -> list[DataKeyRecord]:
        return [_record(row) for row in await self._store.backend.read_data_keys(namespace)]

    async def update_wrapped(self, key_id: str, wrapping: Wrapping) -> None:
        annotations = encode_annotations(wrapping.annotations)
        await self._store.commit(
            lambda txn: txn.rewrap_data_key(key_id, wrapping.kek_id, wrapping.wrapped, wrapping.provider, annotations)
        )

    # -- maintenance ----------------------------------------------------------------------

    async def usage(self) -> dict[str, int]:
        """How many stored values (every version) each data key id seals."""
        return await self._store.backend.read_data_key_usage()

    async def stale_payloads(
        self, namespace: str | None, after: tuple[str, str, int] | None, limit: int
    ) -> list[StalePayload]:
        """Up to `limit` values not sealed by their namespace's active data key, in key order after `after`."""
        rows = await self._store.backend.read_stale_payloads(namespace, after, limit)
        return [StalePayload(ns, name, version, Ciphertext(key_id, blob)) for ns, name, version, key_id, blob in rows]

    async def count_stale_payloads(self, namespace: str | None) -> int:
        return await self._store.backend.count_stale_payloads(namespace)

    async def reseal(self, resealed: list[tuple[StalePayload, Ciphertext]]) -> None:
        """Replace values by their re-encryptions, in one transaction; each is a no-op if its value was
        deleted or re-sealed meanwhile (a concurrent delete wins, nothing is resurrected)."""

        def write(txn: Txn) -> None:
            for stale, sealed in resealed:
                txn.reseal_payload(
                    stale.namespace,
                    stale.name,
                    stale.version,
                    stale.ciphertext.data_key_id,
                    sealed.data_key_id,
                    sealed.blob,
                )

        if resealed:
            await self._store.commit(write)

    async def destroy(self, key_id: str) -> bool:
        """Destroy an inactive data key that seals nothing (the database re-checks both); whether it is gone."""
        await self._store.commit(lambda txn: txn.destroy_data_key(key_id))
        return await self._store.backend.read_data_key(key_id) is None


def encode_annotations(annotations: Mapping[str, bytes]) -> str:
    """A KMS plugin's annotations as stored: a JSON object of base64 values (they are bytes)."""
    return orjson.dumps({k: base64.b64encode(v).decode("ascii") for k, v in sorted(annotations.items())}).decode()


def _record(row: DataKeyRow) -> DataKeyRecord:
    key_id, namespace, kek_id, wrapped, created, active, provider, annotations = row
    decoded = {k: base64.b64decode(v) for k, v in orjson.loads(annotations).items()}
    return DataKeyRecord(key_id, namespace, kek_id, wrapped, created, active, provider, decoded)
