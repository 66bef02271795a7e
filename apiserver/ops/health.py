"""Named health checks behind `/livez` and `/readyz`, as kube-apiserver lists them.

A component that can make the server unable to serve registers a check once, when the
application is built::

    components.health.add("audit", auditor.health)          # readiness only (the default)
    components.health.add("ping", ping, liveness=True)       # liveness checks count for readiness too

A check is an async callable without arguments that returns ``None`` when healthy and a short
reason otherwise (``"the audit log cannot be written"``). The reason is shown to anyone who asks
``/readyz?verbose`` (the probes need no credentials), so it must never carry a secret, a value, a
token or a path an operator would not print. A check that raises, or takes longer than
``CHECK_TIMEOUT`` seconds, fails with a reason naming only the exception's type.

`/livez` runs the liveness checks: a failure there means "restart me". `/readyz` runs every
check: a failure there means "send no traffic here for now" (the database is away, the audit log
cannot be written, the KMS plugin does not answer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

Check = Callable[[], Awaitable[str | None]]
CHECK_TIMEOUT = 5.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    reason: str | None  # None: healthy

    @property
    def ok(self) -> bool:
        return self.reason is None

    def line(self) -> str:
        return f"[+]{self.name} ok" if self.ok else f"[-]{self.name} failed: {self.reason}"


@dataclass(frozen=True)
class _Registered:
    check: Check
    liveness: bool


class UnknownCheck(LookupError):
    """No check of that name is registered."""


class HealthChecks:
    """The registry of named checks; order of registration is the order of the listing."""

    def __init__(self, timeout: float = CHECK_TIMEOUT) -> None:
        self._checks: dict[str, _Registered] = {}
        self.timeout = timeout

    def add(self, name: str, check: Check, *, liveness: bool = False) -> None:
        if name in self._checks:
            raise ValueError(f"a health check named {name!r} is already registered")
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise ValueError(f"a health check name is letters, digits, '-' and '_': {name!r}")
        self._checks[name] = _Registered(check, liveness)

    def names(self, *, liveness: bool) -> list[str]:
        return [name for name, entry in self._checks.items() if entry.liveness or not liveness]

    async def run(self, *, liveness: bool, exclude: Iterable[str] = ()) -> list[CheckResult]:
        """Every check of the kind, concurrently, minus the excluded names."""
        skipped = set(exclude)
        names = [name for name in self.names(liveness=liveness) if name not in skipped]
        return list(await asyncio.gather(*(self.run_one(name) for name in names)))

    async def run_one(self, name: str) -> CheckResult:
        entry = self._checks.get(name)
        if entry is None:
            raise UnknownCheck(name)
        try:
            reason = await asyncio.wait_for(entry.check(), self.timeout)
        except TimeoutError:
            reason = f"no answer within {self.timeout:g}s"
        except Exception as exc:  # a check's own bug must not take the probe down; its message may say too much
            reason = f"check raised {type(exc).__name__}"
        return CheckResult(name, reason)


async def ping() -> str | None:
    """The event loop runs: the one liveness check every server has."""
    return None
