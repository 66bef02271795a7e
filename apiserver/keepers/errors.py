"""What can go wrong in an external keeper, as types; messages carry the provider's error code only.

A provider's own message may name accounts, roles or request details: it is logged by nobody and
returned to nobody. The code (`AccessDeniedException`, `ThrottlingException`, ...) is safe to show.
"""

from __future__ import annotations


class KeeperError(Exception):
    """Base class: the provider refused or could not be reached. `code` is the provider's error code."""

    def __init__(self, code: str, operation: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.operation = operation

    def __str__(self) -> str:
        return f"{self.operation}: {self.code}" if self.operation else self.code


class KeeperAccessDenied(KeeperError):
    """The role could not be assumed, or the assumed role may not do this to that secret."""


class KeeperUnavailable(KeeperError):
    """The provider is unreachable, timed out, throttled us or failed on its side: worth retrying."""


class KeeperSecretMissing(KeeperError):
    """The secret (or the version asked for) does not exist, or is scheduled for deletion."""


class KeeperRejected(KeeperError):
    """The provider refused the request for another reason (a name taken, an invalid parameter)."""
