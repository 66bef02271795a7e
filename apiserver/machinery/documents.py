"""Decoding JSON and YAML documents from clients: one document, bounded in depth and expansion.

Errors say what is wrong and where (line and column), never quote the document: it may carry a
secret value.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from .errors import bad_request

YAML_MEDIA_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml")
# No object of ours nests deeper than a few levels; the limit keeps recursive code far from Python's stack limit.
MAX_DEPTH = 100


def yaml_problem(exc: Exception) -> str:
    """What went wrong and where, without PyYAML's snippet of the document."""
    if isinstance(exc, UnicodeDecodeError):
        return f"the document is not valid UTF-8 (byte {exc.start})"
    problem = getattr(exc, "problem", None) or "the document is not valid YAML"
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def decode_document(raw: bytes, content_type: str) -> Any:
    """One JSON or YAML document; anything undecodable is a 400 that names the problem, not the data."""
    if not raw.strip():
        raise bad_request("the request body is empty")
    if content_type in YAML_MEDIA_TYPES:
        try:
            documents = list(yaml.safe_load_all(raw))
        except RecursionError:
            raise bad_request(f"the request body is nested more than {MAX_DEPTH} levels deep") from None
        except yaml.YAMLError as exc:
            raise bad_request(f"the request body is not valid YAML: {yaml_problem(exc)}") from None
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
