"""The store's memory of AWS secrets: those we own, and those that must go.

Two internal, cluster-scoped record kinds (no API serves them):

- an *owned* record per secure value whose AWS secret we created, keyed by the value's uid: the
  secret's ARN, the version the value points at, and the role to reach it. It is written in the
  same transaction as the secure value, so the two never disagree.
- a *pending* record per AWS secret that should not exist unless an owned record claims it. A
  create writes one (an intent, due after a grace period) before it calls AWS, and the create's
  transaction removes it; a delete turns the owned record into one (due at once) in the deleting
  transaction. The cleanup worker deletes what pending records name. So a crash at any point
  leaves a record behind that leads to the AWS secret, never an unrecorded secret.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..keepers.aws import AwsTarget
from ..store.txn import Txn

OWNED = "awssecrets.keepers.apiserver.local"
PENDING = "awsdeletions.keepers.apiserver.local"


def pending_name(secret_name: str) -> str:
    """The pending record of an AWS secret name: a fixed-length key, whatever the name's length."""
    return "del-" + hashlib.sha256(secret_name.encode()).hexdigest()[:40]


def target_body(target: AwsTarget) -> dict[str, str]:
    return {"region": target.region, "roleArn": target.role_arn, "externalID": target.external_id}


def target_of(body: dict[str, Any]) -> AwsTarget:
    t = body["target"]
    return AwsTarget(t["region"], t["roleArn"], t["externalID"])


def pending_body(
    secret_id: str, target: AwsTarget, namespace: str, name: str, reason: str, due: float
) -> dict[str, Any]:
    return {
        "metadata": {"name": pending_name(secret_id)},
        "secretId": secret_id,
        "target": target_body(target),
        "namespace": namespace,
        "name": name,
        "reason": reason,  # "create": an intent that a commit may still claim; "delete": a deleted value's
        "due": due,
        "attempts": 0,
        "leaseHolder": "",
        "leaseUntil": 0.0,
        "lastError": "",
    }


def mark_for_deletion(txn: Txn, uid: str, now: float) -> None:
    """In a deleting transaction: the value's owned secret (if any) becomes a pending deletion."""
    owned = txn.get(OWNED, "", uid)
    if owned is None:
        return  # a `ref` to a secret we do not own, or a value of the system keeper
    body = owned.body
    secret_id = body["arn"]
    txn.delete(OWNED, "", uid, expected_revision=owned.revision)
    key = pending_name(secret_id)
    if txn.get(PENDING, "", key) is None:
        record = pending_body(secret_id, target_of(body), body["namespace"], body["name"], "delete", now)
        txn.create(PENDING, "", key, record)
