"""What the client commands share: their parser shape, error handling and object lookups."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ..machinery.strategy import ResourceType
from . import kinds
from .clientconfig import ClientConfig, add_client_arguments, resolve
from .errors import ApiCallError, CliError, report
from .http_client import ApiClient

FIELD_MANAGER = "apiserver-cli"
Command = Callable[[argparse.Namespace, ApiClient], int]


def add_command(
    sub: argparse._SubParsersAction, name: str, run: Command, *, help: str, description: str, examples: str
) -> argparse.ArgumentParser:
    """A client command: `--help` shows the description and examples; flags for the server come last."""
    parser = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=lambda args: _run(run, args))
    return parser


def finish(parser: argparse.ArgumentParser) -> None:
    add_client_arguments(parser)


def _run(command: Command, args: argparse.Namespace) -> int:
    try:
        config = resolve(args)
        with ApiClient(config) as client:
            return command(args, client)
    except CliError as error:
        report(error)
        return getattr(args, "error_exit_code", 1)  # diff keeps 1 for "differences found"
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `apiserver get ... | head`
        sys.stderr.close()
        return 0


def get_or_none(client: ApiClient, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return client.get(kinds.item_path(rtype, namespace, name))
    except ApiCallError as error:
        if error.code == 404:
            return None
        raise


def dry_run_params(dry_run: bool) -> dict[str, str]:
    return {"dryRun": "All"} if dry_run else {}


def object_namespace(args: argparse.Namespace, config: ClientConfig, rtype: ResourceType, obj: dict[str, Any]) -> str:
    """A manifest's own namespace, else the configured one; -n must not contradict the manifest (as kubectl)."""
    if not rtype.namespaced:
        return ""
    given = (obj.get("metadata") or {}).get("namespace")
    flag = args.namespace  # given on this command line, not from the environment or a context
    if given and flag and given != flag:
        raise CliError(f'the namespace of the object "{given}" does not match --namespace "{flag}"')
    return given or config.namespace


def essence(obj: dict[str, Any]) -> tuple:
    """An object apart from what every write touches (resourceVersion, managers' timestamps)."""
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "managedFields")}
    managers = [{k: v for k, v in entry.items() if k != "time"} for entry in obj["metadata"].get("managedFields") or []]
    return meta, managers, obj.get("spec"), obj.get("status")
