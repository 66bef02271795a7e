"""Browser sessions: a token exchanged once for a session kept server-side.

A person signs in with a token; the browser then holds only an opaque session secret in an
HttpOnly cookie. Like tokens, a session is a store object (a cluster-scoped internal resource)
keyed by the SHA-256 of its secret through the store's unique index, so sessions survive a
restart and every replica sharing the store (PostgreSQL) accepts them. The token itself is never
kept: the session records the token's id (or, for the bootstrap admin token, the hash the token
service compares against), and every request re-checks that token, so a revoked or expired token
ends its sessions at once.

A session ends after `idle_seconds` without a request. Recording every request would make each
read a store write; `last_seen` is refreshed only when it is older than a small fraction of the
idle time, which keeps the idle timeout accurate to that fraction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..machinery.context import Principal
from ..store.errors import ObjectExists, RevisionMismatch
from ..store.model import StoredObject
from ..store.store import Store
from ..store.txn import Txn
from .tokens import TOKEN_GROUP, TokenService, rfc3339, token_hash

STORE_RESOURCE = f"sessions.{TOKEN_GROUP}"  # the store key; no API serves sessions as a resource
SESSION_PREFIX = "sess_"
_SWEEP_BATCH = 100  # expired sessions removed per sign-in, so the store never accumulates them


@dataclass(frozen=True)
class Session:
    """A live session, as authentication needs it (never its secret)."""

    id: str
    principal: Principal
    last_seen: float
    revision: int
    index_key: str


class SessionService:
    def __init__(
        self,
        store: Store,
        tokens: TokenService,
        idle_seconds: float = 1800.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.idle_seconds = idle_seconds
        self._clock = clock

    @property
    def touch_interval(self) -> float:
        return min(60.0, self.idle_seconds / 10)

    @staticmethod
    def csrf_token(secret: str) -> str:
        """The anti-forgery token of a session: derived from its secret, so nothing more is stored.

        The page reads it from the session answer (same origin only) and sends it as a header with
        every write; a cross-site form carries the cookie but cannot know or set this header.
        """
        return hmac.new(secret.encode(), b"csrf", hashlib.sha256).hexdigest()

    @staticmethod
    def csrf_matches(secret: str, given: str) -> bool:
        return bool(given) and hmac.compare_digest(SessionService.csrf_token(secret), given)

    async def create(self, principal: Principal, token: str) -> tuple[Session, str]:
        """Start a session for the principal that `token` authenticated; returns it and its secret."""
        now = self._clock()
        await self._sweep(now)
        bootstrap_hash = token_hash(token).hex() if principal.token_id == "bootstrap" else None
        for _ in range(8):
            session_id = "sess-" + secrets.token_hex(8)
            secret = SESSION_PREFIX + secrets.token_urlsafe(32)
            hashed = token_hash(secret).hex()
            body = {
                "metadata": {"name": session_id},
                "id": session_id,
                "subject": principal.subject,
                "tokenId": principal.token_id,
                "serviceIdentity": principal.service_identity,
                "bootstrapTokenHash": bootstrap_hash,
                "created": rfc3339(now),
                "lastSeen": now,
                "sessionHash": hashed,
            }

            def insert(txn: Txn, body: dict[str, Any] = body, hashed: str = hashed) -> None:
                txn.create(STORE_RESOURCE, "", body["id"], body, hashed)

            try:
                await self.store.commit(insert)
            except ObjectExists:
                continue  # an id drawn twice: draw again
            stored = self.store.get(STORE_RESOURCE, "", session_id)
            revision = stored.revision if stored is not None else 0
            return Session(session_id, principal, now, revision, hashed), secret
        raise RuntimeError("could not draw a unique session id")

    def authenticate(self, secret: str) -> Session | None:
        """The live session of `secret`; None when unknown, idle too long, or its token is no longer valid."""
        if not secret.startswith(SESSION_PREFIX):
            return None
        digest = token_hash(secret)
        stored = self.store.by_index(STORE_RESOURCE, "", digest.hex())
        if stored is None or not hmac.compare_digest(bytes.fromhex(stored.body["sessionHash"]), digest):
            return None
        session = _session(stored)
        if self._clock() - session.last_seen > self.idle_seconds:
            return None
        if not self._token_valid(stored.body, session.principal):
            return None
        return session

    def _token_valid(self, body: dict[str, Any], principal: Principal) -> bool:
        bootstrap_hash = body.get("bootstrapTokenHash")
        if principal.token_id == "bootstrap":
            # Valid while the server still has the same bootstrap token (it may be changed by a restart).
            return isinstance(bootstrap_hash, str) and self.tokens.is_bootstrap_hash(bytes.fromhex(bootstrap_hash))
        return self.tokens.grant_for(principal) is not None

    async def touch(self, session: Session) -> None:
        """Record activity, at most once per `touch_interval`: keeps an active session alive."""
        now = self._clock()
        if now - session.last_seen < self.touch_interval:
            return
        stored = self.store.get(STORE_RESOURCE, "", session.id)
        if stored is None:
            return

        def refresh(txn: Txn, stored: StoredObject = stored) -> None:
            body = {**stored.body, "lastSeen": now}
            txn.update(
                STORE_RESOURCE, "", stored.name, body, expected_revision=stored.revision, index_key=stored.index_key
            )

        try:
            await self.store.commit(refresh)
        except RevisionMismatch:
            pass  # another request (or replica) refreshed or ended it meanwhile: either way done

    async def end(self, session_id: str) -> None:
        """Sign out: the session is deleted, so its cookie is worthless everywhere at once."""

        def remove(txn: Txn) -> None:
            if txn.get(STORE_RESOURCE, "", session_id) is not None:
                txn.delete(STORE_RESOURCE, "", session_id, expected_revision=None)

        await self.store.commit(remove)

    async def _sweep(self, now: float) -> None:
        expired = [
            stored.name
            for stored in self.store.iter_current(STORE_RESOURCE, "")
            if now - float(stored.body.get("lastSeen", 0)) > self.idle_seconds
        ][:_SWEEP_BATCH]
        if not expired:
            return

        def remove(txn: Txn) -> None:
            for name in expired:
                if txn.get(STORE_RESOURCE, "", name) is not None:
                    txn.delete(STORE_RESOURCE, "", name, expected_revision=None)

        await self.store.commit(remove)


def _session(stored: StoredObject) -> Session:
    body = stored.body
    principal = Principal(
        subject=body["subject"], token_id=body["tokenId"], service_identity=body.get("serviceIdentity")
    )
    return Session(body["id"], principal, float(body["lastSeen"]), stored.revision, stored.index_key or "")
