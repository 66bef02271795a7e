"""A round of work repeated every `interval` seconds in a background task, for as long as the server runs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..ops.tasks import stop_task
from ..store.errors import StoreError

log = logging.getLogger("apiserver.periodic")


class Periodic:
    """Subclasses say what one round does (`run_once`); a failing round never ends the task."""

    name = "periodic"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._task: asyncio.Task | None = None

    async def run_once(self) -> Any:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except StoreError as exc:  # the database is away: the work waits for the next round
                log.warning("%s postponed: %s", self.name, type(exc).__name__)
            except Exception:  # a bug must not end the task for the process's lifetime
                log.exception("%s round failed", self.name)
            await asyncio.sleep(self.interval)
