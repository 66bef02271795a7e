"""The native error dialect: Kubernetes `Status` objects."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..machinery.errors import ApiError


def status_body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": error.message,
        "reason": error.reason,
        "code": error.code,
    }
    details: dict[str, Any] = {}
    if error.name:
        details["name"] = error.name
    if error.group:
        details["group"] = error.group
    if error.kind:
        details["kind"] = error.kind
    if error.uid:
        details["uid"] = error.uid
    if error.causes:
        details["causes"] = [{"reason": c.reason, "message": c.message, "field": c.field} for c in error.causes]
    if error.retry_after is not None:
        details["retryAfterSeconds"] = error.retry_after
    if details:
        body["details"] = details
    return body


def status_response(error: ApiError) -> web.Response:
    return web.Response(
        body=orjson.dumps(status_body(error)),
        status=error.code,
        content_type="application/json",
        headers=error.headers or None,
    )
