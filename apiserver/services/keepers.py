"""Keeper activation: exactly one keeper per namespace is active (the implicit `system` by default)."""

from __future__ import annotations

import copy
from typing import Any

from ..machinery.context import RequestContext
from ..machinery.errors import not_found
from ..machinery.registry import Registry
from ..resources.keeper import KEEPERS, SYSTEM_KEEPER, system_keeper
from ..resources.namespace import NAMESPACES
from ..store.model import ObjectWrite, StoredObject
from ..store.txn import Txn


class KeeperService:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.store = registry.store

    async def activate(self, ctx: RequestContext, namespace: str, name: str) -> dict[str, Any]:
        """Make `name` the active keeper (`system` deactivates every configured keeper)."""
        self.registry.authorize_write(ctx, "update", namespace, name, operation="activate")
        if self.store.get(NAMESPACES.resource, "", namespace) is None:
            raise not_found(NAMESPACES.resource, namespace)
        if name != SYSTEM_KEEPER and self.store.get(KEEPERS.resource, namespace, name) is None:
            raise not_found(KEEPERS.resource, name, KEEPERS.group)

        def switch(txn: Txn) -> Any:
            chosen: ObjectWrite | StoredObject | None = None
            for current in list(txn.iter_current(KEEPERS.resource, namespace)):
                should_be = current.name == name
                if bool(current.body.get("status", {}).get("active")) != should_be:
                    body = copy.deepcopy(current.body)
                    body["status"] = {**body.get("status", {}), "active": should_be}
                    write = txn.update(
                        KEEPERS.resource,
                        namespace,
                        current.name,
                        body,
                        expected_revision=current.revision,
                        index_key=current.index_key,
                    )
                    if should_be:
                        chosen = write
                elif should_be:
                    chosen = current
            if name != SYSTEM_KEEPER and chosen is None:
                raise not_found(KEEPERS.resource, name, KEEPERS.group)
            return chosen

        self.registry.auditor.check_available()
        chosen = await self.store.commit(switch)
        self.registry.auditor.record(ctx, "activate", KEEPERS.resource, namespace, name, "success")
        return system_keeper(namespace, True) if chosen is None else chosen.body
