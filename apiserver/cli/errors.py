"""Errors of the client commands: each one prints as a single readable line."""

from __future__ import annotations

import sys
from typing import Any


class CliError(Exception):
    """A failure to report as `error: MESSAGE` and exit non-zero."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unreachable(CliError):
    """No answer from the server at all: retrying the next document would fail the same way."""


class ApiCallError(CliError):
    """The server answered with an error; `status` is its Kubernetes Status (or a stand-in)."""

    def __init__(self, code: int, status: dict[str, Any]) -> None:
        self.code = code
        self.status = status
        self.reason = str(status.get("reason") or "")
        super().__init__(describe(code, status))


def describe(code: int, status: dict[str, Any]) -> str:
    """One line for a Status: what happened, and for 401/403/422 what to look at."""
    message = " ".join(str(status.get("message") or "").split()) or f"the server answered {code}"
    if code == 401:
        return (
            "Unauthorized (401): the server did not accept the token; give one with --token, "
            "APISERVER_TOKEN or the context's token"
        )
    if code == 403:
        return f"Forbidden (403): {message}"
    if code == 422:
        causes = (status.get("details") or {}).get("causes") or []
        missing = [
            f"{c.get('field')}: {c.get('message')}" if c.get("field") else str(c.get("message"))
            for c in causes
            if " ".join(str(c.get("message")).split()) not in message
        ]
        return f"Invalid (422): {message}" + (f" ({'; '.join(missing)})" if missing else "")
    return f"{status.get('reason') or 'Error'} ({code}): {message}"


def report(error: CliError, prefix: str = "") -> None:
    print(f"error: {prefix}{error.message}", file=sys.stderr, flush=True)
