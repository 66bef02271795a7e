"""Reading request bodies: the size limit and the media type (decoding is machinery/documents.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..machinery.context import RequestContext
from ..machinery.documents import decode_document, decode_with_duplicates, duplicate_fields_message
from ..machinery.errors import RequestTimeout, bad_request, too_large

# The one body limit of every surface (`--max-body-bytes`), set by the application factory.
BODY_LIMIT = web.AppKey("body_limit", int)


# How long a body may take to arrive once its headers did (`--body-timeout-seconds`).
BODY_TIMEOUT = web.AppKey("body_timeout", float)


def body_limit(request: web.Request) -> int:
    return request.config_dict[BODY_LIMIT]


async def read_body(request: web.Request, limit: int | None = None) -> bytes:
    """The whole body, at most the configured limit (or `limit`, when a route wants less); else a 413."""
    limit = body_limit(request) if limit is None else min(limit, body_limit(request))
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    seconds = request.config_dict.get(BODY_TIMEOUT, 60.0)
    try:
        if request.content.is_eof():  # all of it has arrived (nearly every small body): no deadline to arm
            return await request.read()
        async with asyncio.timeout(seconds):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(limit) from None
    except TimeoutError:
        raise RequestTimeout(
            f"the request body was not received within {seconds:g} seconds", headers={"Connection": "close"}
        ) from None


def media_type(request: web.Request) -> str:
    return (request.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()


async def read_optional_object(request: web.Request, what: str) -> dict[str, Any]:
    """A body that may be absent (then `{}`), else one JSON or YAML object; `what` names it in the 400."""
    raw = await read_body(request)
    if not raw.strip():
        return {}
    document = decode_document(raw, media_type(request))
    if not isinstance(document, dict):
        raise bad_request(f"the body of {what} must be an object")
    return document


# A body this large is decoded in a worker thread, so that the event loop serves others meanwhile.
OFFLOAD_BYTES = 256 * 1024


async def decode_off_loop(raw: bytes, content_type: str) -> tuple[Any, list[str]]:
    """`decode_with_duplicates`, in a worker thread for a large body."""
    if len(raw) >= OFFLOAD_BYTES:
        return await asyncio.to_thread(decode_with_duplicates, raw, content_type)
    return decode_with_duplicates(raw, content_type)


def field_validated(ctx: RequestContext, decoded: tuple[Any, list[str]]) -> Any:
    """`fieldValidation` for keys a body repeats: Strict refuses (400), Warn warns per field, Ignore keeps the last."""
    document, duplicates = decoded
    if duplicates and ctx.field_validation == "Strict":
        raise bad_request(duplicate_fields_message(duplicates))
    if ctx.field_validation == "Warn":
        ctx.warnings.extend(f'duplicate field "{path}"' for path in duplicates)
    return document
