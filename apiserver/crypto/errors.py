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
