"""The cleanup worker: deletes the AWS secrets that pending records name, on every replica safely.

Each round takes a batch of due records and leases them in one transaction (a compare-and-swap
on each record's revision, which the database enforces across replicas): a replica works only
on what it leased, and a lease that outlives a crashed replica simply expires. A deletion that
fails is retried with exponential backoff, at most `max_attempts` times; after that the record
stays, marked, for an operator (see docs/aws-keeper.md), and the failure is logged each time.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from ..keepers.aws import AwsSecretsManager
from ..keepers.errors import KeeperError
from ..store.model import StoredObject
from ..store.store import Store
from ..store.txn import Txn
from .keeper_records import PENDING, target_of
from .periodic import Periodic

log = logging.getLogger("apiserver.keepers.cleanup")

MAX_BACKOFF_SECONDS = 600.0


class KeeperCleanup(Periodic):
    name = "keeper-cleanup"

    def __init__(
        self,
        store: Store,
        aws: AwsSecretsManager,
        holder: str,
        *,
        interval: float = 10.0,
        batch: int = 20,
        lease: float = 120.0,
        max_attempts: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(interval)
        self.store = store
        self.aws = aws
        self.holder = holder  # this replica's name in leases
        self.batch = batch
        self.lease = lease
        self.max_attempts = max_attempts
        self.clock = clock

    def due(self) -> list[StoredObject]:
        now = self.clock()
        found = []
        for stored in self.store.iter_current(PENDING, ""):
            body = stored.body
            if body["due"] <= now and body["leaseUntil"] <= now and body["attempts"] < self.max_attempts:
                found.append(stored)
                if len(found) == self.batch:
                    break
        return found

    async def run_once(self) -> int:
        """One round: lease a batch, delete its secrets in AWS, forget what is gone. Returns how many."""
        candidates = self.due()
        if not candidates:
            return 0
        leased = await self.store.commit(lambda txn: self._lease(txn, candidates))
        done = 0
        for name in leased:
            stored = self.store.get(PENDING, "", name)
            if stored is None or stored.body["leaseHolder"] != self.holder:
                continue
            body = stored.body
            try:
                await self.aws.delete(target_of(body), body["secretId"])
            except KeeperError as exc:
                await self.store.commit(functools.partial(self._postpone, stored=stored, exc=exc))
                continue
            await self.store.commit(functools.partial(_forget, name=name))
            log.info(
                "deleted AWS secret %s (after the %s of securevalues %s/%s)",
                body["secretId"],
                body["reason"],
                body["namespace"],
                body["name"],
            )
            done += 1
        return done

    def _lease(self, txn: Txn, candidates: list[StoredObject]) -> list[str]:
        now = self.clock()
        leased = []
        for candidate in candidates:
            current = txn.get(PENDING, "", candidate.name)
            if current is None or current.revision != candidate.revision:
                continue  # another replica leased it first, or a commit claimed its intent
            body = current.body
            body.update(leaseHolder=self.holder, leaseUntil=now + self.lease, attempts=body["attempts"] + 1)
            txn.update(PENDING, "", candidate.name, body, expected_revision=current.revision)
            leased.append(candidate.name)
        return leased

    def _postpone(self, txn: Txn, stored: StoredObject, exc: KeeperError) -> None:
        current = txn.get(PENDING, "", stored.name)
        if current is None or current.revision != stored.revision:
            return
        body = current.body
        attempts = body["attempts"]
        delay = min(self.interval * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
        body.update(leaseHolder="", leaseUntil=0.0, due=self.clock() + delay, lastError=str(exc))
        txn.update(PENDING, "", stored.name, body, expected_revision=current.revision)
        if attempts >= self.max_attempts:
            log.error(
                "giving up deleting AWS secret %s after %d attempts (%s); delete it by hand, see docs/aws-keeper.md",
                body["secretId"],
                attempts,
                exc,
            )
        else:
            log.warning(
                "deleting AWS secret %s failed (%s); attempt %d of %d, next in %.0fs",
                body["secretId"],
                exc,
                attempts,
                self.max_attempts,
                delay,
            )


def _forget(txn: Txn, name: str) -> None:
    current = txn.get(PENDING, "", name)
    if current is not None:
        txn.delete(PENDING, "", name, expected_revision=current.revision)
