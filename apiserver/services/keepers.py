"""Keeper activation: exactly one keeper per namespace is active (the implicit `system` by default)."""

from __future__ import annotations

import copy
from typing import Any

from ..machinery.context import RequestContext
from ..machinery.errors import ApiError, not_found
from ..machinery.registry import Registry
from ..resources.keeper import HEALTHY, KEEPERS, STORING_TYPES, SYSTEM_KEEPER, keeper_type, system_keeper
from ..resources.namespace import NAMESPACES
from ..store.model import ObjectWrite, StoredObject
from ..store.txn import Txn
from .external_values import ExternalValues


class KeeperService:
    def __init__(self, registry: Registry, external: ExternalValues | None = None) -> None:
        self.registry = registry
        self.store = registry.store
        self.external = external

    async def activate(self, ctx: RequestContext, namespace: str, name: str) -> dict[str, Any]:
        """Make `name` the active keeper (`system` deactivates every configured keeper)."""
        self.registry.authorize_write(ctx, "update", namespace, name, operation="activate")
        if self.store.get(NAMESPACES.resource, "", namespace) is None:
            raise not_found(NAMESPACES.resource, namespace)
        stored = self.store.get(KEEPERS.resource, namespace, name)
        if name != SYSTEM_KEEPER and stored is None:
            raise not_found(KEEPERS.resource, name, KEEPERS.group)
        health = None
        if stored is not None:
            health = await self._check(ctx, namespace, stored.body)

        def switch(txn: Txn) -> Any:
            chosen: ObjectWrite | StoredObject | None = None
            for current in list(txn.iter_current(KEEPERS.resource, namespace)):
                should_be = current.name == name
                status = current.body.get("status", {})
                checked = should_be and health is not None and status.get("health") != health
                if bool(status.get("active")) != should_be or checked:
                    body = copy.deepcopy(current.body)
                    body["status"] = {**status, "active": should_be}
                    if should_be and health is not None:
                        body["status"]["health"] = health
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

    async def _check(self, ctx: RequestContext, namespace: str, keeper: dict[str, Any]) -> str | None:
        """Before activation: a keeper that stores values must work now (a dry AssumeRole for aws).

        A refusal (403 or 503 with the AWS error code) is audited and leaves the activation undone. A
        keeper type that cannot store values may be activated, with a warning saying what that means.
        """
        kind = keeper_type(keeper)
        if kind not in STORING_TYPES:
            ctx.warnings.append(
                f"keepers of type {kind!r} cannot store values yet: while this keeper is active, "
                "creating secure values in this namespace is refused"
            )
            return None
        if kind != "aws" or self.external is None:
            return None
        try:
            await self.external.check(keeper)
        except ApiError as exc:
            name = keeper["metadata"]["name"]
            self.registry.auditor.record(ctx, "activate", KEEPERS.resource, namespace, name, "denied", exc.reason)
            raise
        return HEALTHY
