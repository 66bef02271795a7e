"""Bounded connections: a deadline for request headers, and limits per client address and in total.

aiohttp reads headers for as long as a client takes and accepts any number of connections, so one
client trickling bytes, or opening thousands of sockets, could hold the server's resources. Each
connection therefore passes through a small protocol in front of aiohttp's:

- a connection whose first request's headers are not complete within the header deadline is
  answered `408` and closed, in the dialect of the surface its request line names (a Kubernetes
  `Status` when the request line itself never arrived);
- a connection beyond the limit per address, or in total, is answered once, in the dialect of the
  surface its request is for (429 with `Retry-After`, or 503), and closed.

Body deadlines are kept where bodies are read (`http/body.py`); idle keep-alive connections are
closed by aiohttp's keep-alive timeout.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..machinery.errors import ApiError, RequestTimeout, TooManyRequests, service_unavailable

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PathRenderer = Callable[[str, ApiError], web.StreamResponse]  # an error in the dialect of a path's surface
_HEADERS_END = b"\r\n\r\n"
_LINE_END = b"\r\n"
_MAX_REQUEST_LINE = 8192  # aiohttp's own bound; a longer line is refused by aiohttp before any deadline


class ConnectionGuard:
    """Counts connections per client address and in total, and arms each one's header deadline."""

    def __init__(self, *, max_total: int, max_per_address: int, header_timeout: float, render: PathRenderer) -> None:
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.header_timeout = header_timeout
        self.render = render
        self._per_address: Counter[str] = Counter()
        self._total = 0
        self._refused: dict[asyncio.BaseTransport, ApiError] = {}

    def protocol_factory(self, make_handler: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _GuardedConnection(self, make_handler())

    def refusal(self, transport: asyncio.BaseTransport | None) -> ApiError | None:
        return self._refused.get(transport) if transport is not None else None

    def _admit(self, transport: asyncio.BaseTransport, address: str) -> bool:
        if self._total >= self.max_total:
            error: ApiError = service_unavailable("the server has too many open connections; try again later", 1)
        elif self._per_address[address] >= self.max_per_address:
            error = TooManyRequests(
                f"too many open connections from this address (at most {self.max_per_address})",
                retry_after=1,
                headers={"Retry-After": "1"},
            )
        else:
            self._per_address[address] += 1
            self._total += 1
            return True
        error.headers["Connection"] = "close"
        self._refused[transport] = error
        return False

    def _release(self, transport: asyncio.BaseTransport, address: str, admitted: bool) -> None:
        self._refused.pop(transport, None)
        if admitted:
            self._total -= 1
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]


class _GuardedConnection(asyncio.Protocol):
    """aiohttp's protocol behind a header deadline and the connection counts."""

    def __init__(self, guard: ConnectionGuard, handler: Any) -> None:
        self._guard = guard
        self._handler = handler
        self._transport: asyncio.Transport | None = None
        self._address = ""
        self._admitted = False
        self._deadline: asyncio.TimerHandle | None = None
        self._tail = b""
        self._request_line = b""  # kept, bounded, until the headers are complete: it names the surface

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        self._admitted = self._guard._admit(transport, self._address)
        self._deadline = asyncio.get_running_loop().call_later(self._guard.header_timeout, self._headers_too_slow)
        self._handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._deadline is not None:
            seen = self._tail + data
            if _HEADERS_END in seen:
                self._deadline.cancel()
                self._deadline = None
                self._request_line = b""
            else:
                self._tail = seen[-3:]
                if _LINE_END not in self._request_line and len(self._request_line) < _MAX_REQUEST_LINE:
                    self._request_line = (self._request_line + data)[:_MAX_REQUEST_LINE]
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._transport is not None:
            self._guard._release(self._transport, self._address, self._admitted)
        self._handler.connection_lost(exc)

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()

    def _headers_too_slow(self) -> None:
        self._deadline = None
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        seconds = f"{self._guard.header_timeout:g}"
        error = RequestTimeout(f"the request headers were not received within {seconds} seconds")
        transport.write(_raw(self._guard.render(_path_of(self._request_line), error)))
        transport.close()


def _path_of(received: bytes) -> str:
    """The path of a complete request line (`GET /path?query HTTP/1.1`); "" while it is incomplete."""
    line, complete, _ = received.partition(_LINE_END)
    parts = line.split(b" ")
    if not complete or len(parts) != 3:
        return ""
    return parts[1].partition(b"?")[0].decode("latin-1")


def _raw(response: web.StreamResponse) -> bytes:
    """A rendered error as bytes for a socket aiohttp has not parsed a request from."""
    body = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b""
    lines = [f"HTTP/1.1 {response.status} {response.reason}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items() if name.lower() != "connection"]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


CONNECTION_GUARD = web.AppKey("connection_guard", ConnectionGuard)


@web.middleware
async def connection_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A connection over a limit gets one answer, in its surface's dialect, and is closed."""
    guard = request.app.get(CONNECTION_GUARD)
    refusal = guard.refusal(request.transport) if guard is not None else None
    if refusal is not None:
        raise refusal
    return await handler(request)


class GuardedSite(web.TCPSite):
    """A TCP site whose connections pass through the guard before aiohttp's protocol."""

    def __init__(self, runner: web.BaseRunner, guard: ConnectionGuard, *args: Any, **kwargs: Any) -> None:
        super().__init__(runner, *args, **kwargs)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
