"""Namespace (core v1): tenancy. Each namespace carries the IDs the facades address it by.

They are an InfluxDB org ID (16 hex characters; `default` is 1 and `org-N` is N,
as Grafana numbers its orgs) and a Cloudflare account ID (32 hex characters). Both are derived
from the name, so they are stable across a delete and re-create, and shown as annotations.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..machinery.errors import Cause, conflict, field_error, forbidden
from ..machinery.names import dns1123_label_errors
from ..machinery.strategy import ResourceType, Strategy, TableColumn
from ..machinery.table import age
from ..store.store import Store
from ..store.txn import Txn
from . import CLOUDFLARE_ACCOUNT_ID, INFLUXDB_ORG_ID, load_schema

DEFAULT_NAMESPACE = "default"
NAMESPACES = ResourceType(
    group="",
    version="v1",
    resource="namespaces",
    kind="Namespace",
    singular="namespace",
    namespaced=False,
    short_names=("ns",),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
)
_NAMED_REMAINING = 3  # a refused delete names this many objects of each kind, then counts the rest
_ORG_NAME = re.compile(r"org-([1-9][0-9]{0,18})")


def influxdb_org_id(name: str) -> str:
    if name == DEFAULT_NAMESPACE:
        return f"{1:016x}"
    numbered = _ORG_NAME.fullmatch(name)
    if numbered and int(numbered.group(1)) < 2**63:
        return f"{int(numbered.group(1)):016x}"
    # Hashed IDs keep the top bit set, so they never collide with a numbered org's.
    digest = int.from_bytes(hashlib.sha256(b"influxdb-org\x00" + name.encode()).digest()[:8], "big")
    return f"{digest | (1 << 63):016x}"


def cloudflare_account_id(name: str) -> str:
    return hashlib.sha256(b"cloudflare-account\x00" + name.encode()).hexdigest()[:32]


class NamespaceStrategy(Strategy):
    type = NAMESPACES
    table_columns = (
        TableColumn("Name", format="name", description="Name of the namespace"),
        TableColumn("Status", description="The phase of the namespace"),
        TableColumn("Age", description="Time since creation"),
    )

    def __init__(self, store: Store) -> None:
        self.schema = load_schema("namespace.json")
        self.store = store

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"phase": "Active"}
        obj["spec"] = {"finalizers": ["kubernetes"]}
        self._assign_ids(obj)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        new["status"] = old["status"]
        new["spec"] = old.get("spec", {})
        self._assign_ids(new)

    @staticmethod
    def _assign_ids(obj: dict[str, Any]) -> None:
        """The facade IDs are server-owned: whatever a client sends, they follow from the name."""
        meta = obj["metadata"]
        name = meta.get("name") or ""
        annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
        meta["annotations"] = {
            **annotations,
            INFLUXDB_ORG_ID: influxdb_org_id(name),
            CLOUDFLARE_ACCOUNT_ID: cloudflare_account_id(name),
        }
        labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
        meta["labels"] = {**labels, "kubernetes.io/metadata.name": name}

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        name = obj["metadata"].get("name") or ""
        return [
            field_error("invalid", "metadata.name", d, name) for d in dns1123_label_errors(name) if len(name) <= 253
        ]  # longer names were already reported as subdomains

    def index_key(self, obj: dict[str, Any]) -> str | None:
        return obj["metadata"]["annotations"][INFLUXDB_ORG_ID]

    def check_delete(self, txn: Txn, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if name == DEFAULT_NAMESPACE:
            raise forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted', "namespaces", name)
        # Every kind counts, the facades' own (Cloudflare secrets stores) included: whatever stayed
        # behind would silently come back with a namespace created again under the same name.
        remaining = [_remaining(resource, txn, name) for resource in txn.resources_in(name)]
        if remaining:
            held = "; ".join(remaining)
            raise conflict("namespaces", name, "", f"the namespace still holds {held}; delete them first")

    def table_cells(self, obj: dict[str, Any]) -> list[Any]:
        return [
            obj["metadata"]["name"],
            obj.get("status", {}).get("phase", "Active"),
            age(obj["metadata"].get("creationTimestamp")),
        ]


def _remaining(resource: str, txn: Txn, namespace: str) -> str:
    """`securevalues "a", "b", "c" and 4 more`: what of one kind keeps the namespace from going."""
    names = sorted(stored.name for stored in txn.iter_current(resource, namespace))
    shown = ", ".join(f'"{n}"' for n in names[:_NAMED_REMAINING])
    rest = len(names) - _NAMED_REMAINING
    return f"{resource} {shown}" + (f" and {rest} more" if rest > 0 else "")
