"""`apiserver token create|list|revoke`: manage tokens through the admin API.

`create` prints the new token and nothing else on stdout, so scripts can capture it; the token
is never shown again. A token to revoke is sent in a request body, never in a URL.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..services.permissions import ROLES
from ..services.tokens import TOKEN_PREFIX, TOKENS
from . import common
from .errors import CliError
from .http_client import ApiClient
from .printers import aligned

TOKENS_PATH = f"/apis/{TOKENS.group}/{TOKENS.version}/tokens"


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser(
        "token",
        help="create, list and revoke access tokens",
        description="Manage access tokens (needs an admin token).",
    )
    commands = group.add_subparsers(dest="token_command", required=True, metavar="COMMAND")

    create = common.add_command(
        commands,
        "create",
        _create,
        help="create a token and print it",
        description="Create a token and print it (only the token, on stdout). It is shown only this once.\n"
        "--namespace takes one namespace, a comma-separated list, or * for all namespaces.",
        examples="  apiserver token create --server URL --token ADMIN --namespace default --role viewer\n"
        "  apiserver token create --server URL --token ADMIN --namespace team-a --role viewer \\\n"
        "      --service-identity synthetic-monitoring --expires-in 30d\n"
        "  apiserver token create --server URL --token ADMIN --namespace default \\\n"
        "      --permission secret.securevalues:read=secret.securevalues:uid:api-key",
    )
    create.add_argument("--role", choices=ROLES, help="built-in role")
    create.add_argument(
        "--service-identity",
        metavar="ID",
        help="a service identity (such as synthetic-monitoring): the token may decrypt values that "
        "name it in spec.decrypters",
    )
    create.add_argument("--subject", help="user:NAME for a user token (default user:TOKEN_ID)")
    create.add_argument(
        "--permission",
        action="append",
        default=[],
        metavar="ACTION[=SCOPE]",
        help="an explicit permission, e.g. secret.securevalues:read=secret.securevalues:uid:NAME "
        "(repeatable; scope defaults to all objects)",
    )
    create.add_argument(
        "--decrypt-permission",
        action="append",
        metavar="PERMISSION",
        help="narrow a service token's decrypt permission, e.g. "
        "secret.grafana.app/securevalues/NAME:decrypt (repeatable)",
    )
    create.add_argument("--expires-in", metavar="DURATION", help="lifetime such as 90s, 15m, 24h or 30d")
    common.finish(create)

    listing = common.add_command(
        commands,
        "list",
        _list,
        help="list tokens (never their secrets)",
        description="List tokens: id, subject, namespaces, role, created, expires, revoked.",
        examples="  apiserver token list --server URL --token ADMIN",
    )
    common.finish(listing)

    revoke = common.add_command(
        commands,
        "revoke",
        _revoke,
        help="revoke a token by its id or by the token itself",
        description="Revoke a token, given by its id (tok-...) or by the token itself (sas_...). "
        "It is refused from the next request on.",
        examples="  apiserver token revoke --server URL --token ADMIN tok-0123456789abcdef",
    )
    revoke.add_argument("token_or_id", metavar="TOKEN_OR_ID")
    common.finish(revoke)


def _permission(text: str) -> dict[str, str]:
    action, _, scope = text.partition("=")
    return {"action": action, "scope": scope} if scope else {"action": action}


def _create(args: argparse.Namespace, client: ApiClient) -> int:
    namespaces = [ns.strip() for ns in client.config.namespace.split(",") if ns.strip()]
    body: dict[str, Any] = {"namespaces": namespaces}
    if args.role:
        body["role"] = args.role
    if args.service_identity:
        body["serviceIdentity"] = args.service_identity
    if args.subject:
        body["subject"] = args.subject
    if args.permission:
        body["permissions"] = [_permission(p) for p in args.permission]
    if args.decrypt_permission is not None:
        body["decryptPermissions"] = args.decrypt_permission
    if args.expires_in:
        body["expiresIn"] = args.expires_in
    created = client.request("POST", TOKENS_PATH, json=body)
    print(created["token"], flush=True)
    return 0


def _list(args: argparse.Namespace, client: ApiClient) -> int:
    items = client.get(TOKENS_PATH)["items"]
    rows = [["ID", "SUBJECT", "NAMESPACES", "ROLE", "CREATED", "EXPIRES", "REVOKED"]]
    for item in items:
        role = item.get("role") or ("<permissions>" if item.get("permissions") else "<none>")
        rows.append(
            [
                item["id"],
                item["subject"],
                ",".join(item["namespaces"]),
                role,
                item["created"],
                item.get("expires") or "<never>",
                "true" if item.get("revoked") else "false",
            ]
        )
    print(aligned(rows), end="", flush=True)
    return 0


def _revoke(args: argparse.Namespace, client: ApiClient) -> int:
    given = args.token_or_id.strip()
    if not given:
        raise CliError("give the token or its id")
    body = {"token": given} if given.startswith(TOKEN_PREFIX) else {"id": given}
    revoked = client.request("POST", f"{TOKENS_PATH}/revoke", json=body)
    print(f"token {revoked['id']} revoked", flush=True)
    return 0
