"""A write that a registry has prepared (authorized, validated, its payload encrypted) for its commit.

`Registry.commit` stores the prepared writes of one or several registries in one transaction, so
each prepared write names the registry whose rules write it (`WriteOwner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .context import RequestContext
from .strategy import PayloadWriter, ResourceType

if TYPE_CHECKING:
    from ..store.txn import Txn


class WriteOwner(Protocol):
    """The registry a prepared write belongs to, as its commit sees it."""

    type: ResourceType

    def write_in(self, txn: Txn, p: Prepared) -> Any: ...

    def store_refusal(self, ctx: RequestContext, p: Prepared, exc: Exception) -> Exception: ...

    def audit(
        self, ctx: RequestContext, operation: str, namespace: str, name: str, outcome: str, reason: str = ""
    ) -> None: ...


class LostRace(Exception):
    """An unconditional update lost a race; it is recomputed on the new state."""


@dataclass
class Prepared:
    """An authorized, validated write (its payload encrypted) waiting for `Registry.commit`."""

    registry: WriteOwner
    namespace: str
    obj: dict[str, Any]
    old_revision: int | None  # None: a create
    payload: Any
    old_body: dict[str, Any] | None = None
    precondition: str | None = None
    generate_prefix: str | None = None
    unchanged: bool = False
    payload_writer: PayloadWriter | None = None
    deleting: bool = False  # from prepare_delete: `obj` is the object being deleted

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def operation(self) -> str:
        if self.deleting:
            return "delete"
        return "create" if self.old_revision is None else "update"

    def concerns(self, exc: Exception) -> bool:
        return (getattr(exc, "resource", None), getattr(exc, "namespace", None), getattr(exc, "name", None)) == (
            self.registry.type.resource,
            self.namespace,
            self.name,
        )

    def dry_run_result(self) -> dict[str, Any]:
        if self.old_revision is not None:
            self.obj["metadata"]["resourceVersion"] = str(self.old_revision)
        return self.obj
