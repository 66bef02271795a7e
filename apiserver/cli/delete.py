"""`apiserver delete`: delete the objects of manifests, named objects, or those matching a selector."""

from __future__ import annotations

import argparse
import sys

from ..machinery.strategy import ResourceType
from . import kinds, manifests
from .common import add_command, dry_run_params, finish, object_namespace
from .errors import ApiCallError, CliError, report
from .http_client import ApiClient

DESCRIPTION = """\
Delete objects, in one of three ways:

  -f FILE|DIR|-    the objects the manifests name (secure values first, namespaces last)
  TYPE NAME...     named objects (also TYPE/NAME)
  [TYPE] -l SEL    every object of TYPE (default securevalues) matching the label selector

A secure value's encrypted value and all its older versions are destroyed with it. Each deleted
object prints `TYPE/NAME deleted`; a failure is reported and the others go on (exit code 1)."""

EXAMPLES = """\
  apiserver delete -f manifests/db.yaml
  apiserver delete securevalue db-password api-key
  apiserver delete sv/db-password -n team-a
  apiserver delete -l app=billing
  apiserver delete keepers -l team=ops --dry-run=server
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "delete",
        run,
        help="delete objects by manifest, name or label selector",
        description=DESCRIPTION,
        examples=EXAMPLES,
    )
    parser.add_argument("targets", nargs="*", metavar="TYPE NAME", help="a type and names, or TYPE/NAME")
    parser.add_argument(
        "-f", "--filename", action="append", metavar="FILE|DIR|-", help="delete what these manifests name (repeatable)"
    )
    parser.add_argument("-l", "--selector", help="delete everything of TYPE matching this label selector")
    parser.add_argument("--ignore-not-found", action="store_true", help="an object that is already gone is no error")
    parser.add_argument(
        "--dry-run",
        choices=("none", "server"),
        default="none",
        nargs="?",
        const="server",
        help="server: check the deletion without doing it",
    )
    finish(parser)


def run(args: argparse.Namespace, client: ApiClient) -> int:
    ways = [bool(args.filename), bool(args.selector), bool(args.targets) and not args.selector]
    if sum(ways) != 1:
        raise CliError("say what to delete: -f FILE, TYPE NAME..., or [TYPE] -l SELECTOR (exactly one of them)")
    dry_run = args.dry_run == "server"
    if args.filename:
        return _delete_manifests(args, client, dry_run)
    if args.selector:
        return _delete_selected(args, client, dry_run)
    failed = False
    for rtype, name in _targets(args.targets):
        namespace = client.config.namespace if rtype.namespaced else ""
        failed |= not _delete_one(client, rtype, namespace, name, dry_run, args.ignore_not_found)
    return 1 if failed else 0


def _targets(words: list[str]) -> list[tuple[ResourceType, str]]:
    """`TYPE NAME...` or `TYPE/NAME...`, as kubectl reads them."""
    if all("/" in word for word in words):
        return [(kinds.by_name(word.split("/", 1)[0]), word.split("/", 1)[1]) for word in words]
    if any("/" in word for word in words):
        raise CliError("give either TYPE NAME... or TYPE/NAME..., not both")
    if len(words) < 2:
        raise CliError(f"delete {words[0]}: name the objects (TYPE NAME...) or select them with -l")
    rtype = kinds.by_name(words[0])
    return [(rtype, name) for name in words[1:]]


def _delete_one(
    client: ApiClient,
    rtype: ResourceType,
    namespace: str,
    name: str,
    dry_run: bool,
    ignore_not_found: bool,
    where: str = "",
) -> bool:
    """Delete and report; False when it failed."""
    try:
        client.delete(kinds.item_path(rtype, namespace, name), params=dry_run_params(dry_run))
    except ApiCallError as error:
        if error.code == 404 and ignore_not_found:
            return True
        report(error, where)
        return False
    print(f"{kinds.ref(rtype, name)} deleted{' (server dry run)' if dry_run else ''}", flush=True)
    return True


def _delete_manifests(args: argparse.Namespace, client: ApiClient, dry_run: bool) -> int:
    documents = manifests.read(args.filename)
    failed = False
    for doc in documents:
        if doc.error:
            report(CliError(doc.error))
            failed = True
    # Contents before their namespaces: the reverse of the order apply uses.
    for doc in sorted((d for d in documents if d.obj is not None), key=lambda d: -kinds.order(d.kind)):
        try:
            namespace = object_namespace(args, client.config, doc.kind, doc.manifest)
        except CliError as error:
            report(error, f"{doc.where}: ")
            failed = True
            continue
        failed |= not _delete_one(
            client, doc.kind, namespace, doc.name, dry_run, args.ignore_not_found, f"{doc.where}: "
        )
    return 1 if failed else 0


def _delete_selected(args: argparse.Namespace, client: ApiClient, dry_run: bool) -> int:
    if len(args.targets) > 1:
        raise CliError("with -l give only a TYPE, no names")
    rtype = kinds.by_name(args.targets[0]) if args.targets else kinds.SECURE_VALUES
    namespace = client.config.namespace if rtype.namespaced else None
    listed = client.delete(
        kinds.collection_path(rtype, namespace), params={"labelSelector": args.selector, **dry_run_params(dry_run)}
    )
    items = (listed or {}).get("items") or []
    for item in items:
        print(
            f"{kinds.ref(rtype, item['metadata']['name'])} deleted{' (server dry run)' if dry_run else ''}", flush=True
        )
    if not items:
        print("No resources found", file=sys.stderr)
    return 0
