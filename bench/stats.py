"""Measured figures and the arithmetic on them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    """One measurement: how many operations in how long, and their latency."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def combine(first: Result, second: Result) -> Result:
    """Two runs of one baseline (before and after the measured run) as one: totals add up,
    latencies are averaged. Bracketing the measured run this way evens out drift in a shared
    machine's load."""
    return Result(
        requests=first.requests + second.requests,
        seconds=first.seconds + second.seconds,
        p50_ms=(first.p50_ms + second.p50_ms) / 2,
        p99_ms=(first.p99_ms + second.p99_ms) / 2,
        errors=first.errors + second.errors,
        extra={
            "rates": [round(first.rate, 1), round(second.rate, 1)],
            **(
                {
                    "cpu_us_per_request": (
                        first.extra["cpu_us_per_request"] * first.requests
                        + second.extra["cpu_us_per_request"] * second.requests
                    )
                    / max(first.requests + second.requests, 1)
                }
                if "cpu_us_per_request" in first.extra and "cpu_us_per_request" in second.extra
                else {}
            ),
        },
    )


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.4999)))
    return sorted_values[rank - 1]
