"""SecretStore: a Cloudflare Secrets Store store, kept as a record of its own in the same store.

The Cloudflare facade addresses secrets as `store / name`. A store is a small object
(`metadata.name` is its 32-hex id, `spec.name` its display name); the secure values that belong
to it carry the store id in the label `STORE_LABEL`. Stores are internal to the facade, so the
native routes do not serve them: the native surface stays Grafana's `secret.grafana.app` shape.

Two rules need other objects and are checked inside the committing transaction: an account
(namespace) holds at most `max_per_namespace` stores, and a store that still holds secure values
cannot be deleted.
"""

from __future__ import annotations

import re
from typing import Any

from ..machinery.errors import ApiError, Cause, field_error
from ..machinery.strategy import ResourceType, Strategy, TableColumn
from ..machinery.table import age
from ..store.store import Store
from ..store.txn import Txn
from . import load_schema
from .securevalue import SECURE_VALUES

STORE_GROUP = "cloudflare.compat.apiserver.local"
STORE_LABEL = f"{STORE_GROUP}/store-id"
MAX_STORES_PER_NAMESPACE = 1  # Cloudflare's open-beta limit

SECRET_STORES = ResourceType(
    group=STORE_GROUP,
    version="v1",
    resource="secretstores",
    kind="SecretStore",
    singular="secretstore",
    verbs=("create", "delete", "get", "list"),
)

_STORE_ID = re.compile(r"[0-9a-f]{32}")


class StoreLimitExceeded(ApiError):
    """An account already holds as many stores as it may (Cloudflare: 400 `maximum_stores_exceeded`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            400,
            "StoreLimitExceeded",
            f"an account may hold at most {limit} secrets store(s)",
            STORE_GROUP,
            SECRET_STORES.resource,
        )


class StoreNotEmpty(ApiError):
    """A store that still holds secrets cannot be deleted (Cloudflare: 409 `store_not_empty`)."""

    def __init__(self, store_id: str) -> None:
        super().__init__(
            409,
            "StoreNotEmpty",
            f'the secrets store "{store_id}" still holds secrets',
            STORE_GROUP,
            SECRET_STORES.resource,
            store_id,
        )


def store_secrets(txn: Txn, namespace: str, store_id: str) -> list[str]:
    """Names of the secure values bound to a store as `txn` sees them (a scan of the namespace, which
    decodes only values whose JSON holds the store id), writes pending in the same batch included."""
    return [
        stored.name
        for stored in txn.iter_current(SECURE_VALUES.resource, namespace)
        if stored.may_hold(store_id) and (stored.body["metadata"].get("labels") or {}).get(STORE_LABEL) == store_id
    ]


def in_a_store(body: dict[str, Any]) -> bool:
    """Whether a secure value is bound to a store of its namespace (what a secrets quota counts)."""
    return STORE_LABEL in (body["metadata"].get("labels") or {})


class SecretStoreStrategy(Strategy):
    type = SECRET_STORES
    table_columns = (
        TableColumn("Name", format="name", description="The store id"),
        TableColumn("Display Name", description="The name the store was created with"),
        TableColumn("Age", description="Time since creation"),
    )

    def __init__(self, store: Store, max_per_namespace: int = MAX_STORES_PER_NAMESPACE) -> None:
        self.schema = load_schema("secretstore.json")
        self.store = store
        self.max_per_namespace = max_per_namespace

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        new.pop("status", None)

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        name = obj["metadata"].get("name") or ""
        if not _STORE_ID.fullmatch(name):
            return [field_error("invalid", "metadata.name", "must be 32 lowercase hexadecimal characters", name)]
        return []

    def check_in_transaction(self, txn: Txn, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if old is not None:
            return
        namespace = obj["metadata"]["namespace"]
        resource = SECRET_STORES.resource
        # The stores as this transaction sees them: committed ones and those pending in the batch.
        alive = sum(1 for _ in txn.iter_current(resource, namespace))
        if alive >= self.max_per_namespace:
            raise StoreLimitExceeded(self.max_per_namespace)

    def check_delete(self, txn: Txn, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if store_secrets(txn, meta["namespace"], meta["name"]):
            raise StoreNotEmpty(meta["name"])

    def table_cells(self, obj: dict[str, Any]) -> list[Any]:
        return [obj["metadata"]["name"], obj["spec"].get("name", ""), age(obj["metadata"].get("creationTimestamp"))]
