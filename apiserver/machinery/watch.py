"""Watch streams with Kubernetes semantics, fed by the store's shared event fan-out.

Start: no resourceVersion (or "0") sends the current objects as synthetic ADDED events first;
a revision N replays the retained changes after N. Selectors apply to each event: an object
that stops matching is a DELETED event for this watcher, one that starts matching an ADDED.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

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
    try:
        if start in ("", "0"):
            watcher, replay = store.watch(rtype.resource, namespace, None)
            initial = store.list_page(rtype.resource, namespace).items
            replay_events: list[dict[str, Any]] = [
                {"type": "ADDED", "object": body} for body in initial if _visible(registry, ctx, options, body)
            ]
        else:
            watcher, replay = store.watch(rtype.resource, namespace, int(start))
            replay_events = []
    except RevisionExpired as exc:
        yield _status_expired(f"too old resource version: {exc.requested} ({exc.oldest})")
        return
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        yield STARTED
        for initial_event in replay_events:
            yield initial_event
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
