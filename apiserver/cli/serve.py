"""`apiserver serve`: run the server."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the API server",
        description="Run the API server on SQLite in --data-dir.\n\n"
        "example: apiserver serve --host 127.0.0.1 --port 8080 --data-dir ./data",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--data-dir", help="directory of the database, key file and admin token (default ./data)")
    serve.add_argument("--admin-token", help="bootstrap admin token (or APISERVER_ADMIN_TOKEN); generated if unset")
    serve.add_argument("--kek-file", help="key-encryption-key file (or APISERVER_KEK_FILE); default DATA_DIR/kek")
    serve.add_argument(
        "--database-url",
        help="postgresql://USER:PASSWORD@HOST:PORT/DB (or APISERVER_DATABASE_URL): "
        "store in PostgreSQL, shared by several replicas; needs --kek-file or "
        "APISERVER_KEK (default: SQLite in DATA_DIR)",
    )
    serve.add_argument(
        "--kms-socket",
        metavar="PATH",
        help="a Kubernetes KMS v2 plugin's Unix socket (or APISERVER_KMS_SOCKET; also unix:///PATH): the plugin "
        "wraps the data keys instead of the KEK file (docs/kms.md)",
    )
    serve.add_argument(
        "--kms-grace-seconds",
        type=float,
        help="while the KMS plugin does not answer, data keys unwrapped before keep serving this long (default 180)",
    )
    serve.add_argument(
        "--kms-status-seconds", type=float, help="how often the KMS plugin's Status is polled (default 10)"
    )
    serve.add_argument("--kms-timeout-seconds", type=float, help="the deadline of each KMS plugin call (default 3)")
    serve.add_argument("--tls-cert", help="TLS certificate (PEM)")
    serve.add_argument("--tls-key", help="TLS private key (PEM)")
    serve.add_argument(
        "--tls-self-signed",
        action="store_true",
        default=None,
        help="serve TLS with a self-signed certificate for localhost, created in DATA_DIR/tls at "
        "first start (ignored when --tls-cert is given)",
    )
    serve.add_argument(
        "--grpc-port",
        type=int,
        help="serve Grafana's decrypt service over gRPC on this port, with the HTTP TLS settings (default off)",
    )
    serve.add_argument(
        "--grafana-jwks",
        action="append",
        metavar="FILE",
        help="a JWKS document whose keys may sign Grafana access tokens (repeatable; the server's own keys "
        "are always trusted)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        help="the largest request body (or gRPC message) any surface accepts, in bytes "
        "(or APISERVER_MAX_BODY_BYTES; default 3145728, as kube-apiserver)",
    )
    serve.add_argument(
        "--audit-log",
        action="append",
        metavar="TARGET",
        help="where audit records go (repeatable; at least one must take each record): a file, '-' for "
        "stdout, unix:PATH for a Unix socket, syslog[:PATH]; default DATA_DIR/audit.log (docs/audit.md)",
    )
    serve.add_argument(
        "--audit-fsync",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sync each batch of audit records to a file target before answering its requests (default on)",
    )
    serve.add_argument(
        "--header-timeout-seconds",
        type=float,
        help="a request's headers must arrive within this time, else 408 and the connection is closed (default 10)",
    )
    serve.add_argument(
        "--body-timeout-seconds",
        type=float,
        help="a request's body must arrive within this time after its headers, else 408 (default 60)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        help="open connections in total; one more is answered 503 and closed (default 1024)",
    )
    serve.add_argument(
        "--max-connections-per-address",
        type=int,
        help="open connections from one client address; one more is answered 429 and closed (default 256)",
    )
    serve.add_argument("--config", dest="config_file", help="YAML file with settings (same names as the flags)")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text (default) or json: one JSON object a line with time, level, request id, surface, verb, "
        "status and duration (or APISERVER_LOG_FORMAT)",
    )
    serve.add_argument(
        "--metrics-anonymous",
        action="store_true",
        default=None,
        help="serve /metrics without credentials (default: the admin token or a token with apiserver.metrics:read)",
    )
    serve.add_argument(
        "--event-loop",
        choices=("asyncio", "uvloop"),
        help="event loop implementation (or APISERVER_EVENT_LOOP; default asyncio)",
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="log one line per request at INFO (default off, as kube-apiserver; it costs ~40%% of a GET's CPU)",
    )
    serve.add_argument(
        "--continue-ttl-seconds", type=float, help="how long a list's continue token stays valid (default 900)"
    )
    serve.add_argument(
        "--event-window",
        type=int,
        help="how many recent events are kept for watch resumption and paging (default 50000)",
    )
    serve.add_argument(
        "--cloudflare-max-stores",
        type=int,
        help="Cloudflare Secrets Store stores per account (default 1, as Cloudflare)",
    )
    serve.add_argument(
        "--cloudflare-secrets-quota",
        type=int,
        help="Cloudflare Secrets Store secrets per account (default 100, as Cloudflare)",
    )
    serve.add_argument(
        "--ui-session-idle-seconds",
        type=float,
        help="a browser session of the page at /ui/ ends after this long without a request (default 1800)",
    )
    aws = serve.add_argument_group(
        "aws keeper", "AWS credentials and endpoints come from the standard AWS variables and files (see docs/)"
    )
    aws.add_argument("--aws-timeout-seconds", type=float, help="connect and read timeout of each AWS call (default 5)")
    aws.add_argument("--aws-max-workers", type=int, help="AWS calls that may wait at once (default 8)")
    aws.add_argument(
        "--keeper-cleanup-seconds", type=float, help="how often deleted values' AWS secrets are deleted (default 10)"
    )
    aws.add_argument(
        "--keeper-cleanup-attempts", type=int, help="tries to delete one AWS secret before giving up (default 10)"
    )
    aws.add_argument(
        "--keeper-health-seconds", type=float, help="how often active aws keepers are checked again (default 60)"
    )
    aws.add_argument(
        "--keeper-create-grace-seconds",
        type=float,
        help="an AWS secret whose secure value never committed is deleted after this long (default 300)",
    )
    serve.set_defaults(run=_serve)


def new_event_loop(kind: str):
    """The loop `serve` runs on: None leaves it to aiohttp (the standard asyncio loop)."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return None


