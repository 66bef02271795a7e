"""The `apiserver` command line. Each command group lives in its own module with a `register(subparsers)`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import apply, backup, completion, delete, diff, get, keys, kubeconfig, namespaces, serve, tokens

# Command groups, in the order `--help` lists them.
COMMANDS = [serve, kubeconfig, apply, get, diff, delete, completion, tokens, namespaces, keys, backup]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="apiserver", description="A self-hostable secrets API server.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)
