"""Consistent reads across replicas, at the edge, for every surface at once.

Kubernetes semantics: a request without `resourceVersion` (and every write) sees every write
acknowledged before it began, on any replica; so the store's cache first catches up with the
database's current revision. `resourceVersion=0` asks for "any" state and is served from the
cache as it is. With a single-process backend `sync` is a no-op.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from .middlewares import SURFACES, Handler

STORE_SYNC: web.AppKey[Callable[[], Awaitable[None]]] = web.AppKey("store_sync")


@web.middleware
async def consistent_reads(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sync the store before the handler runs (before authentication too: tokens live in the store)."""
    sync = request.app.get(STORE_SYNC)
    if sync is not None and not _any_state_will_do(request):
        await sync()  # StoreUnavailable here is a 503, rendered by the errors middleware
    return await handler(request)


def _any_state_will_do(request: web.Request) -> bool:
    if request.method == "OPTIONS" or request.app[SURFACES].is_public(request.path):
        return True
    return request.method in ("GET", "HEAD") and request.query.get("resourceVersion") == "0"
