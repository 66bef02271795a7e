"""Envelope encryption: AES-256-GCM values under per-namespace data keys wrapped by KEKs."""

from .aead import open_, seal
from .envelope import (
    Ciphertext,
    DataKeyRecord,
    DataKeyRepository,
    Envelope,
    dek_aad,
    value_aad,
)
from .errors import CryptoError, DecryptionError, KekConfigError
from .kek import Kek, KekRing, load_kek_file, new_kek, parse_kek_env

__all__ = [
    "Ciphertext",
    "CryptoError",
    "DataKeyRecord",
    "DataKeyRepository",
    "DecryptionError",
    "Envelope",
    "Kek",
    "KekConfigError",
    "KekRing",
    "dek_aad",
    "load_kek_file",
    "new_kek",
    "open_",
    "parse_kek_env",
    "seal",
    "value_aad",
]
