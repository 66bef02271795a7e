"""Slowing down repeated authentication failures, per source address.

More than `limit` rejected credentials from one address within `window` seconds block that
address (429 with Retry-After) until enough of those failures have aged out of the window.
Other addresses are unaffected. Only presented-and-rejected credentials count: they are what a
guessing attack produces, while a request without credentials cannot guess anything.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class FailureLimiter:
    def __init__(
        self,
        limit: int = 20,
        window: float = 10.0,
        *,
        max_sources: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_sources = max_sources
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, source: str) -> int | None:
        """Seconds until `source` may try again, or None when it is not blocked."""
        failures = self._failures.get(source)
        if failures is None:
            return None
        now = self._clock()
        self._prune(failures, now)
        if not failures:
            del self._failures[source]
            return None
        if len(failures) <= self.limit:
            return None
        # Blocked until the failures in the window drop back to `limit`.
        unblocked_at = failures[len(failures) - self.limit - 1] + self.window
        return max(1, math.ceil(unblocked_at - now))

    def failed(self, source: str) -> None:
        now = self._clock()
        failures = self._failures.get(source)
        if failures is None:
            if len(self._failures) >= self.max_sources:
                self._evict(now)
            failures = self._failures[source] = deque()
        self._prune(failures, now)
        failures.append(now)
        if len(failures) > self.limit + 1:
            failures.popleft()  # more than limit+1 entries never change the answer

    def _prune(self, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self.window:
            failures.popleft()

    def _evict(self, now: float) -> None:
        """Bound memory: forget quiet sources first, then the oldest ones."""
        for source in [s for s, f in self._failures.items() if not f or f[-1] <= now - self.window]:
            del self._failures[source]
        while len(self._failures) >= self.max_sources:
            del self._failures[next(iter(self._failures))]
