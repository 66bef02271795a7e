"""The audit hook the machinery calls; the services decide where records go.

Audit fails closed: a request whose record cannot be written is refused. `record` queues a
record and returns a future that completes once the record is durably written (or fails with
`AuditUnavailable`). The futures of one request are gathered in an `AuditScope` that the edge
opens around the request and settles before it answers, so every call site stays a plain call,
and a refusal's record counts as much as a success's. Code that hands out something only an
audited request may see (a decrypted value) awaits its own records first with `written`.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

from .context import RequestContext
from .errors import ServiceUnavailable

log = logging.getLogger("apiserver.audit")

RETRY_AFTER_SECONDS = 1


class AuditUnavailable(ServiceUnavailable):
    """No audit target could write the record: the request is refused, never served unaudited."""

    def __init__(self, message: str = "the audit log cannot be written; the request was refused") -> None:
        super().__init__(message, retry_after=RETRY_AFTER_SECONDS, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


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
    ) -> asyncio.Future[None]:
        """Queue one record (never a value, never a token); the future says whether it was written."""

    def check_available(self) -> None:
        """Raise `AuditUnavailable` while no target can write: a write checks this before it commits."""


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
    ) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def check_available(self) -> None:
        pass


class AuditScope:
    """The records of one request, settled before it is answered."""

    def __init__(self) -> None:
        self.pending: list[asyncio.Future[None]] = []

    async def settle(self) -> None:
        """Return once every record is written; raise `AuditUnavailable` if one was not."""
        pending, self.pending = self.pending, []
        await written(pending)


_SCOPE: contextvars.ContextVar[AuditScope | None] = contextvars.ContextVar("apiserver.audit.scope", default=None)


@contextmanager
def audit_scope() -> Iterator[AuditScope]:
    scope = AuditScope()
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def track(receipt: asyncio.Future[None]) -> None:
    """Give a record's future to the current request's scope; outside any request, log a failure."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.pending.append(receipt)
    else:
        receipt.add_done_callback(_log_unscoped)


def _log_unscoped(receipt: asyncio.Future[None]) -> None:
    if not receipt.cancelled() and receipt.exception() is not None:
        log.error("an audit record of a background operation could not be written")


async def written(receipts: Iterable[asyncio.Future[None]]) -> None:
    """Wait for records; raise `AuditUnavailable` unless every one was written."""
    failed = False
    for receipt in receipts:  # one after the other: they finish together anyway, and no gather to pay
        try:
            await receipt
        except AuditUnavailable:
            failed = True
    if failed:
        raise AuditUnavailable()
