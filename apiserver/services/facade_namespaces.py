"""Namespaces as the InfluxDB facade addresses them: orgs with 16-hex org IDs.

Every namespace carries its facade IDs as annotations (docs/architecture.md, "Facade IDs"). The namespace
strategy indexes the InfluxDB org ID, so finding an org is one indexed lookup. Whether a caller
may address a namespace at all is the Authorizer's answer to "may get this namespace".
"""

from __future__ import annotations

from typing import Any

from ..machinery.context import Principal
from ..machinery.registry import Registry
from ..resources.namespace import NAMESPACES


class FacadeNamespaces:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry  # the namespace registry
        self._store = registry.store
        self._authorizer = registry.authorizer

    def by_influxdb_org_id(self, org_id: str) -> dict[str, Any] | None:
        """The namespace whose org ID is `org_id` (16 lower-case hex characters), or None."""
        stored = self._store.by_index(NAMESPACES.resource, "", org_id)
        return None if stored is None else stored.body

    def all(self) -> list[dict[str, Any]]:
        """Every namespace, by name (authorization is the caller's: see `visible`)."""
        return [stored.body for stored in self._store.iter_current(NAMESPACES.resource, None)]

    def visible(self, principal: Principal, namespace: str) -> bool:
        """Whether the caller may address `namespace` (InfluxDB's `read:orgs/<id>`)."""
        return self._authorizer.can(principal, "get", NAMESPACES, "", namespace)
