"""The server's own keys for signing access tokens (ES256), kept in the store.

Each key is a store object (like token records), so every replica of one store signs with, and
trusts, the same keys. The private half is sealed with the envelope (the KEK-wrapped DEKs), never
stored in the clear: it is a payload row like a value's ("signingkey/<kid>" in the cluster scope,
so no secure value can collide with it), so key rotation, re-encryption and the accounting of
which data key protects what cover it too. The public half is published as a JWKS. A rotation makes a new key the one
that signs; the old ones stay trusted (and published) until every token they signed has expired,
then they are removed.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from ..crypto.envelope import Ciphertext, Envelope
from ..crypto.errors import DecryptionError
from ..store.errors import ObjectExists, RevisionMismatch
from ..store.model import StoredObject
from ..store.store import Store
from ..store.txn import Txn

log = logging.getLogger("apiserver.signing_keys")

STORE_RESOURCE = "signingkeys.auth.apiserver.local"  # the store key; served only through the routes below
ALGORITHM = "ES256"
_SEAL_NAMESPACE = ""
_SEAL_VERSION = 1


def _payload_name(kid: str) -> str:
    return f"signingkey/{kid}"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    created: float
    retired: float | None  # when a newer key took over; None for the signing key
    public_jwk: dict[str, Any] = field(repr=False)

    def view(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "algorithm": ALGORITHM,
            "created": int(self.created),
            "retired": int(self.retired) if self.retired is not None else None,
        }


def _key_from(stored: StoredObject) -> SigningKey:
    body = stored.body
    return SigningKey(body["kid"], float(body["created"]), body.get("retired"), body["publicJwk"])


class SigningKeys:
    """Creates, rotates and hands out the signing keys; `keep_for` covers the longest token lifetime."""

    def __init__(
        self, store: Store, envelope: Envelope, keep_for: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.envelope = envelope
        self.keep_for = keep_for
        self._clock = clock
        self._private: dict[str, ec.EllipticCurvePrivateKey] = {}

    # -- reading ------------------------------------------------------------------------------

    def keys(self) -> list[SigningKey]:
        """Every trusted key, newest first; keys retired longer ago than `keep_for` are left out."""
        now = self._clock()
        found = [_key_from(s) for s in self.store.iter_current(STORE_RESOURCE, "")]
        live = [k for k in found if k.retired is None or now < k.retired + self.keep_for]
        return sorted(live, key=lambda k: k.created, reverse=True)

    def public_jwk(self, kid: str) -> dict[str, Any] | None:
        stored = self.store.get(STORE_RESOURCE, "", kid)
        if stored is None:
            return None
        key = _key_from(stored)
        if key.retired is not None and self._clock() >= key.retired + self.keep_for:
            return None
        return key.public_jwk

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self.keys()]}

    async def signer(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        """The kid and private key that sign now (created on first use)."""
        active = [k for k in self.keys() if k.retired is None]
        if not active:
            await self.ensure()
            active = [k for k in self.keys() if k.retired is None]
        kid = active[0].kid
        private = self._private.get(kid)
        if private is None:
            private = await self._unseal(kid)
            self._private[kid] = private
        return kid, private

    async def _unseal(self, kid: str) -> ec.EllipticCurvePrivateKey:
        name = _payload_name(kid)
        row = await self.store.read_payload(_SEAL_NAMESPACE, name, _SEAL_VERSION)
        if row is None:
            raise DecryptionError()
        try:
            der = await self.envelope.decrypt(_SEAL_NAMESPACE, name, _SEAL_VERSION, Ciphertext(*row))
        except DecryptionError:
            # Re-encrypted since the cache answered (its old data key destroyed): read the database's.
            fresh = await self.store.read_payload(_SEAL_NAMESPACE, name, _SEAL_VERSION, fresh=True)
            if fresh is None or tuple(fresh) == tuple(row):
                raise
            der = await self.envelope.decrypt(_SEAL_NAMESPACE, name, _SEAL_VERSION, Ciphertext(*fresh))
        private = serialization.load_der_private_key(der, password=None)
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        return private

    # -- writing ------------------------------------------------------------------------------

    async def ensure(self) -> None:
        """A signing key exists (at first start); replicas starting together may each add one, which is harmless."""
        if not any(k.retired is None for k in self.keys()):
            await self._add(retire_others=False)

    async def rotate(self) -> SigningKey:
        """A new key signs from now on; older keys stay trusted for `keep_for`, and expired ones are removed."""
        return await self._add(retire_others=True)

    async def _add(self, retire_others: bool) -> SigningKey:
        private = ec.generate_private_key(ec.SECP256R1())
        der = private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        for _ in range(8):
            kid = secrets.token_hex(8)
            sealed = await self.envelope.encrypt(_SEAL_NAMESPACE, _payload_name(kid), _SEAL_VERSION, der)
            now = self._clock()
            jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
            jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
            body = {
                "metadata": {"name": kid},
                "kid": kid,
                "created": now,
                "publicJwk": jwk,
            }

            def add(
                txn: Txn, body: dict[str, Any] = body, kid: str = kid, now: float = now, sealed: Ciphertext = sealed
            ) -> None:
                if retire_others:
                    for stored in list(txn.iter_current(STORE_RESOURCE, "")):
                        retired = stored.body.get("retired")
                        if retired is not None and now >= retired + self.keep_for:
                            txn.delete(STORE_RESOURCE, "", stored.name, expected_revision=stored.revision)
                            txn.destroy_payloads(_SEAL_NAMESPACE, _payload_name(stored.name))
                        elif retired is None:
                            txn.update(
                                STORE_RESOURCE,
                                "",
                                stored.name,
                                {**stored.body, "retired": now},
                                expected_revision=stored.revision,
                            )
                txn.create(STORE_RESOURCE, "", kid, body)
                txn.put_payload(_SEAL_NAMESPACE, _payload_name(kid), _SEAL_VERSION, sealed.data_key_id, sealed.blob)

            try:
                await self.store.commit(add)
            except (ObjectExists, RevisionMismatch):
                continue  # a kid drawn twice, or another replica rotating at the same time: again
            self._private[kid] = private
            log.info("signing key %s created%s", kid, " (rotation)" if retire_others else "")
            return SigningKey(kid, now, None, jwk)
        raise RuntimeError("could not add a signing key; please try again")
