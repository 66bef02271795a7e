"""The HTTP edge: request ids, error dialects, audit settlement and authentication, in that order.

Every error a handler raises is an ApiError; this edge renders it in the dialect of the surface
the request came through (Kubernetes Status, InfluxDB or Cloudflare errors). Nothing a client
sends can produce a 500: unexpected exceptions are logged by type and request id only (never
with a body) and answered with a generic internal error.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import traceback
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from ..crypto.errors import KmsUnavailable
from ..machinery.audit import audit_scope
from ..machinery.context import Principal
from ..machinery.errors import (
    ApiError,
    NotFound,
    insufficient_storage,
    internal,
    method_not_allowed,
    service_unavailable,
    too_large,
    unauthorized,
)
from ..store.errors import RevisionExpired, StorageFull, StoreUnavailable
from .body import body_limit
from .context import PRINCIPAL, REQUEST_ID
from .status import status_response

log = logging.getLogger("apiserver.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Renderer = Callable[[ApiError], web.StreamResponse]


class Authenticator(Protocol):
    def authenticate(self, request: web.Request) -> Principal:
        """The caller's principal; raises a 401 (or 429) ApiError."""


class Surfaces:
    """Which error dialect and which authentication rules apply to a path."""

    def __init__(self) -> None:
        self._dialects: list[tuple[str, Renderer]] = []
        self.public_paths: set[str] = set()  # exact paths that need no credentials
        self._public_prefixes: tuple[str, ...] = ()  # and every path under these

    def add_public_prefix(self, prefix: str) -> None:
        self._public_prefixes += (prefix,)

    def is_public(self, path: str) -> bool:
        return path in self.public_paths or path.startswith(self._public_prefixes)

    def add_dialect(self, prefix: str, renderer: Renderer) -> None:
        self._dialects.append((prefix, renderer))

    def render(self, request: web.Request, error: ApiError) -> web.StreamResponse:
        return self.render_path(request.path, error)

    def render_path(self, path: str, error: ApiError) -> web.StreamResponse:
        """The answer in the dialect of the surface `path` belongs to; a Kubernetes `Status` elsewhere."""
        for prefix, renderer in self._dialects:
            if path.startswith(prefix):
                return renderer(error)
        return status_response(error)


SURFACES = web.AppKey("surfaces", Surfaces)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)


# A request id must be unique, not secret: a random prefix per process (so replicas differ) and a
# counter. Drawing fresh random bytes from the kernel for every request was 7-8% of a GET's CPU (py-spy).
_ID_PREFIX = secrets.token_hex(4)
_ID_COUNTER = itertools.count(1)


@web.middleware
async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    rid = given if 0 < len(given) <= 128 and given.isprintable() else f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"
    request[REQUEST_ID] = rid
    response = await handler(request)
    if not response.prepared:
        response.headers["X-Request-Id"] = rid
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    surfaces = request.app[SURFACES]
    try:
        return await handler(request)
    except ApiError as refused:
        return _finish(request, surfaces.render(request, refused))
    except StoreUnavailable:  # the database is away (replicas on PostgreSQL): retry, never a 500 or a hang
        error: ApiError = service_unavailable("the database is unavailable; please try again later", retry_after=1)
        return _finish(request, surfaces.render(request, error))
    except KmsUnavailable:  # a new data key, or one not unwrapped yet, needs the KMS plugin: retry later
        error = service_unavailable("the key management service is unavailable; please try again later", retry_after=5)
        return _finish(request, surfaces.render(request, error))
    except RevisionExpired:  # a facade's read in slices outlived the store's window of changes (rare)
        error = service_unavailable("the data changed too much while it was read; please try again", retry_after=1)
        return _finish(request, surfaces.render(request, error))
    except StorageFull:  # nothing was written; reads go on, and writes work again once space returns
        error = insufficient_storage("the server's storage is full; the write was not stored, please try again later")
        return _finish(request, surfaces.render(request, error))
    except web.HTTPRequestEntityTooLarge:
        return _finish(request, surfaces.render(request, too_large(body_limit(request))))
    except web.HTTPMethodNotAllowed:
        return _finish(request, surfaces.render(request, method_not_allowed(request.method, request.path)))
    except web.HTTPNotFound:
        error = NotFound("the server could not find the requested resource")
        return _finish(request, surfaces.render(request, error))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = ApiError(exc.status, exc.reason.replace(" ", ""), exc.reason)
        return _finish(request, surfaces.render(request, error))
    except Exception as exc:  # a bug of ours: never leak details, always leave a trace to follow
        # Frames only: an exception's message may quote the request's data, and so a secret value.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error(
            "unhandled %s in %s %s (request %s)\n%s",
            type(exc).__name__,
            request.method,
            request.path,
            request.get(REQUEST_ID),
            frames,
        )
        return _finish(request, surfaces.render(request, internal("an internal error occurred")))


def _finish(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    if REQUEST_ID in request and not response.prepared:
        response.headers["X-Request-Id"] = request[REQUEST_ID]
    if response.headers.get("Connection") == "close":  # an error that ends the connection (a deadline, a limit)
        response.force_close()
    return response


@web.middleware
async def audited(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer only once the request's audit records are written; otherwise refuse it with a 503.

    A refusal's record counts too: an error raised by the handler is replaced by the 503 when its
    record could not be written. The 503 is rendered by `errors`, in the surface's dialect.
    """
    with audit_scope() as scope:
        try:
            response = await handler(request)
        except Exception:
            await scope.settle()
            raise
        if scope.pending and response.prepared:  # a streamed answer has left already: nothing audited may
            log.error("a streamed response carried audit records (request %s)", request.get(REQUEST_ID))
        await scope.settle()
        return response


@web.middleware
async def authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    if PRINCIPAL in request:  # a browser session, authenticated by the session middleware before
        return await handler(request)
    if request.method == "OPTIONS" or request.app[SURFACES].is_public(request.path):
        return await handler(request)
    request[PRINCIPAL] = request.app[AUTHENTICATOR].authenticate(request)
    return await handler(request)


def bearer_token(request: web.Request) -> str | None:
    """The credential of any accepted header; never logged, never in a URL."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    key = request.headers.get("X-Auth-Key")
    if key and request.headers.get("X-Auth-Email"):
        return key.strip()
    return None


def require_principal(request: web.Request) -> Principal:
    principal = request.get(PRINCIPAL)
    if principal is None:
        raise unauthorized()
    return principal
