"""Authentication at the edge: any accepted credential header, resolved by the token service."""

from __future__ import annotations

from aiohttp import web

from ..machinery.context import Principal
from ..machinery.errors import unauthorized
from ..services.tokens import TokenService
from .middlewares import bearer_token


class TokenAuthenticator:
    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    def authenticate(self, request: web.Request) -> Principal:
        token = bearer_token(request)
        principal = self.tokens.authenticate(token) if token else None
        if principal is None:
            raise unauthorized()
        return principal
