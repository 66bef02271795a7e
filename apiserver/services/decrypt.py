"""The audited decrypt path for service identities (Grafana's `DecryptSecureValues`).

Per name, in this order: the caller's own rights (a service identity, the namespace, the decrypt
permission for that name; a wildcard verb never counts), then the stored value (`not found`),
then the value's `decrypters` (exact match of the identity), then decryption. Checking the caller
first means a token that may not decrypt learns nothing about which names exist. Every attempt
is audited, and no value is returned before its record is written; the value is never audited.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ..crypto.errors import CryptoError, KmsUnavailable
from ..machinery.audit import Auditor, written
from ..machinery.context import RequestContext
from ..machinery.errors import ApiError
from ..ops.metrics import Metrics
from ..resources.securevalue import SECURE_VALUES
from ..store.store import Store
from .permissions import Grant
from .secret_bytes import SecretBytes
from .securevalues import SecureValuePayload, ValueNotStored
from .tokens import TokenService

log = logging.getLogger("apiserver.decrypt")

NOT_FOUND = "not found"
NOT_AUTHORIZED = "not authorized"
DECRYPTION_FAILED = "decryption failed"
MAX_NAMES = 1000
_OUTCOMES = {NOT_FOUND: "not_found", NOT_AUTHORIZED: "not_authorized", DECRYPTION_FAILED: "decryption_failed"}


def acting_for(claimed: str) -> str:
    """A caller's claimed service name as the audit keeps it: printable characters only, at most 253."""
    return "".join(c for c in claimed if c.isprintable()).strip()[:253]


@dataclass(frozen=True)
class Decrypted:
    """The result for one name: a value, or one of the three error messages."""

    value: SecretBytes | None = None
    error: str = ""


class DecryptService:
    def __init__(
        self,
        store: Store,
        payload: SecureValuePayload,
        tokens: TokenService,
        auditor: Auditor,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.store = store
        self.payload = payload
        self.tokens = tokens
        self.auditor = auditor

    async def decrypt(
        self, ctx: RequestContext, namespace: str, names: list[str], grant: Grant | None = None
    ) -> dict[str, Decrypted]:
        """Each distinct non-empty name's result, as Grafana's client asks (duplicates and blanks dropped).

        `grant` is the caller's rights when they do not come from a stored token (a verified access
        token carries its own); by default they are the stored token's, looked up afresh. Nothing is
        returned until every attempt's audit record is written: otherwise `AuditUnavailable`, and no
        value leaves.
        """
        results: dict[str, Decrypted] = {}
        receipts: list[asyncio.Future[None]] = []
        for name in names:
            if name and name not in results:
                results[name] = await self._audited(ctx, namespace, name, grant, receipts)
        await written(receipts)
        return results

    async def decrypt_one(
        self, ctx: RequestContext, namespace: str, name: str, grant: Grant | None = None
    ) -> Decrypted:
        receipts: list[asyncio.Future[None]] = []
        result = await self._audited(ctx, namespace, name, grant, receipts)
        await written(receipts)
        return result

    async def _audited(
        self,
        ctx: RequestContext,
        namespace: str,
        name: str,
        grant: Grant | None,
        receipts: list[asyncio.Future[None]],
    ) -> Decrypted:
        """One attempt, its audit record's receipt added to `receipts` (to be awaited before answering)."""
        try:
            result = await self._attempt(ctx, namespace, name, grant)
        except (ApiError, KmsUnavailable) as exc:  # an external keeper or the KMS plugin cannot answer now (503)
            reason = exc.reason if isinstance(exc, ApiError) else "ServiceUnavailable"
            receipts.append(
                self.auditor.record(ctx, "decrypt", SECURE_VALUES.resource, namespace, name, "error", reason)
            )
            await written(receipts)
            raise
        receipts.append(self._audit(ctx, namespace, name, result))
        return result

    def _audit(self, ctx: RequestContext, namespace: str, name: str, result: Decrypted) -> asyncio.Future[None]:
        outcome = "success" if result.value is not None else "error" if result.error == DECRYPTION_FAILED else "denied"
        self.metrics.record_decrypt(_OUTCOMES.get(result.error, "success"), ctx.principal.service_identity or "")
        return self.auditor.record(ctx, "decrypt", SECURE_VALUES.resource, namespace, name, outcome, result.error)

    async def _attempt(self, ctx: RequestContext, namespace: str, name: str, grant: Grant | None) -> Decrypted:
        principal = ctx.principal
        if grant is None:
            grant = self.tokens.grant_for(principal)
        identity = (principal.service_identity or "").strip()
        if (
            grant is None
            or not identity
            or grant.service_identity != principal.service_identity
            or not grant.may_decrypt(namespace, name)
        ):
            return Decrypted(error=NOT_AUTHORIZED)
        for _ in range(3):
            stored = self.store.get(SECURE_VALUES.resource, namespace, name)
            if stored is None:
                return Decrypted(error=NOT_FOUND)
            body = stored.body  # each access decodes the stored JSON afresh: once per attempt is enough
            decrypters = body.get("spec", {}).get("decrypters") or []
            if identity not in decrypters:
                return Decrypted(error=NOT_AUTHORIZED)
            try:
                return Decrypted(value=await self.payload.reveal(body))
            except (CryptoError, ValueNotStored) as exc:
                current = self.store.get(SECURE_VALUES.resource, namespace, name)
                if current is None or current.revision != stored.revision:
                    continue  # updated or deleted while we read it: not a storage failure, look again
                log.error("decryption of securevalues %s/%s failed: %s", namespace, name, type(exc).__name__)
                return Decrypted(error=DECRYPTION_FAILED)
        log.error("decryption of securevalues %s/%s failed: the value kept changing", namespace, name)
        return Decrypted(error=DECRYPTION_FAILED)
