"""Bearer tokens: the bootstrap admin token and the tokens kept in the store.

Tokens are opaque and high-entropy, so a plain SHA-256 is the right hash (as GitHub and
Kubernetes bootstrap tokens do): only the hash is kept, looked up through the store's unique
index and compared in constant time. Token records live in the store (a cluster-scoped internal
resource) so that they survive restarts and are shared by every replica of one store.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..machinery.context import Principal
from ..machinery.errors import conflict, not_found
from ..machinery.strategy import ResourceType
from ..store.errors import ObjectExists, RevisionMismatch
from ..store.model import StoredObject
from ..store.store import Store
from ..store.txn import Txn
from .permissions import ADMIN_GRANT, ALL_NAMESPACES, Grant, Permission

TOKEN_PREFIX = "sas_"
ADMIN_SUBJECT = "user:admin"
TOKEN_GROUP = "auth.apiserver.local"
TOKENS = ResourceType(
    group=TOKEN_GROUP,
    version="v1",
    resource="tokens",
    kind="Token",
    singular="token",
    namespaced=False,
    verbs=("create", "get", "list", "revoke"),
)
STORE_RESOURCE = "tokens.auth.apiserver.local"  # the store key; no API serves it as a generic resource
_INTERNAL_IDS = ("bootstrap", "system")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def bootstrap_admin_token(data_dir: Path, given: str | None) -> str:
    """The admin token: the one given (flag or environment), else the one generated at first start (0600)."""
    if given:
        return given
    path = data_dir / "admin-token"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    token = new_token()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str | None) -> float | None:
    return None if not text else datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


@dataclass
class TokenRequest:
    """A validated request for a new token (see token_requests.parse_token_request)."""

    namespaces: list[str]
    subject: str | None = None
    service_identity: str | None = None
    role: str | None = None
    permissions: list[Permission] = field(default_factory=list)
    decrypt: list[str] = field(default_factory=list)
    expires_in: float | None = None


@dataclass
class TokenRecord:
    """A stored token, without its secret."""

    id: str
    subject: str
    service_identity: str | None
    namespaces: list[str]
    role: str | None
    permissions: list[Permission]
    decrypt: list[str]
    created: str
    expires: str | None = None
    revoked: bool = False
    revoked_at: str | None = None

    def grant(self) -> Grant:
        namespaces = None if ALL_NAMESPACES in self.namespaces else frozenset(self.namespaces)
        return Grant(namespaces, self.role, tuple(self.permissions), tuple(self.decrypt), self.service_identity)

    def public(self) -> dict[str, Any]:
        """The API view: everything but the secret (which is not even kept)."""
        return {
            "kind": TOKENS.kind,
            "apiVersion": TOKENS.api_version,
            "id": self.id,
            "subject": self.subject,
            "serviceIdentity": self.service_identity,
            "namespaces": list(self.namespaces),
            "role": self.role,
            "permissions": [p.as_dict() for p in self.permissions],
            "decryptPermissions": list(self.decrypt),
            "created": self.created,
            "expires": self.expires,
            "revoked": self.revoked,
            "revokedAt": self.revoked_at,
        }

    def body(self, hashed: str) -> dict[str, Any]:
        public = self.public()
        del public["kind"], public["apiVersion"]
        return {"metadata": {"name": self.id}, **public, "tokenHash": hashed}

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> TokenRecord:
        return cls(
            id=body["id"],
            subject=body["subject"],
            service_identity=body.get("serviceIdentity"),
            namespaces=list(body["namespaces"]),
            role=body.get("role"),
            permissions=[Permission(p["action"], p["scope"]) for p in body.get("permissions") or []],
            decrypt=list(body.get("decryptPermissions") or []),
            created=body["created"],
            expires=body.get("expires"),
            revoked=bool(body.get("revoked")),
            revoked_at=body.get("revokedAt"),
        )


@dataclass(frozen=True)
class _Compiled:
    """A stored token as authentication needs it, cached per revision of its record."""

    revision: int
    record: TokenRecord
    grant: Grant
    hashed: bytes
    expires_at: float | None

    def usable(self, now: float) -> bool:
        return not self.record.revoked and (self.expires_at is None or now < self.expires_at)


class TokenService:
    """Authenticates tokens and keeps their records; authorization of management is the caller's."""

    def __init__(self, admin_token: str, store: Store) -> None:
        self._admin_hash = token_hash(admin_token)
        self.store = store
        self._compiled: dict[str, _Compiled] = {}

    # -- authentication -------------------------------------------------------------------

    def is_bootstrap(self, token: str) -> bool:
        return hmac.compare_digest(token_hash(token), self._admin_hash)

    def is_bootstrap_hash(self, digest: bytes) -> bool:
        """Whether `digest` is the hash of the current bootstrap token (sessions keep only the hash)."""
        return hmac.compare_digest(digest, self._admin_hash)

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid token; None for an unknown, expired or revoked one."""
        digest = token_hash(token)
        if hmac.compare_digest(digest, self._admin_hash):
            return Principal(subject=ADMIN_SUBJECT, token_id="bootstrap")
        stored = self.store.by_index(STORE_RESOURCE, "", digest.hex())
        compiled = self._compile(stored) if stored is not None else None
        # The index found a candidate by hash; compare in constant time all the same.
        if compiled is None or not hmac.compare_digest(compiled.hashed, digest) or not compiled.usable(time.time()):
            return None
        record = compiled.record
        return Principal(subject=record.subject, token_id=record.id, service_identity=record.service_identity)

    def grant_for(self, principal: Principal) -> Grant | None:
        """What the principal may do now: a revoked or expired token has no grant, even mid-request."""
        if principal.token_id in _INTERNAL_IDS or (principal.subject == ADMIN_SUBJECT and not principal.token_id):
            return ADMIN_GRANT if principal.subject == ADMIN_SUBJECT else None
        stored = self.store.get(STORE_RESOURCE, "", principal.token_id)
        compiled = self._compile(stored) if stored is not None else None
        return compiled.grant if compiled is not None and compiled.usable(time.time()) else None

    def _compile(self, stored: StoredObject) -> _Compiled:
        cached = self._compiled.get(stored.name)
        if cached is not None and cached.revision == stored.revision:
            return cached
        record = TokenRecord.from_body(stored.body)
        compiled = _Compiled(
            stored.revision, record, record.grant(), bytes.fromhex(stored.body["tokenHash"]), _epoch(record.expires)
        )
        self._compiled[stored.name] = compiled
        return compiled

    # -- records --------------------------------------------------------------------------

    def get(self, token_id: str) -> TokenRecord | None:
        stored = self.store.get(STORE_RESOURCE, "", token_id)
        return TokenRecord.from_body(stored.body) if stored is not None else None

    def find(self, token: str) -> TokenRecord | None:
        """The record of a token given by its secret (for revocation by token)."""
        stored = self.store.by_index(STORE_RESOURCE, "", token_hash(token).hex())
        return TokenRecord.from_body(stored.body) if stored is not None else None

    def list(self) -> list[TokenRecord]:
        return [TokenRecord.from_body(s.body) for s in self.store.iter_current(STORE_RESOURCE, "")]

    async def create(self, request: TokenRequest) -> tuple[TokenRecord, str]:
        """Store a new token; returns its record and its secret, which is never available again."""
        store = self.store
        now = time.time()
        for _ in range(8):
            token_id = "tok-" + secrets.token_hex(8)
            secret = new_token()
            hashed = token_hash(secret).hex()
            record = TokenRecord(
                id=token_id,
                subject=request.subject or request.service_identity or f"user:{token_id}",
                service_identity=request.service_identity,
                namespaces=list(request.namespaces),
                role=request.role,
                permissions=list(request.permissions),
                decrypt=list(request.decrypt),
                created=rfc3339(now),
                expires=rfc3339(now + request.expires_in) if request.expires_in else None,
            )
            body = record.body(hashed)

            def insert(txn: Txn, body: dict[str, Any] = body, hashed: str = hashed) -> None:
                txn.create(STORE_RESOURCE, "", body["id"], body, hashed)

            try:
                await store.commit(insert)
            except ObjectExists:
                continue  # an id drawn twice: draw again
            return record, secret
        raise conflict(TOKENS.resource, "", TOKENS.group, "could not draw a unique token id; please try again")

    async def revoke(self, token_id: str) -> TokenRecord:
        """Mark a token revoked (kept for the record); idempotent. Effective on the next request."""
        store = self.store
        for _ in range(8):
            stored = store.get(STORE_RESOURCE, "", token_id)
            if stored is None:
                raise not_found(TOKENS.resource, token_id, TOKENS.group)
            if stored.body.get("revoked"):
                return TokenRecord.from_body(stored.body)
            body = {**stored.body, "revoked": True, "revokedAt": rfc3339(time.time())}

            def mark(txn: Txn, body: dict[str, Any] = body, stored: StoredObject = stored) -> None:
                txn.update(
                    STORE_RESOURCE, "", stored.name, body, expected_revision=stored.revision, index_key=stored.index_key
                )

            try:
                await store.commit(mark)
            except RevisionMismatch:
                continue
            return TokenRecord.from_body(body)
        raise conflict(TOKENS.resource, token_id, TOKENS.group)
