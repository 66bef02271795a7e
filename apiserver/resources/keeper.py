"""Keeper: where secure values are kept. The `system` keeper is implicit; others are configured.

Rules and messages follow Grafana's `validator/keeper.go`. Only one keeper per namespace is
active; a new keeper starts inactive and is chosen with the `activate` action (services).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..machinery.errors import Cause, Conflict, conflict, conflict_message, field_error
from ..machinery.strategy import ResourceType, Strategy, TableColumn
from ..machinery.table import age
from ..store.model import StoredObject
from ..store.store import Store
from ..store.txn import Txn
from . import GROUP, VERSION, load_schema

SYSTEM_KEEPER = "system"
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d+:role/[\w+=,.@/-]+")
PROVIDERS = ("aws", "azure", "gcp", "hashiCorpVault")
HEALTHY = "Healthy"  # status.health of a keeper whose last check passed
STORING_TYPES = (SYSTEM_KEEPER, "aws")  # the keeper types that can hold values; the others are configuration only

KEEPERS = ResourceType(
    group=GROUP, version=VERSION, resource="keepers", kind="Keeper", singular="keeper", categories=("secrets",)
)


def active_keeper(keepers: Iterable[StoredObject]) -> str:
    """The active one of a namespace's keepers; `system` when no configured keeper is active."""
    for stored in keepers:
        if stored.body.get("status", {}).get("active"):
            return stored.name
    return SYSTEM_KEEPER


def keeper_type(obj: dict[str, Any]) -> str:
    spec = obj.get("spec") or {}
    return next((p for p in PROVIDERS if spec.get(p) is not None), SYSTEM_KEEPER)


class KeeperActivatedMeanwhile(Conflict):
    """Two activations raced: the one that committed second is recomputed on the first one's result."""


class KeeperStrategy(Strategy):
    type = KEEPERS
    generate_name_prefix = "kp-"
    table_columns = (
        TableColumn("Name", format="name", description="Name of the keeper"),
        TableColumn("Description", description="What the keeper is for"),
        TableColumn("Type", description="The provider: aws, azure, gcp or hashiCorpVault"),
        TableColumn("Active", type="boolean", description="Whether new secure values go to this keeper"),
        TableColumn("Health", description="The result of the last check of the keeper's configuration"),
        TableColumn("Age", description="Time since creation"),
    )

    def __init__(self, store: Store) -> None:
        self.schema = load_schema("keeper.json")
        self.store = store

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"active": False}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        if new.get("spec") != old.get("spec") and isinstance(new.get("status"), dict):
            new["status"] = {k: v for k, v in new["status"].items() if k != "health"}  # checked again on activation

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        causes: list[Cause] = []
        if obj["metadata"].get("name") == SYSTEM_KEEPER:
            causes.append(field_error("forbidden", "metadata.name", "the keeper name `system` is reserved"))
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return causes
        configured = [p for p in PROVIDERS if spec.get(p) is not None]
        if not configured:
            causes.append(field_error("required", "spec", "at least one `keeper` must be present"))
        elif len(configured) > 1:
            causes.append(
                field_error(
                    "invalid",
                    "spec",
                    "only one `keeper` can be present at a time but found more",
                    ", ".join(configured),
                )
            )
        aws = spec.get("aws")
        if isinstance(aws, dict):
            causes += _aws_causes(aws)
        return causes

    def check_in_transaction(self, txn: Txn, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """At most one keeper is active: an activation that raced another one is refused (and retried)."""
        if not obj.get("status", {}).get("active"):
            return
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        for stored in txn.iter_current(KEEPERS.resource, namespace):
            if stored.name != name and stored.body.get("status", {}).get("active"):
                raise KeeperActivatedMeanwhile(
                    conflict_message(KEEPERS.resource, name, GROUP, "another keeper was activated meanwhile"),
                    GROUP,
                    KEEPERS.resource,
                    name,
                )

    def check_delete(self, txn: Txn, obj: dict[str, Any]) -> None:
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        for stored in txn.iter_current("securevalues", namespace):
            # Decoding every value of a large namespace here, in the commit, held the event loop ~40 ms.
            if stored.may_hold(name) and stored.body.get("status", {}).get("keeper") == name:
                raise conflict(
                    KEEPERS.resource,
                    name,
                    GROUP,
                    f'the keeper is used by securevalues "{stored.name}" and cannot be deleted',
                )

    def table_cells(self, obj: dict[str, Any]) -> list[Any]:
        return [
            obj["metadata"]["name"],
            obj.get("spec", {}).get("description", ""),
            keeper_type(obj),
            bool(obj.get("status", {}).get("active")),
            _health(obj),
            age(obj["metadata"].get("creationTimestamp")),
        ]


def _health(obj: dict[str, Any]) -> str:
    if keeper_type(obj) not in STORING_TYPES:
        return "CannotStoreValues"
    return obj.get("status", {}).get("health") or "Unchecked"


def _aws_causes(aws: dict[str, Any]) -> list[Cause]:
    causes = []
    if not aws.get("region"):
        causes.append(field_error("required", "spec.aws.region", "region must be present"))
    role = aws.get("assumeRole")
    if not isinstance(role, dict):
        causes.append(field_error("required", "spec.aws", "`assumeRole` must be present"))
        return causes
    arn = role.get("assumeRoleArn")
    if not arn:
        causes.append(
            field_error("required", "spec.aws.assumeRole.assumeRoleArn", "arn of the role to assume must be present")
        )
    elif isinstance(arn, str) and not _ROLE_ARN.fullmatch(arn):
        causes.append(
            field_error(
                "invalid",
                "spec.aws.assumeRole.assumeRoleArn",
                "must be the ARN of an IAM role: arn:PARTITION:iam::ACCOUNT:role/NAME",
                arn,
            )
        )
    if not role.get("externalID"):
        causes.append(field_error("required", "spec.aws.assumeRole.externalID", "externalID must be present"))
    return causes


def system_keeper(namespace: str, active: bool) -> dict[str, Any]:
    """The implicit system keeper, shown when it is activated."""
    return {
        "apiVersion": KEEPERS.api_version,
        "kind": KEEPERS.kind,
        "metadata": {"name": SYSTEM_KEEPER, "namespace": namespace},
        "spec": {"description": "Built-in encrypted store"},
        "status": {"active": active},
    }
