"""The token exchange and the signing keys, over HTTP.

- `POST /v1/sign-access-token` is Grafana's token-exchange endpoint as grafana/authlib calls it
  (`authn/token_exchange.go`): one of our service tokens as the bearer, the body
  `{"namespace", "audiences", "expiresIn"?}`; the answer `{"data": {"token": JWT}, "status":
  "success"}`, an error `{"error": MESSAGE, "status": "error"}` (authlib reads `error`; it retries
  429 and 5xx).
- `GET /.well-known/jwks.json` publishes the public signing keys, without credentials.
- `GET /apis/auth.apiserver.local/v1/signingkeys` lists the keys (no key material) and
  `POST .../signingkeys/rotate` makes a new one sign; both for cluster admins only.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..machinery.audit import Auditor, written
from ..machinery.errors import ApiError, bad_request, forbidden
from ..services.access_tokens import AccessTokenIssuer, ExchangeRefused
from ..services.signing_keys import SigningKeys
from ..services.tokens import TOKEN_GROUP, TokenService
from .body import read_body
from .context import request_context
from .middlewares import SURFACES, require_principal

EXCHANGE_PATH = "/v1/sign-access-token"
JWKS_PATH = "/.well-known/jwks.json"
SIGNING_KEYS_PATH = f"/apis/{TOKEN_GROUP}/v1/signingkeys"
_NO_STORE = {"Cache-Control": "no-store"}
ACCESS_TOKENS = "accesstokens"  # the audit's resource for issued access tokens


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def _requested_namespace(body: Any) -> str:
    """The namespace an exchange asks for, as the audit keeps it (printable, bounded)."""
    namespace = body.get("namespace") if isinstance(body, dict) else None
    return "".join(c for c in namespace if c.isprintable())[:253] if isinstance(namespace, str) else ""


def render_exchange_error(error: ApiError) -> web.StreamResponse:
    """authlib's error shape for the exchange path (authentication failures, 429, bad bodies)."""
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return _json({"error": error.message, "status": "error"}, error.code, headers)


def add_routes(
    app: web.Application, issuer: AccessTokenIssuer, keys: SigningKeys, tokens: TokenService, auditor: Auditor
) -> None:
    app[SURFACES].add_dialect(EXCHANGE_PATH, render_exchange_error)
    app[SURFACES].public_paths.add(JWKS_PATH)

    async def exchange(request: web.Request) -> web.Response:
        principal = require_principal(request)
        try:
            body = orjson.loads(await read_body(request))
        except orjson.JSONDecodeError:
            return _json({"error": "the body must be JSON", "status": "error"}, 400)
        ctx, namespace = request_context(request), _requested_namespace(body)
        try:
            token = await issuer.exchange(principal, body)
        except ExchangeRefused as refused:
            auditor.record(ctx, "token.exchange", ACCESS_TOKENS, namespace, principal.token_id, "denied", str(refused))
            return _json({"error": str(refused), "status": "error"}, refused.status)
        # An access token decrypts: like a value, it leaves only once its issuance is on record.
        await written([auditor.record(ctx, "token.exchange", ACCESS_TOKENS, namespace, principal.token_id, "success")])
        return _json({"data": {"token": token}, "status": "success"}, headers=_NO_STORE)

    async def jwks(request: web.Request) -> web.Response:
        return _json(keys.jwks(), headers={"Cache-Control": "max-age=60"})

    def _require_cluster_admin(request: web.Request) -> None:
        grant = tokens.grant_for(require_principal(request))
        if grant is None or not grant.cluster_admin:
            raise forbidden("signing keys are managed by cluster admins only", "signingkeys", "", TOKEN_GROUP)

    async def list_keys(request: web.Request) -> web.Response:
        _require_cluster_admin(request)
        return _json({"kind": "SigningKeyList", "items": [k.view() for k in keys.keys()]})

    async def rotate(request: web.Request) -> web.Response:
        _require_cluster_admin(request)
        if await read_body(request) not in (b"", b"{}"):
            raise bad_request("rotate takes no body (or {})")
        ctx = request_context(request)
        auditor.check_available()
        key = await keys.rotate()
        auditor.record(ctx, "signingkey.rotate", "signingkeys", "", key.kid, "success")
        return _json(key.view(), 201)

    app.router.add_post(EXCHANGE_PATH, exchange)
    app.router.add_get(JWKS_PATH, jwks)
    app.router.add_get(SIGNING_KEYS_PATH, list_keys)
    app.router.add_post(f"{SIGNING_KEYS_PATH}/rotate", rotate)
