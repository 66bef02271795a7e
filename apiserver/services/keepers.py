"""Keeper activation: exactly one keeper per namespace is active (the implicit `system` by default)."""

from __future__ import annotations

from typing import Any

from ..machinery.context import RequestContext
from ..machinery.errors import ApiError, Conflict, not_found
from ..machinery.prepared import Prepared
from ..machinery.registry import Registry
from ..resources.keeper import (
    HEALTHY,
    KEEPERS,
    STORING_TYPES,
    SYSTEM_KEEPER,
    KeeperActivatedMeanwhile,
    keeper_type,
    system_keeper,
)
from ..resources.namespace import NAMESPACES
from .external_values import ExternalValues

_RETRIES = 8


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

        for attempt in range(_RETRIES):
            try:
                chosen = await self._switch(ctx, namespace, name, health)
                break
            except (KeeperActivatedMeanwhile, Conflict):
                if attempt == _RETRIES - 1:
                    raise
        self.registry.auditor.record(ctx, "activate", KEEPERS.resource, namespace, name, "success")
        return system_keeper(namespace, True) if chosen is None else chosen

    async def _switch(
        self, ctx: RequestContext, namespace: str, name: str, health: str | None
    ) -> dict[str, Any] | None:
        """Status writes through the registry: the others deactivated first, the chosen one last."""
        writes: list[Prepared] = []
        chosen: dict[str, Any] | None = None
        for current in sorted(self.store.iter_current(KEEPERS.resource, namespace), key=lambda s: s.name == name):
            should_be = current.name == name
            status = current.body.get("status", {})
            checked = should_be and health is not None and status.get("health") != health
            if bool(status.get("active")) == should_be and not checked:
                chosen = current.body if should_be else chosen
                continue
            new_status = {**status, "active": should_be}
            if should_be and health is not None:
                new_status["health"] = health
            prepared = await self.registry.prepare_status_update(
                ctx, namespace, current.name, new_status, str(current.revision), part_of=name, operation="activate"
            )
            writes.append(prepared)
        if name != SYSTEM_KEEPER and chosen is None and not any(p.name == name for p in writes):
            raise not_found(KEEPERS.resource, name, KEEPERS.group)  # deleted meanwhile
        results = await self.registry.commit(ctx, writes) if writes else []
        for prepared, result in zip(writes, results, strict=True):
            if prepared.name == name:
                chosen = result
        return chosen

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
