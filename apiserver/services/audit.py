"""The audit log: one JSON object per line, written to one or several targets, failing closed.

Records say who did what to which object and how it ended; they never carry a value or a
token (the caller passes names and outcomes only, and the principal contributes its subject
and service identity, never its credential).

Writes are grouped: records queue up while a batch is being written, and the next batch takes
them all in one write (and one sync) per target, in a thread of its own, off the event loop.
Every record's future gets the batch's outcome, so a request still waits for its own record to
be durable. A batch counts as written when at least one target wrote it completely; when none
could, every record of the batch fails with `AuditUnavailable` and the requests are refused.
A failed target is tried again after `retry_seconds`; while no target works, a probe retries
in the background, so service resumes by itself, and the first record after an outage says how
long it lasted and how many records were refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ..machinery.audit import AuditUnavailable, track
from ..machinery.context import RequestContext
from ..ops.metrics import Metrics
from .audit_targets import AuditTarget, parse_target

log = logging.getLogger("apiserver.audit")
SYSTEM_SUBJECT = "system:apiserver"


@dataclass
class TargetHealth:
    description: str  # for the server's log: the kind and the path
    kind: str  # for /readyz: file, stdout, unix socket, syslog
    up: bool = True
    error: str = ""  # the OS's words (strerror), never data
    retry_at: float = 0.0


@dataclass
class _Outage:
    since: float
    refused: int = 0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """An `Auditor` (machinery.audit): JSON lines to files, stdout, Unix sockets or syslog."""

    def __init__(self, targets: list[AuditTarget], retry_seconds: float = 1.0, metrics: Metrics | None = None) -> None:
        if not targets:
            raise ValueError("an audit log needs at least one target")
        self.targets = targets
        self.metrics = metrics or Metrics()
        self.retry_seconds = retry_seconds
        self.targets_health = [TargetHealth(t.description, t.kind) for t in targets]
        self._queue: list[tuple[bytes, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._outage: _Outage | None = None
        self._probe: asyncio.Future[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apiserver-audit")

    @classmethod
    def from_specs(cls, specs: list[str], fsync: bool = True) -> AuditLog:
        return cls([parse_target(spec, fsync) for spec in specs])

    @property
    def available(self) -> bool:
        return self._outage is None

    async def start(self) -> None:
        """Open every target; one that cannot be opened is reported down (and retried), not fatal."""
        loop = asyncio.get_running_loop()
        outcomes = await loop.run_in_executor(self._executor, self._open_all)
        self._note(outcomes, probed=False)

    def check_available(self) -> None:
        if self._outage is not None:
            self._outage.refused += 1
            self.metrics.record_audit_failure()  # a record that will never be written
            raise AuditUnavailable()

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
        principal = ctx.principal
        entry: dict[str, Any] = {
            "time": _now(),
            "requestID": ctx.request_id,
            "subject": principal.subject,
            "serviceIdentity": principal.service_identity or "",
            "namespace": namespace,
            "resource": resource,
            "name": name,
            "operation": operation,
            "outcome": outcome,
            "reason": reason,
        }
        if ctx.acting_for:
            entry["serviceIdentityName"] = ctx.acting_for
        receipt = self._enqueue(orjson.dumps(entry) + b"\n")
        track(receipt)
        return receipt

    async def health(self) -> str | None:
        """The readiness check: None while records can be written, else each target's failure.

        Targets are named by kind and position only (the probe is public; paths stay in the log).
        """
        if self.available:
            return None
        failures = [f"target {i} ({h.kind}): {h.error}" for i, h in enumerate(self.targets_health, 1) if not h.up]
        return "no audit target can be written: " + "; ".join(failures)

    async def close(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
        if self._writer is not None:
            await asyncio.shield(self._writer)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_all)
        self._executor.shutdown(wait=True)

    # -- the group-commit writer ------------------------------------------------------------

    def _enqueue(self, line: bytes) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        receipt: asyncio.Future[None] = loop.create_future()
        self._queue.append((line, receipt))
        if self._writer is None:
            self._writer = loop.create_task(self._drain())
        return receipt

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                lines = [line for line, _ in batch]
                try:
                    outcomes = await loop.run_in_executor(self._executor, self._write_all, lines)
                except Exception as exc:  # a bug of ours: fail the batch closed rather than hang its requests
                    log.error("audit batch failed: %s", type(exc).__name__)
                    outcomes = [type(exc).__name__] * len(self.targets)
                probed = any(receipt is self._probe for _, receipt in batch)
                written = self._note(outcomes, probed)
                if not written:
                    self.metrics.record_audit_failure(len(batch))
                    if self._outage is not None:
                        self._outage.refused += len(batch) - probed
                for _, receipt in batch:
                    if receipt.done():  # its request was cancelled (the client went away)
                        continue
                    if written:
                        receipt.set_result(None)
                    else:
                        receipt.set_exception(AuditUnavailable())
        finally:
            self._writer = None

    def _open_all(self) -> list[str | None]:
        return self._each(lambda target: target.open())

    def _write_all(self, lines: list[bytes]) -> list[str | None]:
        return self._each(lambda target: target.write(lines))

    def _close_all(self) -> None:
        for target in self.targets:
            try:
                target.close()
            except OSError:
                pass

    def _each(self, action) -> list[str | None]:
        """Per target: "" when done, the OS's error text when it failed, None when left to rest."""
        now = time.monotonic()
        outcomes: list[str | None] = []
        for target, health in zip(self.targets, self.targets_health, strict=True):
            if not health.up and now < health.retry_at:
                outcomes.append(None)
                continue
            try:
                action(target)
                outcomes.append("")
            except OSError as exc:
                outcomes.append(exc.strerror or type(exc).__name__)
        return outcomes

    def _note(self, outcomes: list[str | None], probed: bool) -> bool:
        """Record each target's health; whether at least one wrote. Runs on the event loop."""
        for health, outcome in zip(self.targets_health, outcomes, strict=True):
            if outcome is None:
                continue
            if outcome:
                if health.up or health.error != outcome:
                    log.error("audit target %s failed: %s", health.description, outcome)
                health.up, health.error = False, outcome
                health.retry_at = time.monotonic() + self.retry_seconds
            elif not health.up:
                log.warning("audit target %s works again", health.description)
                health.up, health.error = True, ""
        written = any(outcome == "" for outcome in outcomes)
        if not written and self._outage is None:
            log.error("no audit target can be written: audited requests are refused until one can")
            self._outage = _Outage(time.monotonic())
            self._recovery = asyncio.get_running_loop().create_task(self._recover())
        elif written and self._outage is not None:
            outage, self._outage = self._outage, None
            if not probed:  # the probe's own record already says it; otherwise say it now
                self._enqueue(self._resumed_line(outage))
        return written

    async def _recover(self) -> None:
        """While no target works, try one record every `retry_seconds`: the one that says we resumed."""
        while self._outage is not None:
            await asyncio.sleep(self.retry_seconds)
            if self._outage is None:
                break
            self._probe = self._enqueue(self._resumed_line(self._outage))
            try:
                await self._probe
            except AuditUnavailable:
                continue
            finally:
                self._probe = None

    def _resumed_line(self, outage: _Outage) -> bytes:
        seconds = time.monotonic() - outage.since
        entry = {
            "time": _now(),
            "requestID": "",
            "subject": SYSTEM_SUBJECT,
            "serviceIdentity": "",
            "namespace": "",
            "resource": "audit",
            "name": "",
            "operation": "audit.resumed",
            "outcome": "success",
            "reason": f"no audit target could be written for {seconds:.1f} s; "
            f"{outage.refused} audited operations were refused",
        }
        return orjson.dumps(entry) + b"\n"
