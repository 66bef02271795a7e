"""The per-address failure limiter, on a fake clock."""

from __future__ import annotations

from clocks import ManualClock

from apiserver.http.ratelimit import FailureLimiter


def test_blocks_after_the_limit_per_address_until_failures_age_out():
    clock = ManualClock(1000.0)
    limiter = FailureLimiter(limit=3, window=10.0, clock=clock)
    for _ in range(3):
        limiter.failed("a")
        clock.now += 1
    assert limiter.retry_after("a") is None
    limiter.failed("a")  # the fourth within ten seconds
    assert limiter.retry_after("a") == 7  # the first failure (at 1000) leaves the window at 1010
    assert limiter.retry_after("b") is None
    clock.now = 1010.5
    assert limiter.retry_after("a") is None


def test_memory_is_bounded():
    clock = ManualClock(1000.0)
    limiter = FailureLimiter(limit=1, window=10.0, max_sources=100, clock=clock)
    for i in range(1000):
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._failures) <= 100
