"""Keeper health: every active aws keeper is checked again now and then (a dry AssumeRole).

Activation records the first check; this keeps `status.health` (the `Health` column of
`kubectl get keepers`) telling the truth afterwards, when a role's trust policy changes or AWS
cannot be reached. A keeper's status is written only when its health changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from ..keepers.errors import KeeperError
from ..machinery.errors import ApiError
from ..resources.keeper import HEALTHY, KEEPERS, keeper_type
from ..store.errors import StoreError
from ..store.model import StoredObject
from ..store.txn import Txn
from .external_values import ExternalValues, target_from_spec

log = logging.getLogger("apiserver.keepers.health")


class KeeperHealth:
    def __init__(self, external: ExternalValues, interval: float = 60.0) -> None:
        self.external = external
        self.store = external.store
        self.interval = interval
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="keeper-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except StoreError as exc:
                log.warning("keeper health check postponed: %s", type(exc).__name__)
            except Exception:  # a bug must not end the checks for the process's lifetime
                log.exception("keeper health check failed")

    async def run_once(self) -> None:
        for stored in list(self.store.iter_current(KEEPERS.resource, None)):
            body = stored.body
            if not body.get("status", {}).get("active") or keeper_type(body) != "aws":
                continue
            try:
                await self.external.aws.check(target_from_spec(body))
                health = HEALTHY
            except KeeperError as exc:
                health = exc.code
            if body["status"].get("health") != health:
                level = logging.INFO if health == HEALTHY else logging.WARNING
                log.log(level, "keeper %s/%s is now %s", stored.namespace, stored.name, health)
                with contextlib.suppress(StoreError, ApiError):  # changed meanwhile: the next round sees it
                    await self.store.commit(functools.partial(_record, stored=stored, health=health))


def _record(txn: Txn, stored: StoredObject, health: str) -> None:
    body = stored.body
    body["status"]["health"] = health
    txn.update(
        KEEPERS.resource,
        stored.namespace,
        stored.name,
        body,
        expected_revision=stored.revision,
        index_key=stored.index_key,
    )
