"""`apiserver serve`: run the server."""

from __future__ import annotations

import argparse
import logging
import ssl
import sys

from aiohttp import web
from pydantic import ValidationError

from ..app import create_app
from ..config import Settings
from ..crypto.errors import KekConfigError


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the API server",
                           description="Run the API server on SQLite in --data-dir.\n\n"
                                       "example: apiserver serve --host 127.0.0.1 --port 8080 --data-dir ./data",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--data-dir", help="directory of the database, key file and admin token (default ./data)")
    serve.add_argument("--admin-token", help="bootstrap admin token (or APISERVER_ADMIN_TOKEN); generated if unset")
    serve.add_argument("--kek-file", help="key-encryption-key file (or APISERVER_KEK_FILE); default DATA_DIR/kek")
    serve.add_argument("--tls-cert", help="TLS certificate (PEM)")
    serve.add_argument("--tls-key", help="TLS private key (PEM)")
    serve.add_argument("--config", dest="config_file", help="YAML file with settings (same names as the flags)")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    given = {k: v for k, v in vars(args).items() if k not in ("command", "run") and v is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        print(f"apiserver: invalid settings: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        app = create_app(settings)
    except KekConfigError as exc:
        print(f"apiserver: {exc}", file=sys.stderr)
        return 2
    context = None
    if settings.tls_cert and settings.tls_key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    scheme = "https" if context else "http"
    web.run_app(app, host=settings.host, port=settings.port, ssl_context=context, access_log_format=
                '%a "%r" %s %b %Tfs', print=lambda _: print(f"serving on {scheme}://{settings.host}:{settings.port}",
                                                          flush=True))
    return 0
