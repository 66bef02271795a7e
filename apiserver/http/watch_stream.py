"""Serving a watch: headers at once, one event per chunk, released as soon as its client or the server goes.

A watch may have nothing to send for a long time. Its response headers go out as soon as the
watch is set up (clients such as the Kubernetes JavaScript client time out a request whose headers
never come); a client that went away is noticed within a second, not at the next matching event;
and shutdown ends every open watch at once, as kube-apiserver's does, instead of waiting for them.
An idle watch sends a single space now and then, so that nothing between it and its client takes
it for a dead connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any

from aiohttp import web

from ..machinery.watch import STARTED
from ..ops.metrics import Metrics

log = logging.getLogger("apiserver.watch")
CLIENT_CHECK_SECONDS = 1.0  # how often an idle watch checks that its client is still connected
# An idle watch sends one space this often: JSON whitespace that every client's decoder skips, and
# data enough for clients and proxies that drop a quiet connection (the Kubernetes JavaScript
# client aborts a watch after 30 seconds without data).
KEEPALIVE_SECONDS = 10.0


class OpenWatches:
    """The watches being served, so that shutdown can end them."""

    def __init__(self) -> None:
        self._stops: set[asyncio.Event] = set()

    def open(self) -> asyncio.Event:
        stop = asyncio.Event()
        self._stops.add(stop)
        return stop

    def close(self, stop: asyncio.Event) -> None:
        self._stops.discard(stop)

    def __len__(self) -> int:
        return len(self._stops)

    async def end_all(self, _app: web.Application | None = None) -> None:
        for stop in self._stops:
            stop.set()


OPEN_WATCHES = web.AppKey("open_watches", OpenWatches)


def setup(app: web.Application, metrics: Metrics) -> None:
    app[OPEN_WATCHES] = watches = OpenWatches()
    app.on_shutdown.append(watches.end_all)
    metrics.add_sampler("apiserver_open_watches", "Watches being served.", (), lambda: [((), len(watches))])


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def stream_events(
    request: web.Request, events: AsyncGenerator[dict[str, Any], None], encode: Callable[[dict[str, Any], int], bytes]
) -> web.StreamResponse:
    """Send `events` (after the watch's STARTED marker) as a chunked stream; `encode(event, index)` makes a line."""
    first = await anext(events, None)  # authorization and 410s surface here, before the 200 is sent
    response = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
    response.enable_chunked_encoding()
    await response.prepare(request)  # sends the headers now
    watches = request.app[OPEN_WATCHES]
    stop = watches.open()
    stopping = asyncio.ensure_future(stop.wait())
    pending: asyncio.Future | None = None
    index, ended = 0, "the watch ended"
    loop = asyncio.get_running_loop()
    last_write = loop.time()
    try:
        if first is not None and first is not STARTED:
            await response.write(encode(first, index))
            index += 1
        if first is STARTED:
            pending = asyncio.ensure_future(anext(events, None))
        while pending is not None:
            done, _ = await asyncio.wait(
                (pending, stopping), timeout=CLIENT_CHECK_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if pending in done:
                event = pending.result()
                if event is None:
                    break
                await response.write(encode(event, index))  # one whole event per chunk
                index, last_write = index + 1, loop.time()
                pending = asyncio.ensure_future(anext(events, None))
            elif stopping in done:
                ended = "the server is shutting down"
                break
            elif _client_gone(request):
                ended = "its client went away"
                break
            elif loop.time() - last_write >= KEEPALIVE_SECONDS:
                await response.write(b" ")
                last_write = loop.time()
    except ConnectionError:  # the client went away while an event was being written
        ended = "its client went away"
    finally:
        log.debug("watch %s released after %d events: %s", request.path, index, ended)
        watches.close(stop)
        for task in (pending, stopping):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await task
        await events.aclose()
    with contextlib.suppress(ConnectionError):
        if not _client_gone(request):
            await response.write_eof()
    return response