def _serve(args: argparse.Namespace) -> int:
    # Imported here, not at the top: every other command then starts without loading the server.
    from pydantic import ValidationError

    from ..app import create_app
    from ..config import Settings
    from ..crypto.errors import KekConfigError
    from ..grpc import GrpcPortError
    from ..http import serving, tls
    from ..ops.logs import configure_logging
    from ..services.access_tokens import JwksFileError
    from ..store.errors import StoreError

    given = {k: v for k, v in vars(args).items() if k not in ("command", "run") and v is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        print(f"apiserver: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        app = create_app(settings)
    except (KekConfigError, JwksFileError) as exc:
        print(f"apiserver: {exc}", file=sys.stderr)
        return 2
    context = None
    if settings.tls_cert and settings.tls_key:
        context = tls.server_context(settings.tls_cert, settings.tls_key)
    elif settings.tls_self_signed:
        context = tls.server_context(*tls.ensure_self_signed(settings.data_dir, settings.host))
    scheme = "https" if context else "http"
    try:
        serving.run(
            app,
            loop=new_event_loop(settings.event_loop),
            host=settings.host,
            port=settings.port,
            ssl_context=context,
            access_log=None,  # the request observer writes the access log (--access-log), with the request id
            access_log_format="",
            on_ready=lambda: _announce(f"serving on {scheme}://{settings.host}:{settings.port}", settings.log_format),
            # The gRPC port (if any) is bound in the app's start-up, before this line is printed.
        )
    # A newer database, KEKs that do not open the data keys, a gRPC port already taken.
    except (StoreError, KekConfigError, GrpcPortError) as exc:
        print(f"apiserver: {exc}", file=sys.stderr)
        return 2
    return 0


def _announce(line: str, log_format: str) -> None:
    """The line saying the server listens: on stdout, or as a log record when logs are JSON."""
    if log_format == "json":
        import logging

        logging.getLogger("apiserver").warning(line)  # shown at every log level, as the text line is
    else:
        print(line, flush=True)
