"""Where the client commands find the server: flags, then the environment, then a config file context.

The config file (default `~/.config/apiserver/config.yaml`, or `APISERVER_CONFIG`, or `--config`)
holds named contexts, like a much smaller kubeconfig:

    current-context: local
    contexts:
      local:
        server: http://127.0.0.1:8080
        token-file: ~/.config/apiserver/local-token   # or `token: ...`
        namespace: default
      prod:
        server: https://secrets.example.com
        token-file: ~/.config/apiserver/prod-token
        certificate-authority: /etc/ssl/certs/internal-ca.pem
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..machinery.documents import yaml_problem
from .errors import CliError

DEFAULT_SERVER = "http://127.0.0.1:8080"
DEFAULT_NAMESPACE = "default"
_CONTEXT_KEYS = {"server", "token", "token-file", "namespace", "certificate-authority", "insecure-skip-tls-verify"}


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str | None
    namespace: str
    verify: bool | str = True  # False, True, or the path of a CA bundle
    context: str | None = None


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    """The connection flags every client command shares."""
    group = parser.add_argument_group("connection")
    group.add_argument("--server", metavar="URL", help=f"API server URL (or APISERVER_URL; default {DEFAULT_SERVER})")
    group.add_argument("--token", help="bearer token (or APISERVER_TOKEN)")
    group.add_argument("--context", help="named context of the config file (or APISERVER_CONTEXT)")
    group.add_argument(
        "--config",
        dest="client_config",
        metavar="FILE",
        help="client config file (or APISERVER_CONFIG; default ~/.config/apiserver/config.yaml)",
    )
    group.add_argument("-n", "--namespace", help=f"namespace (default: the context's, else {DEFAULT_NAMESPACE})")
    group.add_argument("--certificate-authority", metavar="FILE", help="CA bundle to verify the server's certificate")
    group.add_argument(
        "--insecure-skip-tls-verify",
        action="store_true",
        default=None,
        help="do not verify the server's certificate (testing only)",
    )


def _config_path(args: argparse.Namespace) -> tuple[Path, bool]:
    """The file to read, and whether the user named it (then it must exist)."""
    given = getattr(args, "client_config", None) or os.environ.get("APISERVER_CONFIG")
    if given:
        return Path(given).expanduser(), True
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "apiserver" / "config.yaml", False


def _load_contexts(path: Path, required: bool) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        if required:
            raise CliError(f"config file {path} does not exist") from None
        return {}
    except OSError as exc:
        raise CliError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        # Not the parser's own text: it quotes the line, which may hold a token.
        raise CliError(f"config file {path} is not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("contexts", {}), dict):
        raise CliError(f"config file {path}: expected a mapping with `contexts: {{NAME: {{server: ...}}}}`")
    return data


def _context(args: argparse.Namespace) -> tuple[str | None, dict[str, Any], Path]:
    path, required = _config_path(args)
    data = _load_contexts(path, required)
    name = getattr(args, "context", None) or os.environ.get("APISERVER_CONTEXT") or data.get("current-context")
    if not name:
        return None, {}, path
    contexts = data.get("contexts") or {}
    context = contexts.get(name)
    if not isinstance(context, dict):
        known = ", ".join(sorted(contexts)) or "none"
        raise CliError(f'context "{name}" is not defined in {path} (contexts: {known})')
    unknown = set(context) - _CONTEXT_KEYS
    if unknown:
        raise CliError(
            f'context "{name}" in {path}: unknown keys {", ".join(sorted(unknown))} '
            f"(known: {', '.join(sorted(_CONTEXT_KEYS))})"
        )
    return name, context, path


def _context_token(context: dict[str, Any], path: Path) -> str | None:
    if context.get("token"):
        return str(context["token"])
    token_file = context.get("token-file")
    if not token_file:
        return None
    file = path.parent / Path(str(token_file)).expanduser()
    try:
        return file.read_text().strip()
    except OSError as exc:
        raise CliError(f"cannot read token-file {file}: {exc.strerror}") from None


def resolve(args: argparse.Namespace) -> ClientConfig:
    """Each setting from the first place that has it: flag, environment, context, default."""
    name, context, path = _context(args)
    server = args.server or os.environ.get("APISERVER_URL") or context.get("server") or DEFAULT_SERVER
    token = args.token or os.environ.get("APISERVER_TOKEN") or _context_token(context, path)
    namespace = args.namespace or os.environ.get("APISERVER_NAMESPACE") or context.get("namespace") or DEFAULT_NAMESPACE
    verify: bool | str = True
    if args.insecure_skip_tls_verify or (
        args.insecure_skip_tls_verify is None and context.get("insecure-skip-tls-verify") is True
    ):
        verify = False
    elif args.certificate_authority or context.get("certificate-authority"):
        verify = str(Path(args.certificate_authority or context["certificate-authority"]).expanduser())
    if not server.startswith(("http://", "https://")):
        raise CliError(f"server URL {server!r} must start with http:// or https://")
    return ClientConfig(server=server.rstrip("/"), token=token, namespace=str(namespace), verify=verify, context=name)
