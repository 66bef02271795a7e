"""An in-memory `DataKeyRepository` for tests of the envelope without a store."""

from __future__ import annotations

import asyncio
import dataclasses

from apiserver.crypto.envelope import DataKeyRecord
from apiserver.crypto.providers import Wrapping


class FakeRepository:
    """In-memory `DataKeyRepository`; counts calls and can yield to provoke races."""

    def __init__(self) -> None:
        self.records: dict[str, DataKeyRecord] = {}
        self.calls = 0

    async def active_data_key(self, namespace: str) -> DataKeyRecord | None:
        self.calls += 1
        await asyncio.sleep(0)  # let concurrent tasks interleave, as a real database would
        for record in self.records.values():
            if record.namespace == namespace and record.active:
                return record
        return None

    async def data_key(self, key_id: str) -> DataKeyRecord | None:
        self.calls += 1
        return self.records.get(key_id)

    async def insert_data_key(self, record: DataKeyRecord) -> None:
        self.calls += 1
        await asyncio.sleep(0)
        for other in list(self.records.values()):
            if other.namespace == record.namespace and other.active:
                self.records[other.id] = dataclasses.replace(other, active=False)
        self.records[record.id] = dataclasses.replace(record, active=True)

    async def data_keys(self, namespace: str | None = None) -> list[DataKeyRecord]:
        self.calls += 1
        return [r for r in self.records.values() if namespace is None or r.namespace == namespace]

    async def update_wrapped(self, key_id: str, wrapping: Wrapping) -> None:
        self.calls += 1
        self.records[key_id] = dataclasses.replace(
            self.records[key_id],
            kek_id=wrapping.kek_id,
            wrapped=wrapping.wrapped,
            provider=wrapping.provider,
            annotations=wrapping.annotations,
        )
