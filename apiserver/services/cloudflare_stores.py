"""Cloudflare accounts and Secrets Store stores, as services the Cloudflare facade calls.

An account is a namespace, addressed by its 32-hex account id (the namespace annotation
`CLOUDFLARE_ACCOUNT_ID`). A store is a `SecretStore` record (resources.secretstore) in that
namespace. Everything here is governed by the secure-values permissions of the namespace: a
store only groups secrets, so whoever may read (write) the namespace's secrets may read (write)
its stores. Writes that change how many stores or secrets an account holds are serialised per
namespace, so the limits hold under concurrent requests.
"""

from __future__ import annotations

import asyncio
import builtins
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ..machinery.context import Authorizer, Principal, RequestContext
from ..machinery.errors import forbidden
from ..machinery.registry import Registry
from ..machinery.strategy import ResourceType
from ..resources import CLOUDFLARE_ACCOUNT_ID
from ..resources.namespace import NAMESPACES
from ..resources.secretstore import SECRET_STORES, in_a_store
from ..resources.securevalue import SECURE_VALUES
from ..store.store import Store

# Deletes every secret of a store (namespace, store id): what `force` asks for.
EmptyStore = Callable[[RequestContext, str, str], Awaitable[None]]


class SecureValuesAuthority:
    """An Authorizer for stores that asks the one for secure values in the same namespace.

    A store is not a secure value, so the question is asked for the namespace, without a name:
    a store needs what the namespace's secure values need for the same verb.
    """

    def __init__(self, inner: Authorizer) -> None:
        self.inner = inner

    def can(self, principal: Principal, verb: str, rtype: ResourceType, namespace: str, name: str = "") -> bool:
        return self.inner.can(principal, verb, SECURE_VALUES, namespace)

    def authorize(self, principal: Principal, verb: str, rtype: ResourceType, namespace: str, name: str = "") -> None:
        self.inner.authorize(principal, verb, SECURE_VALUES, namespace)


def authentication_error() -> Exception:
    """Cloudflare answers an unknown or forbidden account as it answers a bad token."""
    return forbidden("Authentication error")


@dataclass(frozen=True)
class Account:
    id: str
    namespace: str
    created: str  # RFC 3339


def _account(namespace: dict[str, Any]) -> Account | None:
    meta = namespace["metadata"]
    account_id = (meta.get("annotations") or {}).get(CLOUDFLARE_ACCOUNT_ID)
    return Account(account_id, meta["name"], meta["creationTimestamp"]) if account_id else None


class CloudflareAccounts:
    """Maps account ids to namespaces and decides which accounts a principal may use."""

    def __init__(self, store: Store, authorizer: Authorizer) -> None:
        self.store = store
        self.authorizer = authorizer
        self._by_id: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def visible(self, ctx: RequestContext) -> builtins.list[Account]:
        """The accounts whose secrets the caller may list, by namespace name."""
        accounts = (_account(stored.body) for stored in self.store.iter_current(NAMESPACES.resource, ""))
        return [a for a in accounts if a and self.authorizer.can(ctx.principal, "list", SECURE_VALUES, a.namespace)]

    def get(self, ctx: RequestContext, account_id: str) -> Account:
        namespace = self.resolve(ctx, account_id, "list")
        stored = self.store.get(NAMESPACES.resource, "", namespace)
        account = _account(stored.body) if stored is not None else None
        if account is None:
            raise authentication_error()
        return account

    def resolve(self, ctx: RequestContext, account_id: str, verb: str) -> str:
        """The namespace of `account_id` if the caller may `verb` its secrets; else a 403 (no oracle)."""
        namespace = self._namespace_of(account_id)
        if namespace is None or not self.authorizer.can(ctx.principal, verb, SECURE_VALUES, namespace):
            raise authentication_error()
        return namespace

    def _namespace_of(self, account_id: str) -> str | None:
        namespace = self._by_id.get(account_id)
        if namespace is None or self.store.get(NAMESPACES.resource, "", namespace) is None:
            # Ids are derived from names, so entries never go stale; rebuild only on a miss.
            self._by_id = {}
            for stored in self.store.iter_current(NAMESPACES.resource, ""):
                annotations = stored.body["metadata"].get("annotations") or {}
                if annotations.get(CLOUDFLARE_ACCOUNT_ID):
                    self._by_id[annotations[CLOUDFLARE_ACCOUNT_ID]] = stored.name
            namespace = self._by_id.get(account_id)
        return namespace

    @asynccontextmanager
    async def serialised(self, namespace: str) -> AsyncIterator[None]:
        """Hold the account's write lock: counting and writing happen without interleaving."""
        lock = self._locks.setdefault(namespace, asyncio.Lock())
        async with lock:
            yield


def new_store(name: str) -> dict[str, Any]:
    return {
        "apiVersion": SECRET_STORES.api_version,
        "kind": SECRET_STORES.kind,
        "metadata": {"name": uuid.uuid4().hex},
        "spec": {"name": name},
    }


class CloudflareStores:
    """Create, read and delete stores through the generic registry of `SecretStore`."""

    def __init__(self, registry: Registry, accounts: CloudflareAccounts) -> None:
        self.registry = registry
        self.accounts = accounts

    def list(self, ctx: RequestContext, namespace: str) -> builtins.list[dict[str, Any]]:
        self.registry.authorizer.authorize(ctx.principal, "list", SECRET_STORES, namespace)
        return [s.body for s in self.registry.store.iter_current(SECRET_STORES.resource, namespace)]

    def get(self, ctx: RequestContext, namespace: str, store_id: str) -> dict[str, Any]:
        return self.registry.get(ctx, namespace, store_id)

    async def secret_count(self, ctx: RequestContext, namespace: str) -> int:
        """The secure values bound to any store of the account, visible to the caller or not."""
        self.registry.authorizer.authorize(ctx.principal, "list", SECRET_STORES, namespace)
        return await self.registry.store.count_where(SECURE_VALUES.resource, namespace, in_a_store)

    async def create(
        self, ctx: RequestContext, namespace: str, names: builtins.list[str]
    ) -> builtins.list[dict[str, Any]]:
        """Create one store per name, all in one transaction (so a limit refuses all or none)."""
        async with self.accounts.serialised(namespace):
            prepared = [await self.registry.prepare_create(ctx, namespace, new_store(name)) for name in names]
            return await self.registry.commit(ctx, prepared)

    async def delete(
        self, ctx: RequestContext, namespace: str, store_id: str, empty_first: EmptyStore | None = None
    ) -> None:
        """Delete a store; `empty_first` deletes its secrets first (`force`), else a non-empty store is a 409."""
        async with self.accounts.serialised(namespace):
            self.registry.get(ctx, namespace, store_id)
            if empty_first is not None:
                await empty_first(ctx, namespace, store_id)
            await self.registry.delete(ctx, namespace, store_id)
