"""What a kind plugs into the generic machinery: its type description and a small strategy.

This is the Kubernetes registry pattern: one generic registry and handler set serve every kind;
each kind says how to prepare, validate and present its objects. A strategy knows nothing of
HTTP and nothing of other kinds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .errors import Cause

if TYPE_CHECKING:
    from ..store.txn import Txn
    from .schema import ObjectSchema


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    resource: str  # plural, lower case
    kind: str
    singular: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    field_selectors: tuple[str, ...] = ("metadata.name", "metadata.namespace")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified(self) -> str:
        """`securevalues.secret.grafana.app`, the name Kubernetes messages use."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True)
class TableColumn:
    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0  # 1 = shown only with -o wide


# Writes an encrypted payload inside the object's transaction.
PayloadWriter = Callable[["Txn"], None]


class Payload(Protocol):
    """A write-only part of an object (a secure value's `spec.value`), kept outside the stored body.

    The machinery takes it out of a request before anything is stored or logged, has it encrypted
    before the transaction, and has it written in the same transaction as the object.
    """

    def take(self, obj: dict[str, Any]) -> Any | None:
        """Remove the payload from `obj` (in place) and return it, or None if absent."""

    async def unchanged(self, old: dict[str, Any], payload: Any | None) -> bool:
        """Whether writing `payload` over `old` would leave the stored payload as it is."""

    async def prepare_write(
        self, new: dict[str, Any], old: dict[str, Any] | None, payload: Any | None
    ) -> PayloadWriter | None:
        """Encrypt the payload of `new` (outside the transaction); what writes it, or None for no write."""

    def destroy(self, txn: Txn, obj: dict[str, Any]) -> None:
        """Destroy every stored payload of `obj`, in the deleting transaction."""


class Strategy:
    """Defaults for a kind without special rules; kinds override what they need."""

    type: ResourceType
    schema: ObjectSchema
    generate_name_prefix: str = ""
    payload: Payload | None = None
    table_columns: tuple[TableColumn, ...] = (TableColumn("Name", format="name"),)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        """Reset what clients may not set (status) and fill defaults."""
        obj.pop("status", None)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Carry over what clients may not change through an update (status)."""
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """A status write (the server's, never a client's) changes the status and nothing else."""
        status = new.get("status")
        new.clear()
        new.update(copy.deepcopy(old))
        if status is None:
            new.pop("status", None)
        else:
            new["status"] = status

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        """Semantic rules beyond the schema; `old` is None on create. Pure: it changes nothing."""
        return []

    def canonicalize(self, obj: dict[str, Any]) -> None:
        """Bring a valid object into its stored form (after `validate`, as Kubernetes' Canonicalize)."""

    def check_in_transaction(self, txn: Txn, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Rules that depend on other objects, checked at commit time (raise ApiError)."""

    def check_delete(self, txn: Txn, obj: dict[str, Any]) -> None:
        """Refuse a delete that would break other objects (raise ApiError)."""

    def new_version(self, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Advance kind-specific version counters when a write really changes the object."""

    def index_key(self, obj: dict[str, Any]) -> str | None:
        """A secondary key that must be unique per namespace, looked up without a scan."""
        return None

    def field_values(self, obj: dict[str, Any]) -> dict[str, str | list[str]]:
        meta = obj.get("metadata", {})
        return {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "")}

    def table_cells(self, obj: dict[str, Any]) -> list[Any]:
        return [obj["metadata"]["name"]]
