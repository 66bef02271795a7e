"""Secure values' write-only payload: encryption on write, comparison and decryption in memory.

Plaintext lives only between the request that carries it and `Envelope.encrypt`, and between
`Envelope.decrypt` and the caller that needs it. The store sees ciphertext bound (by associated
data) to namespace, name and version.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from ..crypto.envelope import Ciphertext, Envelope
from ..crypto.errors import CryptoError, DecryptionError
from ..machinery.strategy import PayloadWriter
from ..resources.keeper import SYSTEM_KEEPER
from ..store.store import Store
from ..store.txn import Txn
from .external_values import ExternalValues
from .keeper_records import mark_for_deletion
from .secret_bytes import SecretBytes


class ValueNotStored(Exception):
    """The secure value has no payload of ours (it is a `ref` to an external keeper)."""


def _ids(obj: dict[str, Any]) -> tuple[str, str, int]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"], int(obj.get("status", {}).get("version", 0))


def _external(obj: dict[str, Any]) -> bool:
    return obj.get("status", {}).get("keeper", SYSTEM_KEEPER) != SYSTEM_KEEPER


class SecureValuePayload:
    """The `Payload` of SecureValue for the generic registry (see machinery.strategy.Payload)."""

    def __init__(self, store: Store, envelope: Envelope, external: ExternalValues | None = None) -> None:
        self.store = store
        self.envelope = envelope
        self.external = external  # values of the namespaces whose active keeper is AWS Secrets Manager

    def take(self, obj: dict[str, Any]) -> SecretBytes | None:
        spec = obj.get("spec")
        if not isinstance(spec, dict) or "value" not in spec:
            return None
        value = spec.pop("value")
        if isinstance(value, SecretBytes):
            return value
        if isinstance(value, str):
            return SecretBytes(value.encode())
        return SecretBytes(b"")  # not a string: only reachable from unvalidated copies (annotations)

    async def reveal(self, obj: dict[str, Any]) -> SecretBytes:
        """Decrypt the current value of a stored SecureValue. Raises ValueNotStored or DecryptionError."""
        if _external(obj):
            if self.external is None:
                raise DecryptionError()
            return await self.external.read(obj)
        namespace, name, version = _ids(obj)
        row = await self.store.read_payload(namespace, name, version)
        if row is None:
            if obj.get("spec", {}).get("ref"):
                raise ValueNotStored(name)
            raise DecryptionError()
        try:
            plaintext = await self.envelope.decrypt(namespace, name, version, Ciphertext(*row))
        except CryptoError:
            # The store may have answered from its cache a ciphertext re-encrypted since (and its old
            # data key destroyed): read the database's once more before calling the value broken.
            fresh = await self.store.read_payload(namespace, name, version, fresh=True)
            if fresh is None or tuple(fresh) == tuple(row):
                raise
            plaintext = await self.envelope.decrypt(namespace, name, version, Ciphertext(*fresh))
        return SecretBytes(plaintext)

    async def unchanged(self, old: dict[str, Any], payload: SecretBytes | None) -> bool:
        if payload is None:
            return True
        if old.get("spec", {}).get("ref"):
            return False
        current = await self.reveal(old)
        return hmac.compare_digest(current.reveal(), payload.reveal())

    async def prepare_write(
        self, new: dict[str, Any], old: dict[str, Any] | None, payload: SecretBytes | None
    ) -> PayloadWriter | None:
        if _external(new) and self.external is not None:
            if old is not None:
                return await self.external.update(new, payload)
            return None if payload is None else await self.external.create(new, payload)
        namespace, name, version = _ids(new)
        if payload is None:
            if old is None or new.get("spec", {}).get("ref"):
                return None
            # The value is kept, but its ciphertext is bound to a version: encrypt it for the new one.
            payload = await self.reveal(old)
        ciphertext = await self.envelope.encrypt(namespace, name, version, payload.reveal())

        def put(txn: Txn) -> None:
            txn.put_payload(namespace, name, version, ciphertext.data_key_id, ciphertext.blob)

        return put

    def destroy(self, txn: Txn, obj: dict[str, Any]) -> None:
        namespace, name, _ = _ids(obj)
        if _external(obj):
            mark_for_deletion(txn, obj["metadata"].get("uid", ""), time.time())
        txn.destroy_payloads(namespace, name)
