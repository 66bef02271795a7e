"""A clock the test moves by hand, for code that takes its time source as an argument."""

from __future__ import annotations


class ManualClock:
    """Seconds as a float; `now` is set or advanced by the test, never by the passing of time."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
