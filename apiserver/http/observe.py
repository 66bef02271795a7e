"""The request observer: counts and times every HTTP request, and writes the access log line.

Labels come from the route that matched, never from the path a client sent: `resource` is the
kind a route template serves (`securevalues`, `secrets`, `securevalues/decrypt` for a
subresource), `surface` the API it belongs to, `verb` the HTTP method, or kube-apiserver's
`LIST` and `WATCH` for a GET on a native collection. A request that matched no route is counted
with an empty resource. The label values are cached per route, method and status, so a request
costs a few dictionary look-ups and two increments (about a microsecond).

The access log line (with `--access-log`) carries the request id, surface, verb, resource, status
and duration as fields, and the path without its query; never a header or a body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from aiohttp import web

from ..ops.metrics import Metrics
from ..ops.series import Labels
from .context import REQUEST_ID
from .middlewares import Handler

access_log = logging.getLogger("apiserver.access")

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Longest prefix first. A route's template decides, so a client cannot invent a surface.
_SURFACES = (
    ("/apis/ops.apiserver.local/", "ops"),
    ("/apis/auth.apiserver.local/", "auth"),
    ("/apis", "native"),
    ("/api/v2/", "influxdb"),
    ("/api", "native"),
    ("/openapi/", "native"),
    ("/version", "native"),
    ("/client/v4/", "cloudflare"),
    ("/ui", "ui"),
    ("/v1/sign-access-token", "auth"),
    ("/.well-known/", "auth"),
    ("/livez", "ops"),
    ("/readyz", "ops"),
    ("/metrics", "ops"),
    ("/ping", "influxdb"),
    ("/health", "influxdb"),
    ("/ready", "influxdb"),
)
# A literal after one of these and its placeholder is a resource of its own, not a subresource.
_SCOPES = frozenset({"namespaces", "orgs", "accounts", "stores"})


def surface_of(path: str) -> str:
    for prefix, surface in _SURFACES:
        if path.startswith(prefix):
            return surface
    return "ui" if path == "/" else "other"


def resource_of(template: str) -> str:
    """The kind a route template serves: the last collection named, with a trailing subresource."""
    parts = [_literal(part) for part in template.strip("/").split("/")]
    if not parts or not parts[-1]:
        return parts[-2] if len(parts) > 1 and parts[-2] else ""  # an item: its collection
    if len(parts) >= 3 and not parts[-2] and parts[-3] and parts[-3] not in _SCOPES:
        return f"{parts[-3]}/{parts[-1]}"  # a subresource of an item (decrypt, activate, duplicate)
    return parts[-1]


def _literal(part: str) -> str:
    """A template segment without its placeholders: `secrets{tail}` is `secrets`, `{name}` is empty."""
    while "{" in part:
        start = part.index("{")
        part = part[:start] + part[part.index("}", start) + 1 :]
    return part


def _labels(route: _Route, verb: str, status: int) -> tuple[Labels, Labels | None]:
    counted = (verb, route.resource, str(status), route.surface)
    # A watch lasts as long as its client wants: kube-apiserver does not time it either.
    timed = None if verb == "WATCH" else (verb, route.resource, route.surface)
    return counted, timed


class _Route:
    __slots__ = ("resource", "surface", "collection")

    def __init__(self, resource: str, surface: str, collection: bool) -> None:
        self.resource, self.surface, self.collection = resource, surface, collection


class RequestObserver:
    """The middleware: `app.middlewares` gets `observer.middleware`, just inside the request id."""

    def __init__(self, metrics: Metrics, collections: Iterable[str], *, log_requests: bool = False) -> None:
        self.metrics = metrics
        self.collections = frozenset(collections)  # native resources whose GET lists (or watches)
        self.log_requests = log_requests
        self._routes: dict[str, _Route] = {}
        # Per (route template, verb, status): the label values of the counter and of the histogram.
        self._labels: dict[tuple[str, str, int], tuple[Labels, Labels | None]] = {}

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # a redirect, passed through by the error middleware
            status = exc.status
            raise
        except BaseException:  # the client went away (cancelled): nginx's 499
            status = 499
            raise
        finally:
            self._observe(request, status, time.perf_counter() - started)

    def _observe(self, request: web.Request, status: int, seconds: float) -> None:
        resource = request.match_info.route.resource
        # No route matched: keep nothing of the client's path but the surface it falls under.
        template = resource.canonical if resource is not None else "\0" + surface_of(request.path)
        route = self._routes.get(template)
        if route is None:
            route = self._routes[template] = self._route(template)
        verb = request.method if request.method in _METHODS else "OTHER"  # a client may send any token
        if verb == "GET" and route.collection:
            verb = "WATCH" if request.query.get("watch") in _TRUE else "LIST"
        key = (template, verb, status)
        labels = self._labels.get(key)
        if labels is None:
            labels = self._labels[key] = _labels(route, verb, status)
        counted, timed = labels
        self.metrics.requests.inc(counted)
        if timed is not None:
            self.metrics.request_duration.observe(seconds, timed)
        if self.log_requests:
            self._log(request, route, verb, status, seconds)

    def _route(self, template: str) -> _Route:
        if template.startswith("\0"):
            return _Route("", template[1:], False)
        name = resource_of(template)
        surface = surface_of(template)
        collection = surface == "native" and name in self.collections and template.endswith("/" + name)
        return _Route(name, surface, collection)

    def _log(self, request: web.Request, route: _Route, verb: str, status: int, seconds: float) -> None:
        rid = request.get(REQUEST_ID, "")
        access_log.info(
            '%s "%s %s" %d %.6fs request=%s surface=%s',
            request.remote,
            request.method,
            request.path,
            status,
            seconds,
            rid,
            route.surface,
            extra={
                "request_id": rid,
                "surface": route.surface,
                "verb": verb,
                "resource": route.resource,
                "status": status,
                "duration": round(seconds, 6),
                "method": request.method,
                "path": request.path,
                "remote": request.remote,
            },
        )
