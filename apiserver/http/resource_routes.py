"""Generic REST routes for one kind: the Kubernetes verbs over HTTP, for any registry.

Handlers stay thin: they read the request (options, body, content type), call the registry,
and write JSON, a Table or a watch stream. Errors propagate as ApiError and are rendered by the
HTTP edge in the surface's dialect.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from ..machinery import patch
from ..machinery.continuation import ContinueTokens
from ..machinery.errors import NotFound, bad_request, field_error, invalid, method_not_allowed
from ..machinery.listing import ListOptions, list_objects
from ..machinery.registry import Registry
from ..machinery.table import TABLE_MEDIA, table_event, to_table, to_table_in_slices, wants_table
from ..machinery.watch import watch_events
from ..ops.metrics import Metrics
from . import protobuf
from .body import decode_off_loop, field_validated, media_type, read_body, read_optional_object
from .context import request_context
from .json_parts import json_collection
from .watch_stream import stream_events

_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool; Python sends `True`


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def warnings_header(ctx) -> dict[str, str]:
    return {"Warning": ", ".join(warning_value(w) for w in ctx.warnings)} if ctx.warnings else {}


def warning_value(text: str) -> str:
    """`299 - "text"` as a quoted string (RFC 7234): a warning may quote client input (an unknown
    field's name), and a control character in a header would make aiohttp drop the connection
    after the write was committed; so backslash and quote are escaped and controls written as \\uXXXX."""
    quoted = "".join(
        "\\" + c if c in '"\\' else f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cs") else c for c in text
    )
    return f'299 - "{quoted}"'


class ResourceEndpoints:
    """Routes for `{prefix}/namespaces/{ns}/{resource}[/{name}]` and the all-namespaces list."""

    def __init__(self, registry: Registry, tokens: ContinueTokens, metrics: Metrics | None = None) -> None:
        self.metrics = metrics or Metrics()
        self.registry = registry
        self.tokens = tokens
        self.type = registry.type

    def routes(self, prefix: str) -> list[web.AbstractRouteDef]:
        r = self.type.resource
        if self.type.namespaced:
            collection, item = (
                f"{prefix}/namespaces/{{namespace}}/{r}",
                f"{prefix}/namespaces/{{namespace}}/{r}/{{name}}",
            )
        else:
            collection, item = f"{prefix}/{r}", f"{prefix}/{r}/{{name}}"
        routes = [
            web.get(collection, self.list_or_watch),
            web.post(collection, self.create),
            web.delete(collection, self.delete_collection),
            web.get(item, self.get),
            web.put(item, self.update),
            web.patch(item, self.patch),
            web.delete(item, self.delete),
            web.route("*", collection, self.not_allowed),
            web.route("*", item, self.not_allowed),
        ]
        if self.type.namespaced:
            routes.insert(0, web.get(f"{prefix}/{r}", self.list_or_watch))
        return list(routes)

    def _namespace(self, request: web.Request) -> str:
        return request.match_info.get("namespace", "") if self.type.namespaced else ""

    async def not_allowed(self, request: web.Request) -> web.Response:
        raise method_not_allowed(request.method, self.type.resource, self.type.group)

    # -- reads ----------------------------------------------------------------------------

    async def get(self, request: web.Request) -> web.Response:
        ctx = request_context(request)
        stored = self.registry.get_stored(ctx, self._namespace(request), request.match_info["name"])
        if wants_table(request.headers.get("Accept", "")):
            obj = stored.body
            return self._table(request, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")})
        # The cache keeps each object as the JSON we would send: the hottest read skips decode and encode.
        return web.Response(body=stored.raw, content_type="application/json")

    async def list_or_watch(self, request: web.Request) -> web.StreamResponse:
        ctx = request_context(request)
        namespace = request.match_info.get("namespace") if self.type.namespaced else ""
        options = ListOptions.from_query(request.query, self.type.field_selectors)
        if request.query.get("watch") in _TRUE:
            return await self._watch(request, ctx, namespace, options)
        result = await list_objects(self.registry, self.tokens, ctx, namespace, options, encoded=True)
        if wants_table(request.headers.get("Accept", "")):
            include = self._include_object(request)
            table = await to_table_in_slices(self.registry.strategy, result["items"], result["metadata"], include)
            return await json_collection(table, "rows", content_type=TABLE_MEDIA)
        return await json_collection(result, "items")

    @staticmethod
    def _include_object(request: web.Request) -> str:
        include = request.query.get("includeObject") or "Metadata"
        if include not in ("None", "Metadata", "Object"):
            raise bad_request(
                f'includeObject: Unsupported value: "{include}": supported values: "None", "Metadata", "Object"'
            )
        return include

    def _table(self, request: web.Request, objects: list[dict], list_meta: dict) -> web.Response:
        body = to_table(self.registry.strategy, objects, list_meta, self._include_object(request))
        return web.Response(body=orjson.dumps(body), headers={"Content-Type": TABLE_MEDIA})

    async def _watch(
        self, request: web.Request, ctx, namespace: str | None, options: ListOptions
    ) -> web.StreamResponse:
        timeout_text = request.query.get("timeoutSeconds")
        try:
            timeout = float(timeout_text) if timeout_text else None
        except ValueError:
            raise bad_request(f'timeoutSeconds: Invalid value: "{timeout_text}": must be an integer') from None
        include = self._include_object(request) if wants_table(request.headers.get("Accept", "")) else None
        events = watch_events(
            self.registry,
            ctx,
            namespace,
            options,
            timeout=timeout,
            bookmarks=request.query.get("allowWatchBookmarks") in _TRUE,
        )

        def encode(event: dict, index: int) -> bytes:
            if include is not None:
                event = table_event(self.registry.strategy, event, include, with_columns=index == 0)
            self.metrics.record_watch_events(self.type.resource, 1)
            return orjson.dumps(event) + b"\n"

        return await stream_events(request, events, encode)

    # -- writes ---------------------------------------------------------------------------

    async def _document(self, request: web.Request) -> Any:
        media = media_type(request)
        if media == protobuf.MEDIA_TYPE:  # how typed clients send built-in kinds (kubectl create namespace)
            return protobuf.decode_object(await read_body(request))
        return field_validated(request_context(request), await decode_off_loop(await read_body(request), media))

    async def create(self, request: web.Request) -> web.Response:
        ctx = request_context(request)
        obj = await self.registry.create(ctx, self._namespace(request), await self._document(request))
        return json_response(obj, 201, warnings_header(ctx))

    async def update(self, request: web.Request) -> web.Response:
        ctx = request_context(request)
        obj = await self.registry.update(
            ctx, self._namespace(request), request.match_info["name"], await self._document(request)
        )
        return json_response(obj, 200, warnings_header(ctx))

    async def patch(self, request: web.Request) -> web.Response:
        ctx = request_context(request)
        ptype = patch.patch_type(request.headers.get("Content-Type"))
        force = request.query.get("force")
        if force is not None and ptype != patch.APPLY_PATCH:
            raise invalid(
                "PatchOptions",
                "",
                [field_error("forbidden", "force", "may not be specified for non-apply patch")],
                "meta.k8s.io",
            )
        document = field_validated(ctx, patch.parse_patch_with_duplicates(ptype, await read_body(request)))
        namespace, name = self._namespace(request), request.match_info["name"]
        if ptype == patch.APPLY_PATCH:
            if not ctx.field_manager:
                raise invalid(
                    "PatchOptions",
                    "",
                    [field_error("required", "fieldManager", "is required for apply patch")],
                    "meta.k8s.io",
                )
            obj, created = await self.registry.apply(ctx, namespace, name, document, force=force in _TRUE)
            return json_response(obj, 201 if created else 200, warnings_header(ctx))
        precondition = _patch_precondition(ptype, document)
        obj = await self.registry.patch(ctx, namespace, name, _patcher(ptype, document), precondition)
        return json_response(obj, 200, warnings_header(ctx))

    async def delete(self, request: web.Request) -> web.Response:
        ctx = request_context(request)
        options = await self._delete_options(request)
        status = await self.registry.delete(ctx, self._namespace(request), request.match_info["name"], options)
        return json_response(status)

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        options = await read_optional_object(request, "a delete (DeleteOptions)")
        dry_run = options.get("dryRun") or []
        if dry_run:
            request_context(request).dry_run = dry_run == ["All"] or _bad_dry_run(dry_run)
        return options

    async def delete_collection(self, request: web.Request) -> web.Response:
        ctx = request_context(request)
        namespace = self._namespace(request)
        self.registry.authorize_write(ctx, "deletecollection", namespace, "")
        options = ListOptions.from_query(request.query, self.type.field_selectors)
        delete_options = await self._delete_options(request)
        listed = await list_objects(self.registry, self.tokens, ctx, namespace, options)
        deleted = []
        for obj in listed["items"]:
            meta = obj["metadata"]
            try:
                await self.registry.delete(ctx, meta.get("namespace", ""), meta["name"], delete_options)
            except NotFound:  # deleted meanwhile by someone else: nothing left to do
                continue
            deleted.append(obj)
        return json_response(
            {
                "kind": self.type.list_kind,
                "apiVersion": self.type.api_version,
                "metadata": {"resourceVersion": str(self.registry.store.revision)},
                "items": deleted,
            }
        )


def _bad_dry_run(values: Any) -> bool:
    raise invalid(
        "DeleteOptions",
        "",
        [field_error("not_supported", "dryRun", 'supported values: "All"', str(values))],
        "meta.k8s.io",
    )


def _patcher(ptype: str, document: Any) -> Callable[[dict], dict]:
    if ptype == patch.JSON_PATCH:
        return lambda current: patch.apply_json_patch(current, document)
    if ptype == patch.STRATEGIC_MERGE_PATCH:
        document = patch.strip_strategic_directives(document)
    return lambda current: patch.apply_merge_patch(current, document)


def _patch_precondition(ptype: str, document: Any) -> str | None:
    """A resourceVersion the patch sets is a precondition (as upstream's patcher treats it)."""
    if ptype == patch.JSON_PATCH:
        for op in document:
            if (
                isinstance(op, dict)
                and op.get("path") == "/metadata/resourceVersion"
                and op.get("op") in ("add", "replace")
            ):
                return str(op.get("value"))
        return None
    meta = document.get("metadata") if isinstance(document, dict) else None
    value = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return str(value) if value else None
