"""`apiserver namespace create|list|delete`: tenants, managed through the namespaces API.

Each namespace is also an InfluxDB organization and a Cloudflare account; `list` shows the ids
those APIs know it by, so users of either can find their tenant.
"""

from __future__ import annotations

import argparse

from ..resources import CLOUDFLARE_ACCOUNT_ID, INFLUXDB_ORG_ID
from ..resources.namespace import NAMESPACES
from . import common, kinds
from .http_client import ApiClient
from .printers import aligned


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser(
        "namespace",
        help="create, list and delete namespaces",
        description="Manage namespaces (tenants). Creating and deleting needs an admin token.",
    )
    commands = group.add_subparsers(dest="namespace_command", required=True, metavar="COMMAND")

    create = common.add_command(
        commands,
        "create",
        _create,
        help="create a namespace",
        description="Create a namespace; it gets its InfluxDB org id and Cloudflare account id at once.",
        examples="  apiserver namespace create team-a --server URL --token ADMIN",
    )
    create.add_argument("name", metavar="NAME")
    common.finish(create)

    listing = common.add_command(
        commands,
        "list",
        _list,
        help="list namespaces with their InfluxDB org and Cloudflare account ids",
        description="List the namespaces the token may see: name, InfluxDB org id, Cloudflare account id, created.",
        examples="  apiserver namespace list --server URL --token ADMIN",
    )
    common.finish(listing)

    delete = common.add_command(
        commands,
        "delete",
        _delete,
        help="delete a namespace",
        description="Delete a namespace. The server refuses while it still holds objects, and says which.",
        examples="  apiserver namespace delete team-a --server URL --token ADMIN",
    )
    delete.add_argument("name", metavar="NAME")
    common.finish(delete)


def _create(args: argparse.Namespace, client: ApiClient) -> int:
    body = {"apiVersion": NAMESPACES.api_version, "kind": NAMESPACES.kind, "metadata": {"name": args.name}}
    created = client.request("POST", kinds.collection_path(NAMESPACES, None), json=body)
    print(f"namespace/{created['metadata']['name']} created", flush=True)
    return 0


def _list(args: argparse.Namespace, client: ApiClient) -> int:
    items = client.get(kinds.collection_path(NAMESPACES, None))["items"]
    rows = [["NAME", "INFLUXDB ORG ID", "CLOUDFLARE ACCOUNT ID", "CREATED"]]
    for item in items:
        meta = item["metadata"]
        annotations = meta.get("annotations") or {}
        rows.append(
            [
                meta["name"],
                annotations.get(INFLUXDB_ORG_ID, ""),
                annotations.get(CLOUDFLARE_ACCOUNT_ID, ""),
                meta.get("creationTimestamp", ""),
            ]
        )
    print(aligned(rows), end="", flush=True)
    return 0


def _delete(args: argparse.Namespace, client: ApiClient) -> int:
    client.delete(kinds.item_path(NAMESPACES, "", args.name))
    print(f'namespace "{args.name}" deleted', flush=True)
    return 0
