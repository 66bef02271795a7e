"""`apiserver kubeconfig`: print a kubeconfig for kubectl and the Kubernetes client libraries.

The server's certificate is embedded as `certificate-authority-data`, so kubectl verifies the
server with no other step. It comes from `--certificate-authority FILE` when given (for instance
`DATA_DIR/tls/tls.crt` of a server started with `--tls-self-signed`), otherwise from the server's
own TLS handshake: trust on first use, the way `ssh` learns a host key. Run it where you can trust
the network path to the server (typically on the server's machine), or pass the file.
"""

from __future__ import annotations

import argparse
import base64
import ssl
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

CLUSTER = "apiserver"


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "kubeconfig",
        help="print a kubeconfig for kubectl",
        description="Print a kubeconfig that points kubectl at the server with a bearer token.\n\n"
        "kubectl sends tokens only over https, so the server must serve TLS (--tls-cert/--tls-key or "
        "--tls-self-signed). The server certificate is embedded: read from --certificate-authority, "
        "or else taken from the server's TLS handshake (trust on first use).\n\n"
        "example: apiserver kubeconfig --server https://127.0.0.1:8443 --token $TOKEN > kubeconfig\n"
        "         KUBECONFIG=kubeconfig kubectl get sv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("--server", required=True, help="server URL, e.g. https://127.0.0.1:8443")
    cmd.add_argument("--token", required=True, help="bearer token of the user")
    cmd.add_argument("--namespace", help="default namespace of the context (default: default)")
    cmd.add_argument(
        "--certificate-authority",
        metavar="FILE",
        help="PEM file to trust instead of the certificate the server presents",
    )
    cmd.add_argument("--name", default=CLUSTER, help=f"name of the cluster, user and context (default {CLUSTER})")
    cmd.set_defaults(run=_run)


def server_certificate(url: str, timeout: float = 10.0) -> str:
    """The PEM certificate an https server presents (not verified: this is how it is learnt)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    return ssl.get_server_certificate((host, port), timeout=timeout)


def build(
    server: str, token: str, namespace: str | None = None, ca_pem: str | None = None, name: str = CLUSTER
) -> dict:
    cluster: dict = {"server": server.rstrip("/")}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem.encode()).decode()
    context: dict = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
    }


def _run(args: argparse.Namespace) -> int:
    scheme = urlsplit(args.server).scheme
    if scheme not in ("http", "https"):
        print(
            f"apiserver kubeconfig: --server must be an http:// or https:// URL, not {args.server!r}", file=sys.stderr
        )
        return 2
    ca_pem = None
    if args.certificate_authority:
        try:
            ca_pem = Path(args.certificate_authority).read_text()
        except OSError as exc:
            print(f"apiserver kubeconfig: cannot read {args.certificate_authority}: {exc.strerror}", file=sys.stderr)
            return 2
    elif scheme == "https":
        try:
            ca_pem = server_certificate(args.server)
        except (OSError, ssl.SSLError) as exc:
            print(f"apiserver kubeconfig: cannot fetch the certificate of {args.server}: {exc}", file=sys.stderr)
            return 1
    else:
        print(
            "apiserver kubeconfig: warning: kubectl sends no token to an http:// server; serve TLS "
            "(--tls-self-signed) and use https://",
            file=sys.stderr,
        )
    config = build(args.server, args.token, args.namespace, ca_pem, args.name)
    sys.stdout.write(yaml.safe_dump(config, sort_keys=False))
    return 0
