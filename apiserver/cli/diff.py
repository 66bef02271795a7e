"""`apiserver diff -f FILE`: what apply would change, as a unified diff, never showing a value.

The merged object comes from a server-side dry-run apply, so defaults, validation and ownership
are the server's. Values are write-only and never leave the server, so a value is shown as
`***`; whether it would change is learned from a second dry run that sets only the value: the
server bumps `status.version` only when the new value differs from the stored one (it compares
them after decryption, in memory). As kubectl does for Secrets, a changed value shows as
`*** (before)` / `*** (after)`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from typing import Any

from . import kinds, manifests
from .common import FIELD_MANAGER, add_command, essence, finish, get_or_none, object_namespace
from .errors import CliError, Unreachable, report
from .http_client import APPLY_PATCH, MERGE_PATCH, ApiClient, apply_body
from .manifests import Document, ManifestError
from .printers import to_yaml

HIDDEN, BEFORE, AFTER = "***", "*** (before)", "*** (after)"

DESCRIPTION = """\
Show what `apiserver apply -f` would change, as a unified diff of the live objects against the
result of a server-side dry run. Values are never shown: `***` marks a value, and a value that
would change shows as `*** (before)` / `*** (after)`.

Exit code: 0 when nothing would change, 1 when something would, 2 when something failed."""

EXAMPLES = """\
  apiserver diff -f manifests/
  DB_PASSWORD=... apiserver diff -f secrets.yaml
  apiserver diff -f manifests/ && echo "in sync"
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = add_command(
        sub,
        "diff",
        run,
        help="show what apply would change (never a value)",
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
    parser.add_argument("--field-manager", default=FIELD_MANAGER, help=f"field manager name (default {FIELD_MANAGER})")
    parser.add_argument("--force-conflicts", action="store_true", help="as apply --force-conflicts would")
    parser.set_defaults(error_exit_code=2)
    finish(parser)


def run(args: argparse.Namespace, client: ApiClient) -> int:
    documents = manifests.read(args.filename)
    failed = differs = False
    for doc in documents:
        if doc.error:
            report(CliError(doc.error))
            failed = True
    for doc in sorted((d for d in documents if d.obj is not None), key=lambda d: kinds.order(d.kind)):
        try:
            text = diff_one(args, client, doc)
        except Unreachable:
            raise
        except (CliError, ManifestError) as error:
            ref = kinds.ref(doc.kind, doc.name)
            report(CliError(str(error) if isinstance(error, ManifestError) else f"{doc.where}: {ref}: {error}"))
            failed = True
            continue
        if text:
            differs = True
            sys.stdout.write(text)
            sys.stdout.flush()
    return 2 if failed else 1 if differs else 0


def diff_one(args: argparse.Namespace, client: ApiClient, doc: Document) -> str:
    rtype = doc.kind
    namespace = object_namespace(args, client.config, rtype, doc.manifest)
    obj = manifests.resolve_value(doc)
    if rtype.namespaced:
        obj["metadata"]["namespace"] = namespace
    path = kinds.item_path(rtype, namespace, doc.name)
    live = get_or_none(client, rtype, namespace, doc.name)
    params = {"fieldManager": args.field_manager, "force": "true" if args.force_conflicts else None, "dryRun": "All"}
    merged = client.request(
        "PATCH", path, params=params, content=apply_body(obj), headers={"Content-Type": APPLY_PATCH}
    )
    live_view, merged_view = _view(live), _view(merged)
    value = (obj.get("spec") or {}).get("value") if rtype is kinds.SECURE_VALUES else None
    if value is not None:
        if live is None:
            merged_view.setdefault("spec", {})["value"] = HIDDEN
        elif _value_changed(client, path, live, value, args.field_manager):
            live_view.setdefault("spec", {})["value"], merged_view.setdefault("spec", {})["value"] = BEFORE, AFTER
        else:
            live_view.setdefault("spec", {})["value"] = merged_view.setdefault("spec", {})["value"] = HIDDEN
    if live is not None and essence(live) == essence(merged) and live_view == merged_view:
        return ""
    ref = kinds.ref(rtype, doc.name)
    lines = difflib.unified_diff(
        to_yaml(live_view).splitlines(True) if live_view else [],
        to_yaml(merged_view).splitlines(True),
        f"live/{ref}",
        f"merged/{ref}",
    )
    return "".join(lines)


def _value_changed(client: ApiClient, path: str, live: dict[str, Any], value: str, manager: str) -> bool:
    """A dry run that sets only the value: the server bumps status.version only for a different value."""
    body = {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"]}, "spec": {"value": value}}
    probed = client.request(
        "PATCH",
        path,
        params={"dryRun": "All", "fieldManager": manager},
        content=json.dumps(body).encode(),
        headers={"Content-Type": MERGE_PATCH},
    )
    return (probed.get("status") or {}).get("version") != (live.get("status") or {}).get("version")


def _view(obj: dict[str, Any] | None) -> dict[str, Any]:
    """What the diff shows: the object without the bookkeeping every write changes."""
    if obj is None:
        return {}
    view = json.loads(json.dumps(obj))
    meta = view.get("metadata") or {}
    for key in ("managedFields", "resourceVersion"):
        meta.pop(key, None)
    return view
