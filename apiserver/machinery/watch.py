"""Watch streams with Kubernetes semantics, fed by the store's shared event fan-out.

Start: no resourceVersion (or "0") sends the current objects as synthetic ADDED events first;
a revision N replays the retained changes after N. Selectors apply to each event: an object
that stops matching is a DELETED event for this watcher, one that starts matching an ADDED.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from typing import Any

from ..store.cache import body_of
from ..store.errors import RevisionExpired
from .context import RequestContext
from .listing import ListOptions, matches
from .registry import Registry

BOOKMARK_INTERVAL = 15.0
# The first thing a watch yields once it is set up (authorized, its start revision retained), before
# waiting for any change: the HTTP edge then sends its response headers.
STARTED: dict[str, Any] = {"type": "STARTED"}


def _status_expired(message: str) -> dict[str, Any]:
    return {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "Expired",
            "code": 410,
        },
    }


def _too_old(exc: RevisionExpired) -> dict[str, Any]:
    return _status_expired(f"too old resource version: {exc.requested} ({exc.oldest})")


async def watch_events(
    registry: Registry,
    ctx: RequestContext,
    namespace: str | None,
    options: ListOptions,
    *,
    timeout: float | None,
    bookmarks: bool,
) -> AsyncGenerator[dict[str, Any], None]:
    rtype = registry.type
    registry.authorizer.authorize(ctx.principal, "watch", rtype, namespace or "")
    store = registry.store
    start = options.resource_version
    initial_at: int | None = None
    try:
        if start in ("", "0"):
            # The current objects are read at the revision the watcher starts after, slice by slice.
            watcher, replay = store.watch(rtype.resource, namespace, None)
            initial_at = store.revision
        else:
            watcher, replay = store.watch(rtype.resource, namespace, int(start))
    except RevisionExpired as exc:
        yield _too_old(exc)
        return
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        yield STARTED
        if initial_at is not None:
            try:
                async with contextlib.aclosing(_initial_events(registry, ctx, namespace, options, initial_at)) as added:
                    async for added_event in added:
                        yield added_event
            except RevisionExpired as exc:  # tens of thousands of writes while a slow client read them
                yield _too_old(exc)
                return
        for event in replay:
            translated = _translate(registry, ctx, options, event)
            if translated is not None:
                yield translated
        last_sent = time.monotonic()
        while not watcher.closed:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            wait = BOOKMARK_INTERVAL if bookmarks else 3600.0
            if deadline is not None:
                wait = min(wait, deadline - now)
            batch = await watcher.next_batch(timeout=max(wait, 0.0))
            for event in batch:
                translated = _translate(registry, ctx, options, event)
                if translated is not None:
                    yield translated
                    last_sent = time.monotonic()
            if bookmarks and time.monotonic() - last_sent >= BOOKMARK_INTERVAL:
                yield {
                    "type": "BOOKMARK",
                    "object": {
                        "kind": rtype.kind,
                        "apiVersion": rtype.api_version,
                        "metadata": {"resourceVersion": str(store.revision)},
                    },
                }
                last_sent = time.monotonic()
        if watcher.overflowed:
            # Too slow to keep up: the client re-lists, as with a real apiserver's dropped watch.
            yield _status_expired("the watcher fell too far behind and was closed; please re-list")
    finally:
        watcher.close()
        await asyncio.sleep(0)


async def _initial_events(
    registry: Registry, ctx: RequestContext, namespace: str | None, options: ListOptions, revision: int
) -> AsyncGenerator[dict[str, Any], None]:
    """A synthetic ADDED event for each object visible to this watch as it was at `revision`."""
    async with contextlib.aclosing(registry.store.scan(registry.type.resource, namespace, revision=revision)) as chunks:
        async for chunk in chunks:
            for _key, entry in chunk:
                body = body_of(entry)
                if _visible(registry, ctx, options, body):
                    yield {"type": "ADDED", "object": body}


def _visible(registry: Registry, ctx: RequestContext, options: ListOptions, body: dict[str, Any] | None) -> bool:
    if body is None or not matches(registry, options, body):
        return False
    meta = body["metadata"]
    return registry.authorizer.can(ctx.principal, "get", registry.type, meta.get("namespace", ""), meta["name"])


def _translate(registry: Registry, ctx: RequestContext, options: ListOptions, event) -> dict[str, Any] | None:
    now_visible = event.type != "DELETED" and _visible(registry, ctx, options, event.object)
    was_visible = _visible(registry, ctx, options, event.previous)
    if event.type == "DELETED":
        return {"type": "DELETED", "object": event.object} if was_visible else None
    if now_visible:
        return {"type": "MODIFIED" if was_visible else "ADDED", "object": event.object}
    if was_visible:  # left the selector: for this watcher it is gone
        return {"type": "DELETED", "object": event.object}
    return None
