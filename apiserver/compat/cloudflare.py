"""The Cloudflare Secrets Store facade: `/client/v4/accounts/{account_id}/secrets_store/...`.

Point the official SDK at `http://HOST:PORT/client/v4` (`base_url=` or `CLOUDFLARE_BASE_URL`).
Handlers translate the wire format (cloudflare_wire) into calls of the Cloudflare services and
their results back into Cloudflare's objects; they never touch the store and never validate
what the services validate. An account is a namespace; reads need the namespace's read
permission on secure values, everything else write permission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..http.context import PRINCIPAL, REQUEST_ID
from ..http.middlewares import SURFACES
from ..machinery.context import RequestContext
from ..services.cloudflare_secrets import (
    SCOPES,
    CloudflareServices,
    NewSecret,
    SecretChange,
    comment_of,
    created_of,
    modified_of,
    scopes_of,
    secret_id,
    secret_name,
)
from ..services.cloudflare_stores import Account
from ..services.secret_bytes import SecretBytes
from .cloudflare_wire import (
    SECRET_ORDERS,
    STORE_ORDERS,
    ListQuery,
    envelope,
    invalid,
    json_body,
    render_error,
    scopes_field,
    string_field,
    timestamp,
)

PREFIX = "/client/v4"
_ACCOUNT = PREFIX + "/accounts/{account_id}"
_STORES = _ACCOUNT + "/secrets_store/stores"
_SECRETS = _STORES + "/{store_id}/secrets"
_TRUE, _FALSE = ("true", "1"), ("false", "0", "")


def add_routes(app: web.Application, services: CloudflareServices) -> None:
    """Mount the facade and its error dialect."""
    app[SURFACES].add_dialect(PREFIX + "/", render_error)
    app.router.add_routes(CloudflareFacade(services).routes())


# -- Cloudflare's objects -----------------------------------------------------------------------


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.namespace,
        "type": "standard",
        "created_on": timestamp(account.created),
        "settings": {"enforce_twofactor": False},
    }


def store_json(obj: dict[str, Any], account_id: str) -> dict[str, Any]:
    created = timestamp(obj["metadata"]["creationTimestamp"])
    return {
        "id": obj["metadata"]["name"],
        "name": obj["spec"]["name"],
        "account_id": account_id,
        "created": created,
        "modified": created,
    }


def secret_json(obj: dict[str, Any], store_id: str) -> dict[str, Any]:
    return {
        "id": secret_id(obj),
        "name": secret_name(obj),
        "store_id": store_id,
        "comment": comment_of(obj),
        "scopes": scopes_of(obj),
        "status": "active",
        "created": timestamp(created_of(obj)),
        "modified": timestamp(modified_of(obj)),
    }


_SECRET_SORT = {
    "name": secret_name,
    "comment": lambda obj: comment_of(obj) or "",
    "created": created_of,
    "modified": modified_of,
    "status": lambda obj: "active",
}


def _ordered(
    items: list[dict[str, Any]],
    query: ListQuery,
    primary: Callable[[dict[str, Any]], Any],
    name: Callable[[dict[str, Any]], str],
) -> list[dict[str, Any]]:
    """Sorted by the query's field, ties by name then id, so pages never overlap or skip."""
    return sorted(items, key=lambda o: (primary(o), name(o), o["metadata"]["uid"]), reverse=query.descending)


def request_context(request: web.Request) -> RequestContext:
    """The caller and request id; none of the native query options (dryRun, fieldManager...) apply here."""
    agent = request.headers.get("User-Agent", "") or "cloudflare"
    return RequestContext(
        principal=request[PRINCIPAL],
        request_id=request.get(REQUEST_ID, ""),
        default_manager=agent.split("/")[0][:128] or "cloudflare",
    )


def _force(request: web.Request) -> bool:
    text = request.query.get("force", "").lower()
    if text not in _TRUE + _FALSE:
        raise invalid("invalid_force")
    return text in _TRUE


