"""A logical transaction: synchronous checks and writes against the cache plus pending writes.

Transactions run one after another inside the store's writer, with no await in between, so a
check made here ("does the name exist", "is the revision still N") holds when the batch commits.
Anything slow (encryption, decryption) happens before the transaction starts.

A body given to `create` or `update` is never altered, and never copied whole: the store encodes
it, and the object it commits and announces is a copy of its top level and metadata (to carry the
revision) sharing the nested values. A deep copy of an object with 20 000 labels held the event
loop for tens of milliseconds. So a caller must not alter a body's nested values once written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .errors import IndexKeyTaken, ObjectExists, RevisionMismatch
from .model import DataKeyWrite, ObjectWrite, PayloadWrite, StoredObject, Write

if TYPE_CHECKING:
    from .cache import ObjectCache

_Missing = object()


class Txn:
    def __init__(
        self,
        cache: ObjectCache,
        pending: dict[tuple[str, str, str], StoredObject | None],
        pending_index: dict[tuple[str, str, str], str | None],
    ) -> None:
        self._cache = cache
        self._batch = pending  # what earlier transactions of this batch wrote
        self._batch_index = pending_index
        self._local: dict[tuple[str, str, str], StoredObject | None] = {}
        self._local_index: dict[tuple[str, str, str], str | None] = {}
        self.writes: list[Write] = []

    # -- reads ----------------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> StoredObject | None:
        key = (resource, namespace, name)
        for layer in (self._local, self._batch):
            found = layer.get(key, _Missing)
            if found is not _Missing:
                return found  # type: ignore[return-value]
        return self._cache.get(resource, namespace, name)

    def by_index(self, resource: str, namespace: str, index_key: str) -> StoredObject | None:
        key = (resource, namespace, index_key)
        for layer in (self._local_index, self._batch_index):
            name = layer.get(key, _Missing)
            if name is not _Missing:
                return None if name is None else self.get(resource, namespace, name)  # type: ignore[arg-type]
        found = self._cache.by_index(resource, namespace, index_key)
        # The cache may still hold an index entry that this batch moved away.
        if found is not None and self.get(resource, namespace, found.name) is None:
            return None
        return found

    def iter_current(self, resource: str, namespace: str) -> Iterator[StoredObject]:
        """The objects of `resource` in `namespace` as this transaction sees them (pending writes included)."""
        pending: set[str] = set()
        for layer in (self._local, self._batch):
            for (res, ns, name), stored in layer.items():
                if res == resource and ns == namespace and name not in pending:
                    pending.add(name)
                    if stored is not None:
                        yield stored
        for stored in self._cache.iter_current(resource, namespace):
            if stored.name not in pending:
                yield stored

    def any_in(self, resource: str, namespace: str) -> bool:
        """Whether any object of `resource` lives in `namespace`, pending writes included."""
        return next(self.iter_current(resource, namespace), None) is not None

    def resources_in(self, namespace: str) -> list[str]:
        """Every resource, of any kind, with an object in `namespace` (pending writes included), sorted."""
        candidates = set(self._cache.resources())
        candidates.update(resource for layer in (self._local, self._batch) for resource, _, _ in layer)
        return sorted(resource for resource in candidates if self.any_in(resource, namespace))

    # -- object writes --------------------------------------------------------------------

    def create(
        self, resource: str, namespace: str, name: str, body: dict[str, Any], index_key: str | None = None
    ) -> ObjectWrite:
        if self.get(resource, namespace, name) is not None:
            raise ObjectExists(resource, namespace, name)
        self._claim_index(resource, namespace, name, index_key)
        write = ObjectWrite("create", resource, namespace, name, body, index_key)
        return self._record(write, StoredObject(resource, namespace, name, 0, body, index_key))

    def update(
        self,
        resource: str,
        namespace: str,
        name: str,
        body: dict[str, Any],
        *,
        expected_revision: int | None,
        index_key: str | None = None,
    ) -> ObjectWrite:
        current = self._current(resource, namespace, name, expected_revision)
        if current.index_key != index_key:
            self._claim_index(resource, namespace, name, index_key)
            if current.index_key is not None:
                self._local_index[(resource, namespace, current.index_key)] = None
        write = ObjectWrite(
            "update",
            resource,
            namespace,
            name,
            body,
            index_key,
            expected_revision=current.revision,
            previous=current,
        )
        return self._record(write, StoredObject(resource, namespace, name, 0, body, index_key))

    def delete(self, resource: str, namespace: str, name: str, *, expected_revision: int | None) -> ObjectWrite:
        current = self._current(resource, namespace, name, expected_revision)
        if current.index_key is not None:
            self._local_index[(resource, namespace, current.index_key)] = None
        write = ObjectWrite(
            "delete",
            resource,
            namespace,
            name,
            current.body,
            current.index_key,
            expected_revision=current.revision,
            previous=current,
        )
        return self._record(write, None)

    def _current(self, resource: str, namespace: str, name: str, expected_revision: int | None) -> StoredObject:
        current = self.get(resource, namespace, name)
        if current is None or (expected_revision is not None and current.revision != expected_revision):
            raise RevisionMismatch(resource, namespace, name)
        return current

    def _claim_index(self, resource: str, namespace: str, name: str, index_key: str | None) -> None:
        if index_key is None:
            return
        holder = self.by_index(resource, namespace, index_key)
        if holder is not None and holder.name != name:
            raise IndexKeyTaken(resource, namespace, name, index_key, holder.name)
        self._local_index[(resource, namespace, index_key)] = name

    def _record(self, write: ObjectWrite, stored: StoredObject | None) -> ObjectWrite:
        self._local[(write.resource, write.namespace, write.name)] = stored
        self.writes.append(write)
        return write

    # -- payloads and data keys -----------------------------------------------------------

    def put_payload(self, namespace: str, name: str, version: int, data_key_id: str, blob: bytes) -> None:
        self.writes.append(PayloadWrite("put", namespace, name, version, data_key_id, blob))

    def destroy_payloads(self, namespace: str, name: str) -> None:
        self.writes.append(PayloadWrite("destroy", namespace, name))

    def reseal_payload(
        self, namespace: str, name: str, version: int, previous_data_key_id: str, data_key_id: str, blob: bytes
    ) -> None:
        self.writes.append(
            PayloadWrite(
                "reseal", namespace, name, version, data_key_id, blob, previous_data_key_id=previous_data_key_id
            )
        )

    def insert_data_key(
        self,
        key_id: str,
        namespace: str,
        kek_id: str,
        wrapped: bytes,
        created: float,
        kek_provider: str = "file",
        kek_annotations: str = "{}",
    ) -> None:
        self.writes.append(
            DataKeyWrite("insert", key_id, namespace, kek_id, wrapped, created, kek_provider, kek_annotations)
        )

    def rewrap_data_key(
        self, key_id: str, kek_id: str, wrapped: bytes, kek_provider: str = "file", kek_annotations: str = "{}"
    ) -> None:
        self.writes.append(
            DataKeyWrite(
                "rewrap",
                key_id,
                kek_id=kek_id,
                wrapped=wrapped,
                kek_provider=kek_provider,
                kek_annotations=kek_annotations,
            )
        )

    def destroy_data_key(self, key_id: str) -> None:
        self.writes.append(DataKeyWrite("destroy", key_id))

    # -- end ------------------------------------------------------------------------------

    def finish(self, next_revision: int) -> int:
        """Give each object write its revision and fold this transaction into the batch."""
        for write in self.writes:
            if isinstance(write, ObjectWrite):
                write.revision = next_revision
                next_revision += 1
                # A deleted object is announced with the revision of its deletion, as etcd does.
                assert write.body is not None, "every object write carries the object"
                write.body = _with_revision(write.body, write.revision)
                if write.op != "delete":
                    write.stored = StoredObject(
                        write.resource, write.namespace, write.name, write.revision, write.body, write.index_key
                    )
                    self._local[(write.resource, write.namespace, write.name)] = write.stored
        self._batch.update(self._local)
        self._batch_index.update(self._local_index)
        return next_revision


def _with_revision(body: dict[str, Any], revision: int) -> dict[str, Any]:
    """`body` with `metadata.resourceVersion` set, copying only its top level and its metadata."""
    stamped = dict(body)
    stamped["metadata"] = {**body.get("metadata", {}), "resourceVersion": str(revision)}
    return stamped
