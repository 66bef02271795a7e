"""The store as the crypto layer's DataKeyRepository: wrapped DEKs live beside the data they seal."""

from __future__ import annotations

from ..crypto.envelope import DataKeyRecord
from .store import Store


class StoreDataKeys:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def active_data_key(self, namespace: str) -> DataKeyRecord | None:
        row = await self._store.backend.read_active_data_key(namespace)
        return None if row is None else DataKeyRecord(*row)

    async def data_key(self, key_id: str) -> DataKeyRecord | None:
        row = await self._store.backend.read_data_key(key_id)
        return None if row is None else DataKeyRecord(*row)

    async def insert_data_key(self, record: DataKeyRecord) -> None:
        await self._store.commit(
            lambda txn: txn.insert_data_key(record.id, record.namespace, record.kek_id, record.wrapped, record.created)
        )

    async def data_keys(self, namespace: str | None = None) -> list[DataKeyRecord]:
        return [DataKeyRecord(*row) for row in await self._store.backend.read_data_keys(namespace)]

    async def update_wrapped(self, key_id: str, kek_id: str, wrapped: bytes) -> None:
        await self._store.commit(lambda txn: txn.rewrap_data_key(key_id, kek_id, wrapped))
