"""Thin AES-256-GCM helpers.

Blob layout: ``version (1 byte) | nonce (12 bytes) | ciphertext | tag (16 bytes)``. The version
byte leaves room for another algorithm or layout later without guessing.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import DecryptionError

FORMAT_VERSION = 1
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
_HEADER = bytes([FORMAT_VERSION])
_MIN_BLOB = 1 + NONCE_SIZE + TAG_SIZE


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt and authenticate `plaintext`, binding it to `aad`."""
    if len(key) != KEY_SIZE:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    # Random 96-bit nonces are safe here: each DEK is rotated long before 2**32 messages.
    nonce = os.urandom(NONCE_SIZE)
    return _HEADER + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a blob made by `seal`; `DecryptionError` on any failure."""
    if len(key) != KEY_SIZE or len(blob) < _MIN_BLOB or blob[0] != FORMAT_VERSION:
        raise DecryptionError()
    nonce = blob[1 : 1 + NONCE_SIZE]
    try:
        return AESGCM(key).decrypt(nonce, blob[1 + NONCE_SIZE :], aad)
    except (InvalidTag, ValueError, TypeError):
        # `from None`: keep the original exception (and anything it holds) out of tracebacks.
        raise DecryptionError() from None
