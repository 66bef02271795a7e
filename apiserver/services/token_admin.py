"""Token management as the admin API offers it: authorized, validated and audited.

An admin of some namespaces manages only tokens within those namespaces (it cannot mint a token
wider than its own); an admin of all namespaces manages every token. The bootstrap admin token
is configuration, not a record: it cannot be listed or revoked here.
"""

from __future__ import annotations

from typing import Any

from ..machinery.audit import Auditor
from ..machinery.context import RequestContext
from ..machinery.errors import NotFound, bad_request, forbidden, not_found
from .authz import Authorizer, forbidden_message
from .permissions import Grant
from .token_requests import parse_token_request
from .tokens import TOKENS, TokenRecord, TokenService


class TokenAdmin:
    def __init__(self, tokens: TokenService, authorizer: Authorizer, auditor: Auditor) -> None:
        self.tokens = tokens
        self.authorizer = authorizer
        self.auditor = auditor

    def _grant(self, ctx: RequestContext, verb: str, name: str = "") -> Grant:
        self.authorizer.authorize(ctx.principal, verb, TOKENS, "", name)
        grant = self.authorizer.grant(ctx.principal)
        assert grant is not None  # authorize() refused a principal without one
        return grant

    def _within(self, ctx: RequestContext, grant: Grant, verb: str, record_namespaces: list[str], name: str) -> None:
        if not grant.covers_all(record_namespaces):
            raise forbidden(
                forbidden_message(ctx.principal, verb, TOKENS, "", name)
                + ": the token's namespaces are not all within the caller's",
                TOKENS.resource,
                name,
                TOKENS.group,
            )

    async def create(self, ctx: RequestContext, body: Any) -> tuple[TokenRecord, str]:
        grant = self._grant(ctx, "create")
        request = parse_token_request(body)
        self._within(ctx, grant, "create", request.namespaces, "")
        self.auditor.check_available()
        record, secret = await self.tokens.create(request)
        self._audit(ctx, "token.create", record, "success")
        return record, secret

    def list(self, ctx: RequestContext) -> list[TokenRecord]:
        grant = self._grant(ctx, "list")
        return sorted((r for r in self.tokens.list() if grant.covers_all(r.namespaces)), key=lambda r: r.created)

    def get(self, ctx: RequestContext, token_id: str) -> TokenRecord:
        grant = self._grant(ctx, "get", token_id)
        record = self.tokens.get(token_id)
        if record is None or not grant.covers_all(record.namespaces):
            raise not_found(TOKENS.resource, token_id, TOKENS.group)
        return record

    async def revoke(self, ctx: RequestContext, body: Any) -> TokenRecord:
        """Revoke by `{"id": ...}` or by `{"token": ...}` (in a body, never in a URL)."""
        if (
            not isinstance(body, dict)
            or len(body) != 1
            or not isinstance(next(iter(body.values())), str)
            or next(iter(body)) not in ("id", "token")
        ):
            raise bad_request('the body of a revocation is {"id": TOKEN_ID} or {"token": TOKEN}')
        token_id, token = body.get("id"), body.get("token")
        grant = self._grant(ctx, "revoke", token_id or "")
        if token is not None:
            if self.tokens.is_bootstrap(token):
                raise bad_request(
                    "the bootstrap admin token is configuration (--admin-token, APISERVER_ADMIN_TOKEN "
                    "or DATA_DIR/admin-token): replace it there and restart"
                )
            record = self.tokens.find(token)
            if record is None:
                raise NotFound("no token matches the one given", TOKENS.group, TOKENS.resource)
        else:
            record = self.tokens.get(token_id or "")
            if record is None:
                raise not_found(TOKENS.resource, token_id or "", TOKENS.group)
        if not grant.covers_all(record.namespaces):
            self._audit(ctx, "token.revoke", record, "denied", "outside the caller's namespaces")
            self._within(ctx, grant, "revoke", record.namespaces, record.id)
        self.auditor.check_available()
        revoked = await self.tokens.revoke(record.id)
        self._audit(ctx, "token.revoke", revoked, "success")
        return revoked

    def _audit(self, ctx: RequestContext, operation: str, record: TokenRecord, outcome: str, reason: str = "") -> None:
        self.auditor.record(ctx, operation, TOKENS.resource, ",".join(record.namespaces), record.id, outcome, reason)
