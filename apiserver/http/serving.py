"""Running the application: aiohttp's runner, with every connection behind the ConnectionGuard.

This is `aiohttp.web.run_app` reduced to what `apiserver serve` needs, with one difference: the
TCP site puts the guard's protocol in front of aiohttp's (header deadline, connection limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable

from aiohttp import web

from .connections import CONNECTION_GUARD, GuardedSite

LINGERING_SECONDS = 2.0


async def _serve(
    app: web.Application,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    access_log: logging.Logger | None,
    access_log_format: str,
    on_ready: Callable[[], None],
) -> None:
    runner = web.AppRunner(
        app,
        handle_signals=True,
        access_log=access_log,
        access_log_format=access_log_format,
        # After an early answer (413, 408) the rest of a body is read and dropped for this long, then
        # the connection is closed: a client still sending must not hold it much longer.
        lingering_time=LINGERING_SECONDS,
    )
    await runner.setup()
    try:
        await GuardedSite(runner, app[CONNECTION_GUARD], host, port, ssl_context=ssl_context).start()
        on_ready()
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()


def run(
    app: web.Application,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    loop: asyncio.AbstractEventLoop | None,
    access_log: logging.Logger | None,
    access_log_format: str,
    on_ready: Callable[[], None],
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully (errors of the start-up propagate)."""
    loop = loop or asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve(app, host, port, ssl_context, access_log, access_log_format, on_ready))
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if not main.done():
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(main)
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
