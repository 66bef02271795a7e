"""The admin HTTP API for key maintenance, under `/apis/ops.apiserver.local/v1/keys`.

- `GET  .../keys` the key status: KEKs, data keys per namespace, values each protects.
- `POST .../keys/rotate-dek` with `{"namespace": NS}` (optional): new data keys now.
- `POST .../keys/reload` re-reads the KEK file (as SIGHUP does).
- `POST .../keys/rewrap` re-wraps every data key under the active KEK.
- `POST .../keys/reencrypt` with `{"namespace", "continue", "limit"}` (all optional): one chunk of
  re-encryption; repeat with the returned `continue` until it is empty.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..machinery.errors import MethodNotAllowed, bad_request
from ..services.keys import KEYS, KeyService
from .body import read_optional_object
from .context import request_context
from .resource_routes import json_response

KEYS_PATH = f"/apis/{KEYS.group}/{KEYS.version}/keys"
_NO_STORE = {"Cache-Control": "no-store"}
DEFAULT_CHUNK = 500


def _string(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise bad_request(f"{key} must be a non-empty string")
    return value


def _only(body: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad_request(f"unknown field {unknown[0]!r} in the body of {what} (allowed: {', '.join(allowed)})")


def add_routes(app: web.Application, keys: KeyService) -> None:
    async def status(request: web.Request) -> web.Response:
        return json_response(await keys.status(request_context(request)), headers=_NO_STORE)

    async def rotate_dek(request: web.Request) -> web.Response:
        body = await read_optional_object(request, "a data key rotation")
        _only(body, ("namespace",), "a data key rotation")
        return json_response(await keys.rotate_data_keys(request_context(request), _string(body, "namespace")))

    async def reload(request: web.Request) -> web.Response:
        _only(await read_optional_object(request, "a KEK reload"), (), "a KEK reload")
        return json_response(await keys.reload(request_context(request)))

    async def rewrap(request: web.Request) -> web.Response:
        _only(await read_optional_object(request, "a re-wrap"), (), "a re-wrap")
        return json_response(await keys.rewrap(request_context(request)))

    async def reencrypt(request: web.Request) -> web.Response:
        body = await read_optional_object(request, "a re-encryption")
        _only(body, ("namespace", "continue", "limit"), "a re-encryption")
        limit = body.get("limit", DEFAULT_CHUNK)
        if type(limit) is not int:
            raise bad_request("limit must be an integer")
        ctx = request_context(request)
        return json_response(await keys.reencrypt(ctx, _string(body, "namespace"), body.get("continue") or "", limit))

    async def not_allowed(request: web.Request) -> web.Response:
        raise MethodNotAllowed(f'{request.method} is not supported on "{request.path}"', KEYS.group, KEYS.resource)

    app.router.add_get(KEYS_PATH, status)
    app.router.add_route("*", KEYS_PATH, not_allowed)
    for name, handler in (("rotate-dek", rotate_dek), ("reload", reload), ("rewrap", rewrap), ("reencrypt", reencrypt)):
        app.router.add_post(f"{KEYS_PATH}/{name}", handler)
        app.router.add_route("*", f"{KEYS_PATH}/{name}", not_allowed)
