"""The page's routes: the application files, sign-in and sign-out, and what the session may do.

- `GET /ui/` (and every file under `/ui/static/`) needs no credentials: it holds no data.
- `POST /ui/api/session` with `{"token": ...}` signs in: the token travels only in the body and
  is exchanged for a session cookie (HttpOnly, SameSite=Strict, Secure under TLS).
- `GET /ui/api/session` says who is signed in, the anti-forgery token, and for each namespace
  the session may see its facade IDs and what the session may do there.
- `DELETE /ui/api/session` signs out.

Everything else the page shows comes from the native API, called with the session cookie.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ..http.body import media_type, read_body
from ..http.context import PRINCIPAL
from ..http.middlewares import AUTHENTICATOR, SURFACES, require_principal
from ..http.session_auth import (
    SESSION,
    SESSION_AUTH,
    SESSION_COOKIE,
    SESSION_SECRET,
    check_same_origin,
)
from ..machinery.context import Principal
from ..machinery.errors import ApiError, bad_request, too_many_requests, unauthorized
from ..resources import CLOUDFLARE_ACCOUNT_ID, INFLUXDB_ORG_ID
from ..resources.keeper import KEEPERS
from ..resources.securevalue import SECURE_VALUES
from ..services.facade_namespaces import FacadeNamespaces

if TYPE_CHECKING:
    from ..machinery.registry import Registry
    from ..services.authz import Authorizer
    from ..services.sessions import SessionService
    from ..services.tokens import TokenService

UI_PREFIX = "/ui"
SESSION_PATH = f"{UI_PREFIX}/api/session"
# Only this server's own files and APIs; no inline script or style, no eval, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_SV_VERBS = ("list", "watch", "create", "update", "delete")


def _static_files() -> dict[str, tuple[bytes, str]]:
    """Every shipped file, read once: relative path -> (bytes, content type)."""
    root = resources.files(__package__) / "static"
    files: dict[str, tuple[bytes, str]] = {}

    def walk(folder: Any, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
                continue
            suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
            if suffix in _TYPES:
                files[prefix + entry.name] = (entry.read_bytes(), _TYPES[suffix])

    walk(root, "")
    return files


def page_response(body: bytes, content_type: str, status: int = 200) -> web.Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    charset = "utf-8" if content_type.startswith("text/") or content_type.endswith("+xml") else None
    return web.Response(body=body, status=status, content_type=content_type, charset=charset, headers=headers)


def api_response(body: Any, status: int = 200) -> web.Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


class PageRoutes:
    def __init__(
        self, namespaces: Registry, tokens: TokenService, sessions: SessionService, authorizer: Authorizer
    ) -> None:
        self.namespaces = FacadeNamespaces(namespaces)
        self.tokens = tokens
        self.sessions = sessions
        self.authorizer = authorizer
        self.files = _static_files()

    def add_to(self, app: web.Application) -> None:
        public = app[SURFACES].public_paths
        app.router.add_get("/", self.root)
        app.router.add_get(UI_PREFIX, self.to_page)
        app.router.add_get(f"{UI_PREFIX}/", self.index)
        for path in self.files:
            app.router.add_get(f"{UI_PREFIX}/static/{path}", self.static)
            public.add(f"{UI_PREFIX}/static/{path}")
        app.router.add_post(SESSION_PATH, self.sign_in)
        app.router.add_get(SESSION_PATH, self.session_info)
        app.router.add_delete(SESSION_PATH, self.sign_out)
        public.update({"/", UI_PREFIX, f"{UI_PREFIX}/", SESSION_PATH})

    # -- the application ------------------------------------------------------------------

    async def root(self, request: web.Request) -> web.StreamResponse:
        """Browsers go to the page; API clients get what they always got (401, or 404 when signed in)."""
        if "text/html" in request.headers.get("Accept", ""):
            raise web.HTTPFound(f"{UI_PREFIX}/")
        if PRINCIPAL not in request:
            request.app[AUTHENTICATOR].authenticate(request)
        raise web.HTTPNotFound()

    async def to_page(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{UI_PREFIX}/")

    async def index(self, request: web.Request) -> web.Response:
        return page_response(*self.files["index.html"])

    async def static(self, request: web.Request) -> web.Response:
        return page_response(*self.files[request.path.removeprefix(f"{UI_PREFIX}/static/")])

    # -- the session ----------------------------------------------------------------------

    async def sign_in(self, request: web.Request) -> web.Response:
        check_same_origin(request)
        if media_type(request) != "application/json":  # a cross-site form cannot send JSON without CORS
            raise ApiError(415, "UnsupportedMediaType", "sign-in expects application/json")
        auth = request.app[SESSION_AUTH]
        source = request.remote or ""
        wait = auth.limiter.retry_after(source)
        if wait is not None:
            raise too_many_requests(wait)
        try:
            body = orjson.loads(await read_body(request, 64 * 1024))
        except orjson.JSONDecodeError:
            raise bad_request("the body must be a JSON object with a token") from None
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise bad_request("the body must be a JSON object with a token")
        principal = self.tokens.authenticate(token.strip())
        if principal is None:
            auth.limiter.failed(source)
            raise unauthorized("This token is not valid: it is unknown, expired or revoked.")
        session, secret = await auth.sessions.create(principal, token.strip())
        response = api_response(self._info(principal, secret), 201)
        response.set_cookie(SESSION_COOKIE, secret, path="/", httponly=True, samesite="Strict", secure=request.secure)
        return response

    async def session_info(self, request: web.Request) -> web.Response:
        principal = require_principal(request)
        return api_response(self._info(principal, request.get(SESSION_SECRET)))

    async def sign_out(self, request: web.Request) -> web.Response:
        session = request.get(SESSION)
        if session is None:
            require_principal(request)
        else:
            await request.app[SESSION_AUTH].sessions.end(session.id)
        response = web.Response(status=204, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    def _info(self, principal: Principal, secret: str | None) -> dict[str, Any]:
        sessions = self.sessions
        can = self.authorizer.can
        namespaces = []
        for ns in self.namespaces.all():
            name = ns["metadata"]["name"]
            if not self.namespaces.visible(principal, name):
                continue
            annotations = ns["metadata"].get("annotations") or {}
            allowed = {verb: can(principal, verb, SECURE_VALUES, name) for verb in _SV_VERBS}
            allowed["listKeepers"] = can(principal, "list", KEEPERS, name)
            allowed["activateKeepers"] = can(principal, "update", KEEPERS, name)
            namespaces.append(
                {
                    "name": name,
                    "influxdbOrgId": annotations.get(INFLUXDB_ORG_ID),
                    "cloudflareAccountId": annotations.get(CLOUDFLARE_ACCOUNT_ID),
                    "allowed": allowed,
                }
            )
        return {
            "subject": principal.subject,
            "csrfToken": sessions.csrf_token(secret) if secret else None,
            "idleTimeoutSeconds": sessions.idle_seconds,
            "namespaces": namespaces,
        }


def add_routes(
    app: web.Application, namespaces: Registry, tokens: TokenService, sessions: SessionService, authorizer: Authorizer
) -> None:
    PageRoutes(namespaces, tokens, sessions, authorizer).add_to(app)
