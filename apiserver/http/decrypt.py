"""The decrypt routes of the native surface: service identities read values back, audited.

- `POST .../namespaces/{ns}/securevalues/{name}/decrypt`: 200 `{"value": ...}`; a refusal is a
  403 Status whose message is exactly `not found` or `not authorized`; a stored value that cannot
  be decrypted is a 500 `InternalError` `decryption failed`.
- `POST .../namespaces/{ns}/decrypt` with `{"names": [...]}`: 200 `{"decryptedValues": {NAME:
  {"value": ...} | {"errorMessage": ...}}}`, as Grafana's `DecryptSecureValues`.

Answers carry `Cache-Control: no-store`: a value must not linger in a cache on the way.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..machinery.errors import MethodNotAllowed, bad_request, forbidden, internal
from ..services.decrypt import DECRYPTION_FAILED, MAX_NAMES, Decrypted, DecryptService, acting_for
from .body import read_optional_object
from .context import request_context

_NO_STORE = {"Cache-Control": "no-store"}
SERVICE_IDENTITY_NAME = "X-Grafana-Service-Identity-Name"  # sent by Grafana's decrypt clients, for the audit


def _decrypt_context(request: web.Request):
    ctx = request_context(request)
    ctx.acting_for = acting_for(request.headers.get(SERVICE_IDENTITY_NAME, ""))
    return ctx


def _text(result: Decrypted) -> str:
    assert result.value is not None
    return result.value.reveal().decode("utf-8", errors="replace")


def _answer(body: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json", headers=_NO_STORE)


def _names(document: dict[str, Any]) -> list[str]:
    names = document.get("names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise bad_request('the body must be {"names": [NAME, ...]} with names as strings')
    if len(names) > MAX_NAMES:
        raise bad_request(f"at most {MAX_NAMES} names per decrypt request")
    return names


def add_routes(app: web.Application, service: DecryptService, prefix: str) -> None:
    async def decrypt_one(request: web.Request) -> web.Response:
        ctx = _decrypt_context(request)
        await read_optional_object(request, "a decrypt request")
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        result = await service.decrypt_one(ctx, namespace, name)
        if result.value is not None:
            return _answer({"value": _text(result)})
        if result.error == DECRYPTION_FAILED:
            raise internal(DECRYPTION_FAILED)
        raise forbidden(result.error)

    async def decrypt_many(request: web.Request) -> web.Response:
        ctx = _decrypt_context(request)
        names = _names(await read_optional_object(request, "a decrypt request"))
        results = await service.decrypt(ctx, request.match_info["namespace"], names)
        values = {
            name: {"value": _text(r)} if r.value is not None else {"errorMessage": r.error}
            for name, r in results.items()
        }
        return _answer({"decryptedValues": values})

    async def not_allowed(request: web.Request) -> web.Response:
        raise MethodNotAllowed(f"{request.method} is not supported on decrypt; use POST")

    one = f"{prefix}/namespaces/{{namespace}}/securevalues/{{name}}/decrypt"
    many = f"{prefix}/namespaces/{{namespace}}/decrypt"
    app.router.add_post(one, decrypt_one)
    app.router.add_post(many, decrypt_many)
    app.router.add_route("*", one, not_allowed)
    app.router.add_route("*", many, not_allowed)
