"""`apiserver get TYPE [NAME...]`: list or show objects as a table, YAML, JSON or names."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import kinds, printers
from .common import add_command, finish
from .errors import ApiCallError, CliError, report
from .http_client import TABLE, ApiClient

DESCRIPTION = """\
Show secure values, keepers or namespaces. Without NAME, list them (in the current namespace,
or every namespace with -A); -l filters by labels. The table is the server's own; values are
write-only and never shown."""

EXAMPLES = """\
  apiserver get securevalues
  apiserver get sv -A -l app=billing
  apiserver get securevalue db-password -o yaml
  apiserver get keepers -n team-a -o json
  apiserver get namespaces -o name
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub, "get", run, help="show secure values, keepers or namespaces", description=DESCRIPTION, examples=EXAMPLES
    )
    parser.add_argument("type", metavar="TYPE", help=f"one of {', '.join(kinds.TYPE_NAMES)} (or sv, ns...)")
    parser.add_argument("names", nargs="*", metavar="NAME", help="objects to show (default: all)")
    parser.add_argument("-o", "--output", choices=printers.FORMATS, default="table", help="output format")
    parser.add_argument("-l", "--selector", help="label selector, e.g. app=billing,tier!=dev")
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    parser.add_argument("--show-managed-fields", action="store_true", help="keep metadata.managedFields in yaml/json")
    finish(parser)


def run(args: argparse.Namespace, client: ApiClient) -> int:
    rtype = kinds.by_name(args.type)
    if args.names and (args.selector or args.all_namespaces):
        raise CliError("a NAME cannot be combined with -l or -A")
    namespace = client.config.namespace if rtype.namespaced else ""
    table_output = args.output in ("table", "wide")
    headers = {"Accept": TABLE} if table_output else None
    failed = False
    results: list[dict[str, Any]] = []
    if args.names:
        for name in args.names:
            try:
                results.append(client.get(kinds.item_path(rtype, namespace, name), headers=headers))
            except ApiCallError as error:
                if error.code != 404:
                    raise
                report(error)
                failed = True
    else:
        path = kinds.collection_path(rtype, None if args.all_namespaces else namespace)
        results.append(client.get(path, params={"labelSelector": args.selector}, headers=headers))
    if table_output:
        _print_table(results, args, namespace)
    else:
        sys.stdout.write(_render(rtype, results, args))
    return 1 if failed else 0


def _print_table(tables: list[dict[str, Any]], args: argparse.Namespace, namespace: str) -> None:
    if not tables:
        return
    merged = dict(tables[0], rows=[row for table in tables for row in table.get("rows") or []])
    if not merged["rows"]:
        where = "" if args.all_namespaces or not namespace else f" in {namespace} namespace"
        print(f"No resources found{where}.", file=sys.stderr)
        return
    sys.stdout.write(printers.table(merged, all_namespaces=args.all_namespaces, wide=args.output == "wide"))


def _render(rtype, results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    if args.names:
        objects = results
        body: Any = objects[0] if len(objects) == 1 else {"apiVersion": "v1", "kind": "List", "items": objects}
    else:
        body = results[0]
        objects = body.get("items") or []
    if args.output == "name":
        return printers.names(rtype, objects)
    if not objects and args.names:
        return ""
    if not args.show_managed_fields:
        body = printers.without_managed_fields(body)
    return printers.to_yaml(body) if args.output == "yaml" else printers.to_json(body)
