"""The admin HTTP API for tokens, under `/apis/auth.apiserver.local/v1/tokens`.

- `POST   .../tokens` creates a token; the answer (201) is the only place its secret appears.
- `GET    .../tokens` lists tokens (`TokenList`), `GET .../tokens/{id}` shows one; never a secret.
- `POST   .../tokens/revoke` with `{"id": ...}` or `{"token": ...}` revokes one: a token string
  travels only in a body, never in a URL (so never in an access log).
"""

from __future__ import annotations

from aiohttp import web

from ..machinery.documents import decode_document
from ..machinery.errors import MethodNotAllowed
from ..services.token_admin import TokenAdmin
from ..services.tokens import TOKENS
from .body import media_type, read_body
from .context import request_context
from .resource_routes import json_response

TOKENS_PATH = f"/apis/{TOKENS.group}/{TOKENS.version}/tokens"
_NO_STORE = {"Cache-Control": "no-store"}


def add_routes(app: web.Application, admin: TokenAdmin) -> None:
    async def create(request: web.Request) -> web.Response:
        ctx = request_context(request)
        body = decode_document(await read_body(request), media_type(request))
        record, secret = await admin.create(ctx, body)
        return json_response({**record.public(), "token": secret}, 201, _NO_STORE)

    async def list_tokens(request: web.Request) -> web.Response:
        records = admin.list(request_context(request))
        return json_response(
            {"kind": "TokenList", "apiVersion": TOKENS.api_version, "items": [r.public() for r in records]}
        )

    async def get(request: web.Request) -> web.Response:
        return json_response(admin.get(request_context(request), request.match_info["id"]).public())

    async def revoke(request: web.Request) -> web.Response:
        ctx = request_context(request)
        body = decode_document(await read_body(request), media_type(request))
        return json_response((await admin.revoke(ctx, body)).public())

    async def not_allowed(request: web.Request) -> web.Response:
        raise MethodNotAllowed(
            f'{request.method} is not supported on "{request.path}"',
            TOKENS.group,
            TOKENS.resource,
        )

    app.router.add_post(f"{TOKENS_PATH}/revoke", revoke)
    app.router.add_route("*", f"{TOKENS_PATH}/revoke", not_allowed)
    app.router.add_post(TOKENS_PATH, create)
    app.router.add_get(TOKENS_PATH, list_tokens)
    app.router.add_route("*", TOKENS_PATH, not_allowed)
    app.router.add_get(f"{TOKENS_PATH}/{{id}}", get)
    app.router.add_route("*", f"{TOKENS_PATH}/{{id}}", not_allowed)
