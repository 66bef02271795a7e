"""A container for plaintext that refuses to show itself."""

from __future__ import annotations


class SecretBytes:
    """Plaintext held only in memory; every textual form is redacted, as Grafana's ExposedSecureValue."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "SecretBytes([REDACTED])"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:  # equality must go through constant-time comparison
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
