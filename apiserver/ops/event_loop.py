"""How long the event loop is held: a probe that asks to wake every 10 ms, and the loop's CPU time.

Every request is served on one event loop, so a callback that computes for long delays every other
client. The probe sleeps and records how much later than asked it woke: that delay is how long
something else held the loop (or the interpreter, when a worker thread runs code that does not
release it), plus the scheduler's own jitter. Waking a hundred times a second costs a few
microseconds each. The CPU time of the loop's thread shows how much of the work is done on the
loop, and how close the loop is to saturation (a rate near 1 s/s).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

from .metrics import Metrics
from .tasks import stop_task

INTERVAL = 0.01


class LoopProbe:
    """Records the event loop's lag and exposes its thread's CPU time, while it runs."""

    def __init__(self, metrics: Metrics, interval: float = INTERVAL) -> None:
        self._metrics = metrics
        self._interval = interval
        self._task: asyncio.Task | None = None
        self._clock: int | None = None
        metrics.add_sampler(
            "apiserver_event_loop_cpu_seconds",
            "CPU time used by the thread of the event loop, which serves every request.",
            (),
            self._cpu_seconds,
            counter=True,
        )

    def start(self) -> None:
        self._clock = time.pthread_getcpuclockid(threading.get_ident())
        self._task = asyncio.get_running_loop().create_task(self._run(), name="event-loop-probe")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
            self._task = None

    def _cpu_seconds(self) -> list[tuple[tuple[str, ...], float]]:
        return [((), time.clock_gettime(self._clock))] if self._clock is not None else []

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                asked = loop.time() + self._interval
                await asyncio.sleep(self._interval)
                self._metrics.record_loop_lag(max(0.0, loop.time() - asked))
