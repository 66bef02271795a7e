"""`apiserver apply -f FILE|DIR|-`: server-side apply of manifests, idempotent, with pruning."""

from __future__ import annotations

import argparse

from ..machinery.strategy import ResourceType
from . import kinds, manifests
from .common import FIELD_MANAGER, add_command, dry_run_params, essence, finish, get_or_none, object_namespace
from .errors import ApiCallError, CliError, Unreachable, report
from .http_client import APPLY_PATCH, ApiClient, apply_body
from .manifests import Document, ManifestError

DESCRIPTION = """\
Create or update the objects of YAML or JSON manifests with server-side apply.

FILE may be a file, a directory (read recursively, in path order) or - for stdin; a file may
hold several documents separated by ---. Namespaces are applied first, then keepers, then secure
values. For each object one line tells what happened:

  securevalue/NAME created|configured|unchanged

A SecureValue's value can stay out of the manifest: spec.valueFrom: {file: PATH} reads the
file (relative to the manifest's folder, bytes as they are) and spec.valueFrom: {env: VAR} the
environment variable; the client sends the value as spec.value. Re-applying the same value is
`unchanged`. A document that fails is reported on one line and does not stop the others; the
exit code is 1 when anything failed.

With --prune -l SELECTOR, secure values matching the selector that the manifests no longer
name are deleted (in the manifests' namespaces and the current one)."""

EXAMPLES = """\
  apiserver apply -f manifests/
  apiserver apply -f db-password.yaml -n team-a
  DB_PASSWORD=... apiserver apply -f secrets.yaml            # spec.valueFrom: {env: DB_PASSWORD}
  apiserver apply -f manifests/ --dry-run=server
  apiserver apply -f manifests/ --prune -l app=billing
  kustomize build . | apiserver apply -f -
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "apply",
        run,
        help="create or update objects from manifests (server-side apply)",
        description=DESCRIPTION,
        examples=EXAMPLES,
    )
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE|DIR|-",
        help="manifest file, directory or - for stdin (repeatable)",
    )
    parser.add_argument(
        "--dry-run",
        choices=("none", "server"),
        default="none",
        nargs="?",
        const="server",
        help="server: let the server check everything and store nothing",
    )
    parser.add_argument(
        "--prune", action="store_true", help="delete secure values matching -l that the manifests do not name"
    )
    parser.add_argument("-l", "--selector", help="label selector for --prune, e.g. app=billing")
    parser.add_argument(
        "--force-conflicts",
        action="store_true",
        help="take over fields another manager owns instead of failing with a conflict",
    )
    parser.add_argument("--field-manager", default=FIELD_MANAGER, help=f"field manager name (default {FIELD_MANAGER})")
    finish(parser)


def run(args: argparse.Namespace, client: ApiClient) -> int:
    if args.prune and not args.selector:
        raise CliError("--prune needs a label selector: --prune -l SELECTOR")
    if args.selector and not args.prune:
        raise CliError("-l selects what --prune deletes; it needs --prune")
    dry_run = args.dry_run == "server"
    suffix = " (server dry run)" if dry_run else ""
    documents = manifests.read(args.filename)
    if not documents:
        raise CliError(f"no objects found in {', '.join(args.filename)}")
    failed = False
    for doc in documents:
        if doc.error:
            report(CliError(doc.error))
            failed = True
    # Every secure value a manifest names is kept by --prune, whether or not its apply succeeds.
    named = {
        (doc.namespace(client.config.namespace), doc.name) for doc in documents if doc.rtype is kinds.SECURE_VALUES
    }
    for doc in sorted((d for d in documents if d.obj is not None), key=lambda d: kinds.order(d.kind)):
        ref = kinds.ref(doc.kind, doc.name)
        try:
            namespace = object_namespace(args, client.config, doc.kind, doc.manifest)
            outcome = apply_one(
                client, doc, namespace, dry_run=dry_run, force=args.force_conflicts, manager=args.field_manager
            )
        except Unreachable:
            raise
        except (CliError, ManifestError) as error:
            report(
                CliError(
                    str(error) if isinstance(error, ManifestError) else f"{doc.where}: {ref}: {error}" + _hint(error)
                )
            )
            failed = True
            continue
        print(f"{ref} {outcome}{suffix}", flush=True)
    if args.prune:
        if any(doc.obj is None for doc in documents):
            report(CliError("prune skipped: some manifests could not be read, so what they name is unknown"))
            return 1
        namespaces = {namespace for namespace, _ in named} | {client.config.namespace}
        failed |= prune(client, sorted(namespaces), args.selector, named, dry_run)
    return 1 if failed else 0


def _hint(error: Exception) -> str:
    if isinstance(error, ApiCallError) and error.code == 409 and "Apply failed" in error.message:
        return " (another manager owns these fields; --force-conflicts takes them over)"
    return ""


def apply_one(client: ApiClient, doc: Document, namespace: str, *, dry_run: bool, force: bool, manager: str) -> str:
    """Apply one document; `created`, `configured` or `unchanged`."""
    rtype = doc.kind
    obj = manifests.resolve_value(doc)
    if rtype.namespaced:
        obj["metadata"]["namespace"] = namespace
    before = get_or_none(client, rtype, namespace, doc.name)
    params = {"fieldManager": manager, "force": "true" if force else None, **dry_run_params(dry_run)}
    after = client.request(
        "PATCH",
        kinds.item_path(rtype, namespace, doc.name),
        params=params,
        content=apply_body(obj),
        headers={"Content-Type": APPLY_PATCH},
    )
    if before is None:
        return "created"
    if dry_run:  # a dry run answers with the old resourceVersion: compare what the server would store
        return "unchanged" if essence(before) == essence(after) else "configured"
    same = before["metadata"].get("resourceVersion") == after["metadata"].get("resourceVersion")
    return "unchanged" if same else "configured"


def prune(client: ApiClient, namespaces: list[str], selector: str, named: set[tuple[str, str]], dry_run: bool) -> bool:
    """Delete the secure values of `selector` the manifests no longer name; True when something failed."""
    rtype: ResourceType = kinds.SECURE_VALUES
    failed = False
    suffix = " (server dry run)" if dry_run else ""
    for namespace in namespaces:
        try:
            listed = client.get(kinds.collection_path(rtype, namespace), params={"labelSelector": selector})
        except Unreachable:
            raise
        except CliError as error:
            report(CliError(f"prune in namespace {namespace}: {error}"))
            failed = True
            continue
        for item in listed.get("items") or []:
            name = item["metadata"]["name"]
            if (namespace, name) in named:
                continue
            try:
                client.delete(kinds.item_path(rtype, namespace, name), params=dry_run_params(dry_run))
            except Unreachable:
                raise
            except CliError as error:
                report(CliError(f"prune {kinds.ref(rtype, name)}: {error}"))
                failed = True
                continue
            print(f"{kinds.ref(rtype, name)} pruned{suffix}", flush=True)
    return failed
