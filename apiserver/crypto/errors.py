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

    def __init__(self, kek_id: str, provider: str = "file") -> None:
        where = (
            "start the server with --kms-socket, the KMS v2 plugin that holds it"
            if provider == "kms"
            else "give the KEK file (or APISERVER_KEK) that holds it"
        )
        what = "KMS key" if provider == "kms" else "KEK"
        super().__init__(
            f"the data keys in the database are wrapped by {what} {kek_id!r}, which is not configured: {where}"
        )
        self.kek_id = kek_id


class KekMismatch(KekConfigError):
    """A configured KEK has the id the data keys name, but another key: it does not open them."""

    def __init__(self, kek_id: str, provider: str = "file") -> None:
        if provider == "kms":
            message = f"the KMS plugin does not open the data keys wrapped by its key {kek_id!r}"
        else:
            message = (
                f"KEK {kek_id!r} as configured does not open the data keys it wrapped: "
                "this is not the key that was used under that id"
            )
        super().__init__(message)
        self.kek_id = kek_id


class KmsUnavailable(Exception):
    """The KMS plugin cannot be reached (or says it is unhealthy): nothing it must wrap or unwrap can
    be done now. Not a `CryptoError`: nothing is wrong with the data, the request may be retried
    (503). The message names the socket and the reason, never data."""
