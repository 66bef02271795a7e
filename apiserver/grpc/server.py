"""The gRPC server: Grafana's decrypt service, health and reflection, on `--grpc-port`.

It runs on the application's own event loop (grpc.aio), started after the store opens and
stopped before it closes, so the decrypt service it calls is the very one the HTTP routes use.
Plaintext (h2c) without TLS settings; with `--tls-cert/--tls-key` or `--tls-self-signed`, TLS
with the same certificate as HTTP. `grpc.health.v1.Health` follows the readiness checks of
/readyz (the database, the audit log...), so that a gRPC load balancer or probe stops sending
calls to a replica that cannot answer them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..config import Settings
from ..http import tls
from ..http.ratelimit import FailureLimiter
from ..ops.health import HealthChecks
from ..ops.metrics import Metrics
from . import GrpcPortError
from .decrypt import SERVICE_NAMES, add_services
from .layers import Authentication, ConsistentReads, Layer, Metering

if TYPE_CHECKING:
    from ..services.access_tokens import AccessTokenVerifier
    from ..services.decrypt import DecryptService
    from ..services.tokens import TokenService
    from ..store.store import Store

log = logging.getLogger("apiserver.grpc")
_GRACE_SECONDS = 2.0
READINESS_INTERVAL = 2.0  # seconds between readiness checks behind gRPC health


def tls_files(settings: Settings) -> tuple[Path, Path] | None:
    """The certificate and key of the HTTP server, which the gRPC port shares; None for plaintext."""
    if settings.tls_cert and settings.tls_key:
        return settings.tls_cert, settings.tls_key
    if settings.tls_self_signed:
        return tls.ensure_self_signed(settings.data_dir, settings.host)
    return None


@dataclass(frozen=True)
class GrpcServices:
    """What the gRPC server calls: the same service objects the HTTP routes use."""

    settings: Settings
    store: Store
    tokens: TokenService
    access_verifier: AccessTokenVerifier
    decrypt: DecryptService
    health: HealthChecks
    metrics: Metrics


def build_server(services: GrpcServices, limiter: FailureLimiter) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    settings = services.settings
    layers: list[Layer] = [ConsistentReads(services.store.sync)] if services.store.shared else []
    layers.append(Authentication(services.tokens, services.access_verifier, limiter))
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", settings.max_body_bytes)])
    add_services(
        server,
        services.decrypt,
        services.tokens,
        layers,
        lambda method: [Metering(services.metrics, method, resource="securevalues/decrypt")],
    )
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


class _Readiness:
    """gRPC health says what /readyz says: SERVING while every readiness check passes."""

    def __init__(self, checks: HealthChecks, health_servicer: health.aio.HealthServicer) -> None:
        self.checks = checks
        self.health_servicer = health_servicer
        self.serving: bool | None = None

    async def update(self) -> None:
        serving = all(result.ok for result in await self.checks.run(liveness=False))
        if serving != self.serving:
            status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
            for name in ("", *SERVICE_NAMES):
                await self.health_servicer.set(name, status)
            self.serving = serving

    async def follow(self) -> None:
        while True:
            await asyncio.sleep(READINESS_INTERVAL)
            await self.update()


@asynccontextmanager
async def serving(services: GrpcServices, limiter: FailureLimiter) -> AsyncIterator[None]:
    """The gRPC server, serving while the context is open (entered once the store is open)."""
    server, health_servicer = build_server(services, limiter)
    readiness = _Readiness(services.health, health_servicer)
    await readiness.update()
    await server.start()
    follower = asyncio.create_task(readiness.follow())
    log.info("serving gRPC (%s)", ", ".join(SERVICE_NAMES))
    try:
        yield
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await health_servicer.enter_graceful_shutdown()
        await server.stop(_GRACE_SECONDS)
