"""InfluxDB's error dialect: `{"code", "message"}` bodies, `X-Platform-Error-Code`, and its status map.

influxd 2.x writes only `code` (a value of the OpenAPI `ErrorCode` enum; the influx CLI refuses
any other) and `message`. Handler errors are pretty-printed with tabs; the authentication
middleware's 401 is compact. Every response carries `X-Influxdb-Build` and `X-Influxdb-Version`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..machinery.errors import ApiError, InsufficientStorage, MethodNotAllowed, NotFound, RequestTimeout, Unauthorized

BUILD = "OSS"
VERSION = "v2.7.12"
SERVER_HEADERS = {"X-Influxdb-Build": BUILD, "X-Influxdb-Version": VERSION}
JSON_TYPE = "application/json; charset=utf-8"

# ErrorCode enum value -> HTTP status (kit/platform/errors `influxDBErrorToStatusCode`).
STATUS = {
    "internal error": 500,
    "not implemented": 501,
    "invalid": 400,
    "unprocessable entity": 422,
    "empty value": 400,
    "conflict": 422,
    "not found": 404,
    "unavailable": 503,
    "forbidden": 403,
    "too many requests": 429,
    "unauthorized": 401,
    "method not allowed": 405,
    "request too large": 413,
    "unsupported media type": 415,
}
# What the machinery's generic errors become when they reach an InfluxDB path.
_FROM_STATUS = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    408: "invalid",  # the ErrorCode enum has no timeout: the client's request was incomplete
    409: "conflict",
    413: "request too large",
    415: "unsupported media type",
    422: "unprocessable entity",
    429: "too many requests",
    503: "unavailable",
}
# Go's HTML-safe escapes, as UTF-8: these bytes only occur inside JSON strings.
_GO_ESCAPES = [(c.encode(), f"\\u{ord(c):04x}".encode()) for c in "<>&\u2028\u2029"]
INTERNAL_MESSAGE = "An internal error has occurred - check server logs"


class InfluxError(ApiError):
    """An error worded by the facade itself: `reason` holds the InfluxDB code."""

    def __init__(self, code: str, message: str, *, compact: bool = False, status: int | None = None) -> None:
        super().__init__(status or STATUS[code], code, message)
        self.compact = compact


class EmptyStatus(ApiError):
    """A bare status without body, as chi answers (405 on a secrets path)."""

    def __init__(self, status: int) -> None:
        super().__init__(status, "", "")


class PlainNotFound(ApiError):
    """Go's `http.NotFound`: `404 page not found` as text/plain (unknown paths below /secrets)."""

    def __init__(self) -> None:
        super().__init__(404, "not found", "404 page not found")


def json_body(body: Any, *, pretty: bool) -> bytes:
    """Go's json.MarshalIndent(v, "", "\\t") (no trailing newline) or json.Marshal, HTML-safe escapes included."""
    # orjson, not the json module: a list of 10 000 keys took the pure-Python indenting encoder ~12 ms.
    encoded = orjson.dumps(body, option=orjson.OPT_INDENT_2) if pretty else orjson.dumps(body)
    if pretty:
        encoded = _tab_indented(encoded)
    for character, escape in _GO_ESCAPES:
        if character in encoded:
            encoded = encoded.replace(character, escape)
    return encoded


def _tab_indented(encoded: bytes) -> bytes:
    """orjson's two-space indentation as Go's tabs. A newline in a JSON string is written `\\n`, so every
    newline byte starts an indentation; the deepest is replaced first."""
    depth = 1
    while b"\n" + b"  " * depth in encoded:
        depth += 1
    for level in range(depth - 1, 0, -1):
        encoded = encoded.replace(b"\n" + b"  " * level, b"\n" + b"\t" * level)
    return encoded


def influx_json(body: Any, status: int = 200, *, pretty: bool = True) -> web.Response:
    return web.Response(
        body=json_body(body, pretty=pretty), status=status, headers={"Content-Type": JSON_TYPE, **SERVER_HEADERS}
    )


def no_content() -> web.Response:
    return web.Response(status=204, headers=SERVER_HEADERS)


def render(error: ApiError) -> web.StreamResponse:
    """The Surfaces renderer for InfluxDB paths."""
    if isinstance(error, EmptyStatus):
        return web.Response(status=error.code, headers=SERVER_HEADERS)
    if isinstance(error, PlainNotFound):
        response = web.Response(text="404 page not found\n", status=404, headers=SERVER_HEADERS)
        response.content_type = "text/plain"
        response.charset = "utf-8"
        return response
    if isinstance(error, InfluxError):
        code, message, compact = error.reason, error.message, error.compact
    elif isinstance(error, Unauthorized):
        code, message, compact = "unauthorized", "unauthorized access", True
    elif isinstance(error, NotFound) and not error.name:
        code, message, compact = "not found", "path not found", False  # the API router's own 404
    elif isinstance(error, MethodNotAllowed):
        return web.Response(status=405, headers=SERVER_HEADERS)
    elif isinstance(error, InsufficientStorage):
        # The ErrorCode enum has no such code (the influx CLI refuses unknown ones): "unavailable"
        # is the nearest, sent with the status that says why (507).
        code, message, compact = "unavailable", error.message, False
    elif error.code in _FROM_STATUS:
        code, message, compact = _FROM_STATUS[error.code], error.message, False
    else:
        code, message, compact = "internal error", INTERNAL_MESSAGE, False
    status = error.code if isinstance(error, (InfluxError, InsufficientStorage, RequestTimeout)) else STATUS[code]
    headers = {"Content-Type": JSON_TYPE, "X-Platform-Error-Code": code, **SERVER_HEADERS, **error.headers}
    return web.Response(
        body=json_body({"code": code, "message": message}, pretty=not compact), status=status, headers=headers
    )
