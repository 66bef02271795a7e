"""`apiserver keys status|rotate-dek|reload|rewrap|reencrypt|rotate-signing-key`: key maintenance through the admin API.

Never shows key material: the server answers with ids, ages and counts only. `reencrypt` drives
the server chunk by chunk, drawing its progress on stderr and printing the final count on stdout;
interrupted, it can simply be run again (what is done is not done twice).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..services.keys import KEYS
from ..services.tokens import TOKEN_GROUP
from . import common
from .http_client import ApiClient
from .printers import aligned

KEYS_PATH = f"/apis/{KEYS.group}/{KEYS.version}/keys"
SIGNING_KEYS_PATH = f"/apis/{TOKEN_GROUP}/v1/signingkeys"
_BAR = 30


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser(
        "keys",
        help="key status, data-key rotation, KEK reload, re-wrap and re-encryption",
        description="Manage the encryption keys online (needs an admin token of all namespaces). "
        "See docs/keys.md for the KEK rotation runbook.",
    )
    commands = group.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")

    status = common.add_command(
        commands,
        "status",
        _status,
        help="show KEKs and data keys (never key material)",
        description="Show the KEKs (which is active, how many data keys each wraps) and the data keys per "
        "namespace (age, KEK, how many values each protects).",
        examples="  apiserver keys status --server URL --token ADMIN\n  apiserver keys status -o json",
    )
    status.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    common.finish(status)

    rotate = common.add_command(
        commands,
        "rotate-dek",
        _rotate,
        help="create new data keys now",
        description="Give a namespace (or every namespace that has one) a new active data key now. "
        "Old data keys keep decrypting the values they sealed until `keys reencrypt` moves them.",
        examples="  apiserver keys rotate-dek --server URL --token ADMIN\n"
        "  apiserver keys rotate-dek --namespace team-a",
    )
    common.finish(rotate)

    reload = common.add_command(
        commands,
        "reload",
        _reload,
        help="re-read the KEK file (as SIGHUP does)",
        description="Make the server re-read its KEK file; the last line becomes the active KEK. Refused "
        "while a KEK missing from the file still wraps data keys.",
        examples="  apiserver keys reload --server URL --token ADMIN",
    )
    common.finish(reload)

    rewrap = common.add_command(
        commands,
        "rewrap",
        _rewrap,
        help="re-wrap every data key under the active KEK",
        description="Re-wrap every data key under the active KEK. Afterwards `keys status` shows the old "
        "KEKs wrapping 0 data keys: their lines can be removed from the KEK file.",
        examples="  apiserver keys rewrap --server URL --token ADMIN",
    )
    common.finish(rewrap)

    reencrypt = common.add_command(
        commands,
        "reencrypt",
        _reencrypt,
        help="re-encrypt values under their namespace's current data key",
        description="Re-encrypt every value sealed by an older data key under its namespace's current one, "
        "in chunks; data keys that then protect nothing are destroyed. Safe to interrupt and run again.",
        examples="  apiserver keys reencrypt --server URL --token ADMIN\n"
        "  apiserver keys reencrypt --namespace team-a --chunk-size 200",
    )
    signing = common.add_command(
        commands,
        "rotate-signing-key",
        _rotate_signing_key,
        help="make a new key sign access tokens",
        description="Make a new key sign the access tokens of the token exchange (POST /v1/sign-access-token). "
        "Older keys stay published at /.well-known/jwks.json and trusted until every token they signed has "
        "expired, then they are removed. See docs/grpc.md.",
        examples="  apiserver keys rotate-signing-key --server URL --token ADMIN",
    )
    common.finish(signing)

    reencrypt.add_argument("--chunk-size", type=int, default=500, help="values per request (1..1000, default 500)")
    reencrypt.add_argument("--no-progress", action="store_true", help="do not draw the progress bar on stderr")
    common.finish(reencrypt)


def _namespace_body(args: argparse.Namespace) -> dict[str, Any]:
    # Only a namespace given on this command line: the context's default namespace does not narrow it.
    return {"namespace": args.namespace} if args.namespace else {}


def _status(args: argparse.Namespace, client: ApiClient) -> int:
    status = client.get(KEYS_PATH)
    if args.output == "json":
        print(json.dumps(status, indent=2), flush=True)
        return 0
    rows = [["KEK", "PROVIDER", "ACTIVE", "CONFIGURED", "DATA KEYS"]]
    for kek in status["keks"]:
        rows.append(
            [kek["id"], kek.get("provider", "file"), _yes(kek["active"]), _yes(kek["configured"]), str(kek["dataKeys"])]
        )
    print(aligned(rows), end="")
    kms = status.get("kms")
    if kms:
        state = "healthy" if kms["healthy"] else f"NOT healthy: {kms['problem']}"
        print(f"KMS plugin {kms['socket']}: {state}; current key {kms['keyId'] or '(unknown)'}")
    print()
    rows = [["NAMESPACE", "DATA KEY", "ACTIVE", "AGE", "KEK", "VALUES"]]
    for namespace in status["namespaces"]:
        for key in namespace["dataKeys"]:
            rows.append(
                [
                    namespace["namespace"],
                    key["id"],
                    _yes(key["active"]),
                    _age(key["ageSeconds"]),
                    key["kek"],
                    str(key["values"]),
                ]
            )
    print(aligned(rows), end="")
    print(f"\nvalues not under their namespace's active data key: {status['staleValues']}", flush=True)
    return 0


def _rotate(args: argparse.Namespace, client: ApiClient) -> int:
    result = client.request("POST", f"{KEYS_PATH}/rotate-dek", json=_namespace_body(args))
    for item in result["rotated"]:
        print(f"namespace {item['namespace']}: new data key {item['dataKey']}")
    if not result["rotated"]:
        print("no namespace has a data key yet: each gets one with its first value")
    sys.stdout.flush()
    return 0


def _reload(args: argparse.Namespace, client: ApiClient) -> int:
    result = client.request("POST", f"{KEYS_PATH}/reload", json={})
    print(f"KEKs loaded: {', '.join(result['keks'])}; active: {result['activeKek']}", flush=True)
    return 0


def _rewrap(args: argparse.Namespace, client: ApiClient) -> int:
    result = client.request("POST", f"{KEYS_PATH}/rewrap", json={})
    print(f"re-wrapped {result['rewrapped']} data keys under KEK {result['activeKek']}", flush=True)
    return 0


def _rotate_signing_key(args: argparse.Namespace, client: ApiClient) -> int:
    key = client.request("POST", f"{SIGNING_KEYS_PATH}/rotate", json={})
    print(f"new signing key {key['kid']} ({key['algorithm']}); older keys stay trusted until their tokens expire")
    sys.stdout.flush()
    return 0


def _reencrypt(args: argparse.Namespace, client: ApiClient) -> int:
    body = {**_namespace_body(args), "limit": args.chunk_size}
    done = failed = 0
    destroyed: list[str] = []
    token = ""
    first = True
    while True:
        result = client.request("POST", f"{KEYS_PATH}/reencrypt", json={**body, "continue": token} if token else body)
        done += result["reencrypted"]
        failed += result["failed"]
        destroyed += result["destroyedDataKeys"]
        token = result["continue"]
        # The last call of a pass may find nothing more: the bar already shows where it ended.
        if not args.no_progress and (first or result["reencrypted"] or result["failed"]):
            _progress(done + failed, done + result["remaining"])
        first = False
        if not token:
            break
    if not args.no_progress and sys.stderr.isatty():
        print(file=sys.stderr, flush=True)
    print(f"re-encrypted {done} values", end="")
    print(f"; {failed} could not be decrypted and were left as they are" if failed else "", end="")
    print(f"; destroyed data keys: {', '.join(destroyed)}" if destroyed else "; no data key destroyed", flush=True)
    return 1 if failed else 0


def _progress(done: int, total: int) -> None:
    total = max(total, done, 1)
    filled = _BAR * done // total
    line = f"[{'#' * filled}{'.' * (_BAR - filled)}] {done}/{total} values"
    # On a terminal the bar redraws in place; in a log, one line per chunk.
    print(("\r" if sys.stderr.isatty() else "") + line, end="" if sys.stderr.isatty() else "\n", file=sys.stderr)
    sys.stderr.flush()


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
