"""Cookie authentication for the browser page, at the edge, before token authentication.

A request with no credential header but a session cookie is authenticated by its session, for
the page's own routes and the native API only (the facades and the decrypt path keep to tokens).
Every cookie-authenticated write must also prove it comes from the page itself:

- the per-session anti-forgery header (`X-CSRF-Token`), which a cross-site form cannot set;
- an `Origin` (when the browser sends one) equal to this server's own origin;
- `Sec-Fetch-Site` (when sent) `same-origin`.

SameSite=Strict already keeps the cookie off cross-site requests in current browsers; these
checks hold even where it does not. A session cookie that does not resolve counts as a rejected
credential for the failed-authentication limiter, as a wrong token does.
"""

from __future__ import annotations

from aiohttp import web

from ..machinery.errors import forbidden, too_many_requests, unauthorized
from ..services.sessions import SessionService
from .context import PRINCIPAL
from .middlewares import SURFACES, Handler, bearer_token
from .ratelimit import FailureLimiter

SESSION_COOKIE = "apiserver-session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
COOKIE_PATHS = ("/ui/api/", "/apis/", "/api/v1/", "/api/v1")
SESSION = "apiserver.session"
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
SESSION_SECRET = "apiserver.session_secret"


class SessionAuth:
    def __init__(self, sessions: SessionService, limiter: FailureLimiter) -> None:
        self.sessions = sessions
        self.limiter = limiter


SESSION_AUTH = web.AppKey("session_auth", SessionAuth)


def own_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def check_same_origin(request: web.Request) -> None:
    """Refuse a request that the browser says comes from another site (403)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != own_origin(request):
        raise forbidden("cross-origin request refused: the Origin is not this server's")
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise forbidden("cross-site request refused")


@web.middleware
async def session_authentication(request: web.Request, handler: Handler) -> web.StreamResponse:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret or bearer_token(request) is not None or not request.path.startswith(COOKIE_PATHS):
        return await handler(request)
    auth = request.app[SESSION_AUTH]
    public = request.app[SURFACES].is_public(request.path)
    source = request.remote or ""
    wait = auth.limiter.retry_after(source)
    if wait is not None:
        raise too_many_requests(wait)
    session = auth.sessions.authenticate(secret)
    if session is None:
        if public:  # a stale cookie does not stand in the way of signing in again
            return await handler(request)
        auth.limiter.failed(source)
        raise unauthorized("your session has ended; please sign in again")
    if request.method not in SAFE_METHODS:
        check_same_origin(request)
        if not auth.sessions.csrf_matches(secret, request.headers.get(CSRF_HEADER, "")):
            raise forbidden("cross-site request refused: the anti-forgery token is missing or wrong")
    if request.query.get("watch") not in _TRUE:
        # The page re-opens its watch now and then by itself: only what a person does keeps a session alive.
        await auth.sessions.touch(session)
    request[PRINCIPAL] = session.principal
    request[SESSION] = session
    request[SESSION_SECRET] = secret
    return await handler(request)
