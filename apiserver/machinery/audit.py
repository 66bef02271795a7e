"""The audit hook the machinery calls for every write; the services decide where records go."""

from __future__ import annotations

from typing import Protocol

from .context import RequestContext


class Auditor(Protocol):
    def record(
        self,
        ctx: RequestContext,
        operation: str,
        resource: str,
        namespace: str,
        name: str,
        outcome: str,
        reason: str = "",
    ) -> None:
        """Write one record (never a value, never a token)."""


class NullAuditor:
    def record(
        self,
        ctx: RequestContext,
        operation: str,
        resource: str,
        namespace: str,
        name: str,
        outcome: str,
        reason: str = "",
    ) -> None:
        pass
