"""Reading request bodies: the size limit and JSON/YAML decoding, with errors a client can act on."""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from ..machinery.errors import bad_request, too_large

MAX_BODY_BYTES = 3 * 1024 * 1024  # as kube-apiserver: 3 MiB
# No object of ours nests deeper than a few levels; the limit keeps recursive code far from Python's stack limit.
MAX_DEPTH = 100


async def read_body(request: web.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(limit) from None


def media_type(request: web.Request) -> str:
    return (request.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()


def decode_document(raw: bytes, content_type: str) -> Any:
    """One JSON or YAML document; anything undecodable is a 400 that names the problem, not the data."""
    if not raw.strip():
        raise bad_request("the request body is empty")
    if content_type in ("application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml"):
        try:
            documents = list(yaml.safe_load_all(raw))
        except RecursionError:
            raise bad_request(f"the request body is nested more than {MAX_DEPTH} levels deep") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise bad_request(f"the request body is not valid YAML{where}") from None
        if len(documents) != 1:
            raise bad_request("the request body must hold exactly one YAML document")
        return check_document(documents[0], len(raw))
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    return check_document(document, len(raw))


def check_document(document: Any, size: int) -> Any:
    """Refuse documents nested too deeply, and YAML whose aliases expand (or loop) beyond the body's own size.

    Without aliases a document has at most about one value per byte, so a larger count means an
    alias bomb or a recursive alias, which would otherwise exhaust memory or the stack later on.
    """
    stack: list[tuple[Any, int]] = [(document, 1)]
    budget = size + 16
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise bad_request("the request body expands to more values than it holds (YAML aliases)")
        if depth > MAX_DEPTH:
            raise bad_request(f"the request body is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return document
