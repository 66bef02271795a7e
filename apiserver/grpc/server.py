"""The gRPC server: Grafana's decrypt service, health and reflection, on `--grpc-port`.

It runs on the application's own event loop (grpc.aio), started after the store opens and
stopped before it closes, so the decrypt service it calls is the very one the HTTP routes use.
Plaintext (h2c) without TLS settings; with `--tls-cert/--tls-key` or `--tls-self-signed`, TLS
with the same certificate as HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..config import Settings
from ..http import tls
from ..http.ratelimit import FailureLimiter
from ..services.access_tokens import AccessTokenVerifier
from ..services.decrypt import DecryptService
from ..services.tokens import TokenService
from . import GrpcPortError
from .decrypt import SERVICE_NAMES, add_services
from .interceptors import Authentication, StatusCodes

log = logging.getLogger("apiserver.grpc")
_PROTECTED = tuple(f"/{name}/" for name in SERVICE_NAMES)
_GRACE_SECONDS = 2.0


def tls_files(settings: Settings) -> tuple[Path, Path] | None:
    """The certificate and key of the HTTP server, which the gRPC port shares; None for plaintext."""
    if settings.tls_cert and settings.tls_key:
        return settings.tls_cert, settings.tls_key
    if settings.tls_self_signed:
        return tls.ensure_self_signed(settings.data_dir, settings.host)
    return None


def build_server(
    settings: Settings,
    decrypt: DecryptService,
    tokens: TokenService,
    verifier: AccessTokenVerifier,
    limiter: FailureLimiter,
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    server = grpc.aio.server(
        interceptors=[StatusCodes(_PROTECTED), Authentication(_PROTECTED, tokens, verifier, limiter)],
        options=[("grpc.max_receive_message_length", settings.max_body_bytes)],
    )
    add_services(server, decrypt, tokens)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    address = f"{host}:{settings.grpc_port}"
    files = tls_files(settings)
    try:
        if files is None:
            bound = server.add_insecure_port(address)
        else:
            cert, key = files
            credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
            bound = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        raise GrpcPortError(f"cannot listen for gRPC on {address}: {exc}") from None
    if not bound:
        raise GrpcPortError(f"cannot listen for gRPC on {address}")
    return server, health_servicer


def lifecycle(
    build: Callable[[], tuple[grpc.aio.Server, health.aio.HealthServicer]],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context running the gRPC server for the application's life."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        server, health_servicer = build()
        await server.start()
        for name in ("", *SERVICE_NAMES):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving gRPC (%s)", ", ".join(SERVICE_NAMES))
        yield
        await health_servicer.enter_graceful_shutdown()
        await server.stop(_GRACE_SECONDS)

    return run
