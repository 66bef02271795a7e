"""Picking up a changed KEK file without a restart: on SIGHUP at once, else by watching the file.

The watch (a `stat` every few seconds, as kube-apiserver's automatic reload of its encryption
configuration) lets every replica sharing one KEK file follow a rotation made on any of them; the
operator's SIGHUP or `apiserver keys reload` makes it immediate on one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from ..machinery.errors import ApiError
from ..ops.tasks import stop_task
from ..store.errors import StoreUnavailable
from .keys import KeyService

log = logging.getLogger(__name__)


class KekReloader:
    def __init__(self, keys: KeyService, path: Path | None, interval: float) -> None:
        self._keys = keys
        self._path = path
        self._interval = interval
        self._task: asyncio.Task | None = None
        self._seen = self._fingerprint()

    def _fingerprint(self) -> tuple[int, int, int] | None:
        if self._path is None:
            return None
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    async def reload(self, why: str) -> None:
        self._seen = self._fingerprint()
        try:
            result = await self._keys.reload(None)
        except ApiError as exc:
            log.error("%s: %s", why, exc.message)
        except StoreUnavailable:
            log.error("%s: the KEKs were not reloaded: the database is unavailable", why)
        else:
            log.info("%s: KEKs reloaded, active %s", why, result["activeKek"])

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        # Not possible off the main thread or without signals (an embedded app): the watch remains.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload("SIGHUP")))
        if self._path is not None and self._interval > 0:
            self._task = loop.create_task(self._watch(), name="kek-file-watch")

    async def stop(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._task is not None:
            await stop_task(self._task)
            self._task = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if self._fingerprint() != self._seen:
                await self.reload(f"KEK file {self._path} changed")
