"""Cloudflare's v4 wire format: the envelope, the error dialect, request bodies and list queries.

Every answer is `{success, errors, messages, result[, result_info]}` with a JSON body (the SDK
cannot unwrap a 204). Errors are signalled by the HTTP status, since the SDK ignores `success`
on a 2xx, and every final 4xx carries `x-should-retry: false`, since the SDK otherwise repeats
409s. Error codes, where Cloudflare documents none we chose one:

| status | code  | message                                                              |
| ------ | ----- | -------------------------------------------------------------------- |
| 400    | 1001  | `invalid_json_body`, `secret_scopes_empty`, `secret_value_too_long`… |
| 400    | 1003  | `maximum_stores_exceeded`, `maximum_secrets_exceeded`                |
| 403    | 10000 | `Authentication error` (bad or missing credentials, no permission)   |
| 404    | 1002  | `store_not_found`, `secret_not_found`                                |
| 404    | 7003  | `No route for that URI`                                              |
| 405    | 7001  | `Method not allowed`                                                 |
| 409    | 1004  | `secret_name_already_exists`, `store_not_empty`                      |
| 408    | 1000  | `request_timeout` (the body did not arrive in time)                  |
| 413    | 1001  | `request_body_too_large: limit is N bytes` (N: `--max-body-bytes`)   |
| 429    | 971   | `Please wait and consider throttling your request speed`             |
| 503    | 1000  | `service_unavailable` (the database is away; retried by the SDK)     |
| 507    | 1000  | `insufficient_storage` (the server's disk is full; nothing stored)   |
| 5xx    | 1000  | `internal_error`                                                     |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from ..http.body import read_body
from ..machinery.documents import duplicate_fields, json_duplicates
from ..machinery.errors import (
    AlreadyExists,
    ApiError,
    Conflict,
    Forbidden,
    InsufficientStorage,
    Invalid,
    KeyTaken,
    MethodNotAllowed,
    NotFound,
    RequestTimeout,
    TooLarge,
    Unauthorized,
)
from ..resources.secretstore import StoreLimitExceeded, StoreNotEmpty
from ..services.cloudflare_secrets import SCOPES, CloudflareRefusal

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
SECRET_ORDERS = ("name", "comment", "created", "modified", "status")
STORE_ORDERS = ("name", "created", "modified")  # SDKs up to 5.4 also send comment and status: ignored

_RESOURCE_NOT_FOUND = {"secretstores": "store_not_found", "securevalues": "secret_not_found"}
_LIMITS = ("maximum_stores_exceeded", "maximum_secrets_exceeded")


def invalid(message: str) -> CloudflareRefusal:
    """A 400 code 1001 with one of Cloudflare's snake_case messages."""
    return CloudflareRefusal(message)


# -- answers --------------------------------------------------------------------------------


