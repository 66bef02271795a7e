"""The audit log: one JSON object per line, appended and flushed per record.

Records say who did what to which object and how it ended; they never carry a value or a
token (the caller passes names and outcomes only, and the principal contributes its subject
and service identity, never its credential).
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

from ..machinery.context import RequestContext

log = logging.getLogger("apiserver.audit")
STDOUT = ("-", "stdout")


class AuditLog:
    """An `Auditor` (machinery.audit) writing JSON lines to a file (mode 0600, append-only) or stdout."""

    def __init__(self, target: str | Path) -> None:
        self.target = str(target)
        self._out: IO[bytes] | None = None

    def _stream(self) -> IO[bytes]:
        if self._out is None:
            if self.target in STDOUT:
                self._out = sys.stdout.buffer
            else:
                fd = os.open(self.target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                self._out = os.fdopen(fd, "ab", buffering=0)
        return self._out

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
        principal = ctx.principal
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
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
        line = orjson.dumps(entry) + b"\n"
        try:
            out = self._stream()
            out.write(line)  # one write per record: lines of concurrent writers never interleave
            out.flush()
        except OSError as exc:  # an audit failure must be seen, but must not take a request down
            log.error("audit record could not be written to %s: %s", self.target, exc.strerror)

    def close(self) -> None:
        if self._out is not None and self.target not in STDOUT:
            self._out.close()
        self._out = None
