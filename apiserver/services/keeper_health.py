"""Keeper health: every active aws keeper is checked again now and then (a dry AssumeRole).

Activation records the first check; this keeps `status.health` (the `Health` column of
`kubectl get keepers`) telling the truth afterwards, when a role's trust policy changes or AWS
cannot be reached. A keeper's status is written only when its health changes.
"""

from __future__ import annotations

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
from .periodic import Periodic

log = logging.getLogger("apiserver.keepers.health")


class KeeperHealth(Periodic):
    name = "keeper-health"

    def __init__(self, external: ExternalValues, interval: float = 60.0) -> None:
        super().__init__(interval)
        self.external = external
        self.store = external.store

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
