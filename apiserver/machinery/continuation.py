"""Continue tokens for paged lists: opaque to clients, tamper-evident, and bound to one query.

A token carries the revision the first page was read at and the last key returned, so every
page comes from the same snapshot. It is signed with a server secret (HMAC-SHA256) kept in the
store, so replicas share it and a client cannot forge a position or a revision.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from .errors import bad_request, expired

EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


@dataclass(frozen=True)
class Position:
    revision: int
    namespace: str
    name: str


class ContinueTokens:
    def __init__(self, secret: bytes, ttl_seconds: float = 900.0, *, clock: Callable[[], float] = time.time) -> None:
        self.secret = secret  # set from the store at start-up, so replicas share it
        self._ttl = ttl_seconds
        self._clock = clock  # wall-clock seconds: replicas compare each other's issue times

    def issue(self, position: Position, query: str) -> str:
        payload = orjson.dumps(
            {
                "r": position.revision,
                "n": position.namespace,
                "k": position.name,
                "q": _fingerprint(query),
                "ms": int(self._clock() * 1000),
            }
        )
        mac = hmac.new(self.secret, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")

    def read(self, token: str, query: str) -> Position:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload, mac = raw[:-16], raw[-16:]
            if not hmac.compare_digest(mac, hmac.new(self.secret, payload, hashlib.sha256).digest()[:16]):
                raise ValueError
            data = orjson.loads(payload)
            position = Position(int(data["r"]), str(data["n"]), str(data["k"]))
            issued, bound = int(data["ms"]) / 1000, data["q"]
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            raise bad_request("continue key is not valid: the token was not issued by this server") from None
        if bound != _fingerprint(query):
            raise bad_request("continue key is not valid: the list options differ from the first request's")
        if self._clock() - issued > self._ttl:
            raise expired(EXPIRED_MESSAGE)
        return position


def _fingerprint(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]