def envelope(result: Any, status: int = 200, result_info: dict[str, int] | None = None) -> web.Response:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def timestamp(value: str | datetime) -> str:
    """RFC 3339 in UTC with `Z`, microseconds included, as Cloudflare writes them."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def render_error(error: ApiError) -> web.Response:
    """The error dialect of `/client/v4/`, registered with the HTTP edge."""
    status, code, message = _translate(error)
    headers = dict(error.headers)
    if _final(status, error):
        headers["x-should-retry"] = "false"
    body = {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def _final(status: int, error: ApiError) -> bool:
    """Whether the same request would fail the same way; lost write races and rate limits would not."""
    if not 400 <= status < 500 or status in (408, 429):
        return False
    return not (isinstance(error, Conflict) and not _name_taken(error))


def _name_taken(error: ApiError) -> bool:
    # The facade key index refuses a second secret of the same store and name (a KeyTaken conflict).
    return isinstance(error, (AlreadyExists, KeyTaken))


def _translate(error: ApiError) -> tuple[int, int, str]:
    status = error.code
    if isinstance(error, (Unauthorized, Forbidden)):
        return 403, 10000, "Authentication error"
    if isinstance(error, CloudflareRefusal):
        return status, (1003 if error.message in _LIMITS else _code_for(status)), error.message
    if isinstance(error, StoreLimitExceeded):
        return 400, 1003, "maximum_stores_exceeded"
    if isinstance(error, StoreNotEmpty):
        return 409, 1004, "store_not_empty"
    if isinstance(error, NotFound):
        if error.kind in _RESOURCE_NOT_FOUND:
            return 404, 1002, _RESOURCE_NOT_FOUND[error.kind]
        return 404, 7003, "No route for that URI"
    if isinstance(error, MethodNotAllowed):
        return 405, 7001, "Method not allowed"
    if _name_taken(error):
        return 409, 1004, "secret_name_already_exists"
    if isinstance(error, TooLarge):
        return 413, 1001, "request_body_too_large" + (f": limit is {error.limit} bytes" if error.limit else "")
    if isinstance(error, Invalid):
        return 400, 1001, _invalid_message(error)
    if isinstance(error, RequestTimeout):
        return 408, 1000, "request_timeout"
    if status == 429:
        return 429, 971, "Please wait and consider throttling your request speed"
    if isinstance(error, InsufficientStorage):
        return 507, 1000, "insufficient_storage"
    if status == 503:
        return status, 1000, "service_unavailable"  # with Retry-After: the SDK retries it
    if status >= 500:
        return status, 1000, "internal_error"
    return status, _code_for(status), error.message


def _code_for(status: int) -> int:
    return {400: 1001, 404: 1002, 409: 1004}.get(status, 1000)


def _invalid_message(error: ApiError) -> str:
    """A validation failure of the service; the messages never hold a value, only field and rule."""
    for cause in error.causes:
        if cause.field == "spec.value":
            return "secret_value_too_long" if cause.reason == "FieldValueTooLong" else "secret_value_invalid"
        if cause.field == "spec.name" and error.kind == "SecretStore":
            return "store_name_invalid"
        if cause.field.startswith("metadata.annotations"):
            return "secret_comment_too_long"  # the whole comment is kept in an annotation
    return error.message


# -- requests -------------------------------------------------------------------------------


async def json_body(request: web.Request, *, required: bool = True) -> Any:
    """The decoded JSON body; `None` when absent and not required. Undecodable is `invalid_json_body`."""
    raw = await read_body(request)
    if not raw.strip():
        if required:
            raise invalid("invalid_json_body")
        return None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid("invalid_json_body") from None
    repeated = json_duplicates(raw, document)
    if repeated:  # never pick one of two values silently
        raise invalid("invalid_json_body: " + duplicate_fields(repeated))
    return document


def string_field(body: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise invalid(f"{key}_required")
        return None
    if not isinstance(value, str):
        raise invalid("invalid_json_body")
    return value


def scopes_field(body: Mapping[str, Any], *, required: bool) -> list[str] | None:
    """`scopes`: a non-empty list of known scopes (`secret_scopes_empty` / `secret_scopes_invalid`)."""
    value = body.get("scopes")
    if value is None and not required:
        return None
    if value is None or value == []:
        raise invalid("secret_scopes_empty")
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise invalid("invalid_json_body")
    if any(scope not in SCOPES for scope in value):
        raise invalid("secret_scopes_invalid")
    return list(dict.fromkeys(value))


# -- list queries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    page: int
    per_page: int
    order: str | None
    descending: bool
    search: str
    scopes: tuple[str, ...]

    @classmethod
    def parse(cls, query: Mapping[str, str], orders: tuple[str, ...]) -> ListQuery:
        page = _integer(query, "page", 1) or 1  # page 0 (allowed by the spec) is the first page
        per_page = min(_integer(query, "per_page", DEFAULT_PER_PAGE) or DEFAULT_PER_PAGE, MAX_PER_PAGE)
        direction = query.get("direction", "asc").lower()
        if direction not in ("asc", "desc"):
            raise invalid("invalid_direction")
        order = query.get("order")
        scopes = tuple(query.getall("scopes", [])) if hasattr(query, "getall") else ()
        return cls(
            page, per_page, order if order in orders else None, direction == "desc", query.get("search", ""), scopes
        )

    def window(self, items: list[Any]) -> tuple[list[Any], dict[str, int]]:
        """This query's page of `items` and its `result_info`; past the end the page is empty."""
        start = (self.page - 1) * self.per_page
        page = items[start : start + self.per_page]
        return page, {"page": self.page, "per_page": self.per_page, "count": len(page), "total_count": len(items)}


def _integer(query: Mapping[str, str], key: str, default: int) -> int:
    text = query.get(key)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise invalid(f"invalid_{key}") from None
    if value < 0:
        raise invalid(f"invalid_{key}")
    return value
