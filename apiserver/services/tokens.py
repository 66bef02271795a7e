"""Bearer tokens: the bootstrap admin token (more identities come with the identities service).

Tokens are opaque and high-entropy, so a plain SHA-256 is the right hash (as GitHub and
Kubernetes bootstrap tokens do): only the hash is kept, and comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ..machinery.context import Principal

TOKEN_PREFIX = "sas_"
ADMIN_SUBJECT = "user:admin"


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


class TokenService:
    def __init__(self, admin_token: str) -> None:
        self._admin_hash = token_hash(admin_token)

    def authenticate(self, token: str) -> Principal | None:
        if hmac.compare_digest(token_hash(token), self._admin_hash):
            return Principal(subject=ADMIN_SUBJECT, token_id="bootstrap")
        return None
