"""Authentication at the edge: any accepted credential header, resolved by the token service.

Repeated failures from one address are slowed down by the FailureLimiter; an address over the
limit is refused before its credential is even looked at, so guessing gains nothing by racing.
"""

from __future__ import annotations

from aiohttp import web

from ..machinery.context import Principal
from ..machinery.errors import too_many_requests, unauthorized
from ..services.tokens import TokenService
from .middlewares import bearer_token
from .ratelimit import FailureLimiter


class TokenAuthenticator:
    def __init__(self, tokens: TokenService, limiter: FailureLimiter | None = None) -> None:
        self.tokens = tokens
        self.limiter = limiter or FailureLimiter()

    def authenticate(self, request: web.Request) -> Principal:
        source = request.remote or ""
        wait = self.limiter.retry_after(source)
        if wait is not None:
            raise too_many_requests(wait)
        token = bearer_token(request)
        if not token:
            raise unauthorized()
        principal = self.tokens.authenticate(token)
        if principal is None:
            self.limiter.failed(source)
            raise unauthorized()
        return principal
