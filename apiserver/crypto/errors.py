"""Errors of the crypto package.

Messages never contain plaintext, key material or ciphertext: callers may log them or return
them to clients as they are.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of the crypto package's errors."""


class DecryptionError(CryptoError):
    """A blob could not be opened: wrong key, wrong associated data, tampering, unknown key id.

    The message is always the same, so that it cannot leak data nor tell an attacker which check
    failed.
    """

    MESSAGE = "decryption failed"

    def __init__(self, *_ignored: object) -> None:
        # Arguments are dropped on purpose (and keep pickling working): the message is fixed.
        super().__init__(self.MESSAGE)


class KekConfigError(CryptoError):
    """The key-encryption keys are missing or misconfigured (file, mode, syntax, environment)."""


class KekMissing(KekConfigError):
    """Stored data keys are wrapped by a KEK that is not configured (e.g. a restore without its KEK)."""

    def __init__(self, kek_id: str) -> None:
        super().__init__(
            f"the data keys in the database are wrapped by KEK {kek_id!r}, which is not configured: "
            "give the KEK file (or APISERVER_KEK) that holds it"
        )
        self.kek_id = kek_id


class KekMismatch(KekConfigError):
    """A configured KEK has the id the data keys name, but another key: it does not open them."""

    def __init__(self, kek_id: str) -> None:
        super().__init__(
            f"KEK {kek_id!r} as configured does not open the data keys it wrapped: "
            "this is not the key that was used under that id"
        )
        self.kek_id = kek_id