class CloudflareFacade:
    def __init__(self, services: CloudflareServices) -> None:
        self.accounts = services.accounts
        self.stores = services.stores
        self.secrets = services.secrets

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get(PREFIX + "/accounts", self.list_accounts),
            web.get(_ACCOUNT, self.get_account),
            web.get(_ACCOUNT + "/secrets_store/quota", self.quota),
            web.get(_STORES, self.list_stores),
            web.post(_STORES, self.create_stores),
            web.get(_STORES + "/{store_id}", self.get_store),
            web.delete(_STORES + "/{store_id}", self.delete_store),
            web.get(_SECRETS, self.list_secrets),
            web.post(_SECRETS, self.create_secrets),
            web.delete(_SECRETS, self.bulk_delete_secrets),
            web.get(_SECRETS + "/{secret_id}", self.get_secret),
            web.patch(_SECRETS + "/{secret_id}", self.edit_secret),
            web.delete(_SECRETS + "/{secret_id}", self.delete_secret),
            web.post(_SECRETS + "/{secret_id}/duplicate", self.duplicate_secret),
        ]

    def _account(self, request: web.Request, verb: str) -> tuple[RequestContext, str, str]:
        ctx = request_context(request)
        account_id = request.match_info["account_id"]
        return ctx, account_id, self.accounts.resolve(ctx, account_id, verb)

    # -- accounts -------------------------------------------------------------------------

    async def list_accounts(self, request: web.Request) -> web.Response:
        ctx = request_context(request)
        query = ListQuery.parse(request.query, ("name",))
        wanted = request.query.get("name", "").lower()
        accounts = sorted(
            (a for a in self.accounts.visible(ctx) if wanted in a.namespace.lower()),
            key=lambda a: a.namespace,
            reverse=query.descending,
        )
        page, info = query.window(accounts)
        return envelope([account_json(a) for a in page], result_info=info)

    async def get_account(self, request: web.Request) -> web.Response:
        ctx = request_context(request)
        return envelope(account_json(self.accounts.get(ctx, request.match_info["account_id"])))

    async def quota(self, request: web.Request) -> web.Response:
        ctx, _, namespace = self._account(request, "list")
        usage = await self.secrets.usage(ctx, namespace)
        return envelope({"secrets": {"quota": self.secrets.quota, "usage": usage}})

    # -- stores ---------------------------------------------------------------------------

    async def list_stores(self, request: web.Request) -> web.Response:
        ctx, account_id, namespace = self._account(request, "list")
        query = ListQuery.parse(request.query, STORE_ORDERS)
        by_field = {
            "name": lambda o: o["spec"]["name"],
            "created": lambda o: o["metadata"]["creationTimestamp"],
            "modified": lambda o: o["metadata"]["creationTimestamp"],
        }
        primary = by_field[query.order or "created"]
        stores = _ordered(self.stores.list(ctx, namespace), query, primary, lambda o: o["spec"]["name"])
        page, info = query.window(stores)
        return envelope([store_json(s, account_id) for s in page], result_info=info)

    async def create_stores(self, request: web.Request) -> web.Response:
        """An object creates one store; an array (SDKs up to 4.3) creates each and is answered as an array."""
        ctx, account_id, namespace = self._account(request, "create")
        body = await json_body(request)
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(item, dict) for item in items):
            raise invalid("invalid_json_body")
        names = [string_field(item, "name", required=True) or "" for item in items]
        created = [store_json(s, account_id) for s in await self.stores.create(ctx, namespace, names)]
        return envelope(created if isinstance(body, list) else created[0])

    async def get_store(self, request: web.Request) -> web.Response:
        ctx, account_id, namespace = self._account(request, "get")
        return envelope(store_json(self.stores.get(ctx, namespace, request.match_info["store_id"]), account_id))

    async def delete_store(self, request: web.Request) -> web.Response:
        """A store with secrets is deleted only with `force=true` (with its secrets); else 409 `store_not_empty`."""
        ctx, _, namespace = self._account(request, "delete")
        empty_first = self.secrets.empty if _force(request) else None
        await self.stores.delete(ctx, namespace, request.match_info["store_id"], empty_first)
        return envelope(None)

    # -- secrets --------------------------------------------------------------------------

    async def list_secrets(self, request: web.Request) -> web.Response:
        ctx, _, namespace = self._account(request, "list")
        store_id = request.match_info["store_id"]
        query = ListQuery.parse(request.query, SECRET_ORDERS)
        if any(scope not in SCOPES for scope in query.scopes):
            raise invalid("secret_scopes_invalid")
        search = query.search.lower()
        found = [
            obj
            for obj in await self.secrets.list(ctx, namespace, store_id)
            if (not search or search in secret_name(obj).lower() or search in (comment_of(obj) or "").lower())
            and all(scope in scopes_of(obj) for scope in query.scopes)
        ]
        found = _ordered(found, query, _SECRET_SORT[query.order or "created"], secret_name)
        page, info = query.window(found)
        return envelope([secret_json(obj, store_id) for obj in page], result_info=info)

    async def create_secrets(self, request: web.Request) -> web.Response:
        """The body is an array of `{name, value, scopes, comment?}`; so is the answer."""
        ctx, _, namespace = self._account(request, "create")
        store_id = request.match_info["store_id"]
        body = await json_body(request)
        if not isinstance(body, list) or not body or not all(isinstance(item, dict) for item in body):
            raise invalid("invalid_json_body")
        wanted = [
            NewSecret(
                string_field(item, "name", required=True) or "",
                SecretBytes((string_field(item, "value", required=True) or "").encode()),
                scopes_field(item, required=True) or [],
                string_field(item, "comment", required=False),
            )
            for item in body
        ]
        created = await self.secrets.create(ctx, namespace, store_id, wanted)
        return envelope([secret_json(obj, store_id) for obj in created])

    async def bulk_delete_secrets(self, request: web.Request) -> web.Response:
        """`{"ids": [...]}`; without ids nothing is deleted (the generated SDK method sends no body)."""
        ctx, _, namespace = self._account(request, "delete")
        body = await json_body(request, required=False)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not ids or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise invalid("ids_required")
        await self.secrets.delete(ctx, namespace, request.match_info["store_id"], list(dict.fromkeys(ids)))
        return envelope(None, status=202)

    async def get_secret(self, request: web.Request) -> web.Response:
        ctx, _, namespace = self._account(request, "get")
        store_id = request.match_info["store_id"]
        return envelope(
            secret_json(await self.secrets.get(ctx, namespace, store_id, request.match_info["secret_id"]), store_id)
        )

    async def edit_secret(self, request: web.Request) -> web.Response:
        """PATCH `{value?, scopes?, comment?}`; a `name` (sent by SDKs up to 4.3) must be the current one."""
        ctx, _, namespace = self._account(request, "update")
        store_id, id_ = request.match_info["store_id"], request.match_info["secret_id"]
        body = await json_body(request)
        if not isinstance(body, dict):
            raise invalid("invalid_json_body")
        name = string_field(body, "name", required=False)
        if name is not None and name != secret_name(await self.secrets.get(ctx, namespace, store_id, id_)):
            raise invalid("secret_name_immutable")
        value = string_field(body, "value", required=False)
        change = SecretChange(
            SecretBytes(value.encode()) if value is not None else None,
            scopes_field(body, required=False),
            string_field(body, "comment", required=False),
        )
        return envelope(secret_json(await self.secrets.edit(ctx, namespace, store_id, id_, change), store_id))

    async def delete_secret(self, request: web.Request) -> web.Response:
        ctx, _, namespace = self._account(request, "delete")
        await self.secrets.delete(ctx, namespace, request.match_info["store_id"], [request.match_info["secret_id"]])
        return envelope(None, status=202)

    async def duplicate_secret(self, request: web.Request) -> web.Response:
        """A new secret with the same value (copied inside the server); `name` and `scopes` are required."""
        ctx, _, namespace = self._account(request, "create")
        store_id = request.match_info["store_id"]
        body = await json_body(request)
        if not isinstance(body, dict):
            raise invalid("invalid_json_body")
        name = string_field(body, "name", required=True) or ""
        scopes = scopes_field(body, required=True) or []
        duplicate = await self.secrets.duplicate(
            ctx,
            namespace,
            store_id,
            request.match_info["secret_id"],
            name,
            scopes,
            string_field(body, "comment", required=False),
        )
        return envelope(secret_json(duplicate, store_id))
