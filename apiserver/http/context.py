"""The RequestContext of a native request: principal, request id and the write options of the query."""

from __future__ import annotations

from aiohttp import web

from ..machinery.context import Principal, RequestContext
from ..machinery.errors import bad_request, field_error, invalid

PRINCIPAL = "apiserver.principal"
REQUEST_ID = "apiserver.request_id"
_CONTEXT = "apiserver.context"
_VALIDATION = {"": "Warn", "Strict": "Strict", "Warn": "Warn", "Ignore": "Ignore"}


def request_context(request: web.Request) -> RequestContext:
    """Built once per request from what the middlewares established and the query options."""
    ctx = request.get(_CONTEXT)
    if ctx is not None:
        return ctx
    principal: Principal = request[PRINCIPAL]
    query = request.query
    dry_run = query.getall("dryRun", [])
    if any(value != "All" for value in dry_run):
        bad = next(value for value in dry_run if value != "All")
        raise invalid(
            "CreateOptions", "", [field_error("not_supported", "dryRun", 'supported values: "All"', bad)], "meta.k8s.io"
        )
    validation = query.get("fieldValidation", "")
    if validation not in _VALIDATION:
        raise bad_request(
            f'fieldValidation: Unsupported value: "{validation}": supported values: "Ignore", "Strict", "Warn"'
        )
    manager = query.get("fieldManager") or None
    if manager is not None and (len(manager) > 128 or not manager.isprintable()):
        raise invalid(
            "PatchOptions",
            "",
            [field_error("invalid", "fieldManager", "must be no more than 128 printable characters", manager)],
            "meta.k8s.io",
        )
    agent = request.headers.get("User-Agent", "") or "unknown"
    ctx = RequestContext(
        principal=principal,
        request_id=request.get(REQUEST_ID, ""),
        dry_run=bool(dry_run),
        field_manager=manager,
        default_manager=agent.split("/")[0][:128] or "unknown",
        field_validation=_VALIDATION[validation],
    )
    request[_CONTEXT] = ctx
    return ctx
