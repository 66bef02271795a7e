"""Long work on the event loop, done in slices: other requests run between them.

Every request shares one event loop, so a list of 10 000 objects that filters and encodes them in
one go (tens of milliseconds) delays every other client by as long. Work that grows with a
collection instead calls `TimeSlice.share()` every few items; once a slice of `SLICE_SECONDS` has
passed it gives the loop back (`asyncio.sleep(0)`), so whatever is waiting runs before the work
goes on. Work that must see one consistent state across slices reads it at a fixed revision
(the store's `scan`), not from live iterators that a commit between slices would change.
"""

from __future__ import annotations

import asyncio
import time

SLICE_SECONDS = 0.002


class TimeSlice:
    """A budget of loop time, renewed each time the loop was given back."""

    __slots__ = ("_seconds", "_since")

    def __init__(self, seconds: float = SLICE_SECONDS) -> None:
        self._seconds = seconds
        self._since = time.perf_counter()

    async def share(self) -> None:
        """Give the loop back if this slice is spent (else return at once, without suspending)."""
        if time.perf_counter() - self._since >= self._seconds:
            await asyncio.sleep(0)
            self._since = time.perf_counter()
