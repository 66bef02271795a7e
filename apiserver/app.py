"""The application factory: wires store, crypto, services and surfaces into one aiohttp app."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .compat import cloudflare, influxdb
from .config import Settings
from .crypto.envelope import Envelope
from .crypto.errors import KekConfigError, KmsUnavailable
from .crypto.kek import KekRing, load_kek_file, parse_kek_env
from .crypto.kms import KMS, KmsPlugin
from .crypto.providers import KekProvider, LocalKeks, ProviderChain
from .http import access_token_routes, health_routes, key_routes, metrics_routes, native, token_routes, watch_stream
from .http import decrypt as decrypt_routes
from .http.auth import TokenAuthenticator
from .http.body import BODY_LIMIT, BODY_TIMEOUT
from .http.connections import CONNECTION_GUARD, ConnectionGuard, connection_limits
from .http.consistency import STORE_SYNC, consistent_reads
from .http.middlewares import AUTHENTICATOR, SURFACES, Surfaces, audited, authentication, errors, request_id
from .http.observe import RequestObserver
from .http.ratelimit import FailureLimiter
from .http.session_auth import SESSION_AUTH, SessionAuth, session_authentication
from .keepers.aws import AwsSecretsManager
from .machinery.context import Principal, RequestContext
from .machinery.continuation import ContinueTokens
from .machinery.errors import AlreadyExists
from .machinery.registry import Registry
from .ops.event_loop import LoopProbe
from .ops.health import HealthChecks, ping
from .ops.metrics import Metrics
from .resources.keeper import KeeperStrategy
from .resources.namespace import DEFAULT_NAMESPACE, NamespaceStrategy
from .resources.secretstore import SecretStoreStrategy
from .resources.securevalue import SecureValueStrategy
from .services.access_tokens import LEEWAY, MAX_LIFETIME, AccessTokenIssuer, AccessTokenVerifier, TrustedKeys
from .services.audit import AuditLog
from .services.authz import Authorizer
from .services.cloudflare_secrets import CLOUDFLARE_VALUE_LIMIT, CloudflareSecrets, CloudflareServices
from .services.cloudflare_stores import CloudflareAccounts, CloudflareStores, SecureValuesAuthority
from .services.decrypt import DecryptService
from .services.external_values import ExternalValues
from .services.facade_namespaces import FacadeNamespaces
from .services.facade_values import FacadeValues
from .services.keeper_cleanup import KeeperCleanup
from .services.keeper_health import KeeperHealth
from .services.keepers import KeeperService
from .services.kek_reload import KekReloader
from .services.keys import KeyService
from .services.securevalues import SecureValuePayload
from .services.sessions import SessionService
from .services.signing_keys import SigningKeys
from .services.token_admin import TokenAdmin
from .services.tokens import ADMIN_SUBJECT, TokenService, bootstrap_admin_token
from .store.data_keys import StoreDataKeys
from .store.sqlite import SqliteBackend
from .store.store import Store
from .ui import routes as ui_routes

log = logging.getLogger("apiserver")


@dataclass
class Components:
    """Everything the surfaces call, built once per application."""

    settings: Settings
    store: Store
    envelope: Envelope
    continue_tokens: ContinueTokens
    namespaces: Registry
    secure_values: Registry
    keepers: Registry
    keeper_service: KeeperService
    payload: SecureValuePayload
    tokens: TokenService
    authorizer: Authorizer
    auditor: AuditLog
    decrypt: DecryptService
    token_admin: TokenAdmin
    influxdb_values: FacadeValues  # the InfluxDB facade's values (InfluxDB's limits)
    cloudflare: CloudflareServices  # the Cloudflare Secrets Store facade's services
    sessions: SessionService  # the browser page's sessions
    keys: KeyService  # key maintenance: status, rotation, re-wrap, re-encryption
    signing_keys: SigningKeys  # the keys that sign access tokens (token exchange)
    access_issuer: AccessTokenIssuer
    access_verifier: AccessTokenVerifier  # Grafana access tokens presented over gRPC
    registries: dict[str, Registry]  # the native surface's, by resource
    # What /livez and /readyz run, and the series /metrics exports (apiserver/ops, docs/observability.md).
    health: HealthChecks
    metrics: Metrics
    external: ExternalValues  # values kept in AWS Secrets Manager (aws keepers)
    keeper_cleanup: KeeperCleanup
    keeper_health: KeeperHealth
    kms: KmsPlugin | None = None  # the KMS v2 plugin that wraps the data keys (--kms-socket)


COMPONENTS = web.AppKey("components", Components)
LOOP_PROBE = web.AppKey("loop_probe", LoopProbe)
# Runs the gRPC server (with --grpc-port) inside the application's start-up and clean-up.
GRPC_SERVER: web.AppKey[Callable[[], AbstractAsyncContextManager[None]]] = web.AppKey("grpc_server")
SYSTEM = Principal(subject=ADMIN_SUBJECT, token_id="system")


def load_keks(settings: Settings) -> KekRing:
    if settings.database_url is not None and settings.kek is None and settings.kek_file is None:
        # Replicas must share one KEK: one invented per replica would seal DEKs the others cannot open.
        raise KekConfigError(
            "with --database-url every replica needs the same key-encryption key: give the "
            "shared key file with --kek-file (or APISERVER_KEK_FILE), or the key in APISERVER_KEK"
        )
    if settings.kek is not None:
        return parse_kek_env(settings.kek.get_secret_value())
    return load_kek_file(settings.kek_path, create=settings.kek_file is None)


def _kek_provider(settings: Settings) -> tuple[KekProvider, Callable[[], KekRing] | None, KmsPlugin | None]:
    """Who wraps the data keys: the local KEKs, or a KMS plugin (with the local KEKs, if there are
    any, still opening the data keys they wrapped until `keys rewrap` moves them to the plugin).
    Also the function that re-reads the local KEKs, where they can change (a file; not the environment)."""
    if settings.kms_socket is None:
        reload = (lambda: load_keks(settings)) if settings.kek is None else None
        return LocalKeks(load_keks(settings), reload=reload), reload, None
    kms = KmsPlugin(
        settings.kms_socket,
        timeout=settings.kms_timeout_seconds,
        status_interval=settings.kms_status_seconds,
        grace=settings.kms_grace_seconds,
    )
    if settings.kek is not None:
        return ProviderChain(kms, LocalKeks(parse_kek_env(settings.kek.get_secret_value()))), None, kms
    if settings.kek_file is None and not settings.kek_path.exists():
        return kms, None, kms
    # Never created here: beside a plugin, a KEK file is only read, for the data keys it wrapped before.
    reload = lambda: load_kek_file(settings.kek_path, create=False)  # noqa: E731
    return ProviderChain(kms, LocalKeks(reload(), reload=reload)), reload, kms


def build_components(settings: Settings) -> Components:
    # Owner-only: the database, key file, admin token and audit log live here. An existing directory
    # keeps the mode its operator gave it.
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    metrics = Metrics()
    store = Store(_backend(settings), event_window=settings.event_window, metrics=metrics)
    data_keys = StoreDataKeys(store)
    provider, reload_keks, kms = _kek_provider(settings)
    envelope = Envelope(provider, data_keys, rotation_period=settings.dek_rotation_seconds, metrics=metrics)
    if kms is not None:
        # The plugin's key changed: re-wrap what it wrapped under the new one. Data keys of a KEK file
        # move to the plugin only when the operator says so (`keys rewrap`).
        kms.on_key_change = lambda: envelope.rewrap_all(provider=KMS)
    store.on_data_key_change = envelope.forget_active  # another replica rotated a namespace's DEK
    admin = bootstrap_admin_token(
        settings.data_dir, settings.admin_token.get_secret_value() if settings.admin_token else None
    )
    tokens = TokenService(admin, store)
    authorizer = Authorizer(tokens)
    auditor = AuditLog.from_specs(settings.audit_targets, fsync=settings.audit_fsync)
    aws = AwsSecretsManager(max_workers=settings.aws_max_workers, timeout=settings.aws_timeout_seconds)
    external = ExternalValues(store, aws, create_grace=settings.keeper_create_grace_seconds)
    payload = SecureValuePayload(store, envelope, external)

    def secure_value_registry(**limits: Any) -> Registry:
        # One registry per surface over the same store: value limits follow the API a write comes through.
        return Registry(SecureValueStrategy(store, payload, **limits), store, authorizer, auditor)

    secure_values = secure_value_registry()  # Grafana's limits
    keepers = Registry(KeeperStrategy(store), store, authorizer, auditor)
    namespaces = Registry(NamespaceStrategy(store), store, authorizer, auditor)
    # Old signing keys stay trusted as long as the longest access token they may have signed lives.
    signing_keys = SigningKeys(store, envelope, keep_for=MAX_LIFETIME + LEEWAY)
    health = HealthChecks()
    health.add("ping", ping, liveness=True)
    health.add("store", store.health)
    health.add("audit", auditor.health)
    auditor.metrics = metrics
    metrics.add_sampler(
        "apiserver_storage_objects", "Objects in the cache, by resource.", ("resource",), store.object_counts
    )
    metrics.add_sampler(
        "apiserver_registered_watchers", "Watchers registered, by resource.", ("resource",), store.watcher_counts
    )
    if kms is not None:
        kms.record = metrics.record_kms_call
        health.add("kms", kms.health)
    return Components(
        settings=settings,
        store=store,
        envelope=envelope,
        continue_tokens=ContinueTokens(b"", settings.continue_ttl_seconds),
        namespaces=namespaces,
        secure_values=secure_values,
        keepers=keepers,
        keeper_service=KeeperService(keepers, external),
        payload=payload,
        tokens=tokens,
        authorizer=authorizer,
        auditor=auditor,
        decrypt=DecryptService(store, payload, tokens, auditor, metrics),
        token_admin=TokenAdmin(tokens, authorizer, auditor),
        # InfluxDB has no value limit of its own: the request body limit bounds a value; `null` is stored as "".
        influxdb_values=FacadeValues(
            secure_value_registry(value_limit=settings.max_body_bytes, allow_empty_value=True), payload
        ),
        cloudflare=_cloudflare_services(settings, store, authorizer, auditor, secure_value_registry, payload),
        sessions=SessionService(store, tokens, idle_seconds=settings.ui_session_idle_seconds),
        keys=KeyService(
            envelope,
            data_keys,
            store,
            authorizer,
            auditor,
            load_keks=reload_keks,
            retire_grace=settings.dek_retire_grace_seconds,
        ),
        signing_keys=signing_keys,
        access_issuer=AccessTokenIssuer(tokens, signing_keys),
        access_verifier=AccessTokenVerifier(TrustedKeys(signing_keys, settings.grafana_jwks)),
        registries={r.type.resource: r for r in (secure_values, keepers, namespaces)},
        health=health,
        metrics=metrics,
        external=external,
        keeper_cleanup=KeeperCleanup(
            store,
            aws,
            holder="",
            interval=settings.keeper_cleanup_seconds,
            max_attempts=settings.keeper_cleanup_attempts,
        ),
        keeper_health=KeeperHealth(external, settings.keeper_health_seconds),
        kms=kms,
    )


def _cloudflare_services(
    settings: Settings,
    store: Store,
    authorizer: Authorizer,
    auditor: AuditLog,
    secure_value_registry: Callable[..., Registry],
    payload: SecureValuePayload,
) -> CloudflareServices:
    accounts = CloudflareAccounts(store, authorizer)
    # A store only groups secrets: the secure-values permissions of its namespace govern it.
    store_registry = Registry(
        SecretStoreStrategy(store, settings.cloudflare_max_stores), store, SecureValuesAuthority(authorizer), auditor
    )
    stores = CloudflareStores(store_registry, accounts)
    # Cloudflare's value limit, not Grafana's: 64 KiB.
    values = FacadeValues(secure_value_registry(value_limit=CLOUDFLARE_VALUE_LIMIT), payload)
    return CloudflareServices(
        accounts, stores, CloudflareSecrets(values, stores, accounts, settings.cloudflare_secrets_quota)
    )


def _backend(settings: Settings):
    if settings.database_url is None:
        return SqliteBackend(settings.database_path)
    from .store.postgres import PostgresBackend  # asyncpg only when PostgreSQL is asked for

    return PostgresBackend(settings.database_url.get_secret_value(), event_window=settings.event_window)


async def _start(components: Components) -> KekReloader:
    store = components.store
    secret = await store.setting("continue-token-secret", lambda: secrets.token_hex(32))
    components.continue_tokens.secret = bytes.fromhex(secret)
    # A server whose KEKs cannot open its data keys would answer every decrypt with an error:
    # refuse to start instead, naming the KEK (a restore without its KEK, a wrong key file).
    if components.kms is not None:
        await components.kms.start()  # a plugin that does not answer yet leaves the server not ready
    await components.envelope.check_data_keys()
    kek_file = components.settings.kek_path if components.settings.kek is None else None
    if components.settings.grpc_port is not None:
        # A server that serves Grafana's decrypt has its signing key from the first start (published at
        # /.well-known/jwks.json); elsewhere it is made by the first token exchange. Replicas share it.
        try:
            await components.signing_keys.ensure()
        except KmsUnavailable as exc:  # the first token exchange makes it, once the plugin answers
            log.warning("no signing key yet: %s", exc)
    reloader = KekReloader(components.keys, kek_file, components.settings.kek_watch_seconds)
    reloader.start()
    await _start_keepers(components)
    if store.get("namespaces", "", DEFAULT_NAMESPACE) is None:
        try:
            await components.namespaces.create(RequestContext(SYSTEM), "", {"metadata": {"name": DEFAULT_NAMESPACE}})
        except AlreadyExists:  # another replica, starting at the same time, created it first
            pass
    return reloader


async def _start_keepers(components: Components) -> None:
    """Name this server in AWS (one identity per store, so replicas agree) and start the cleanup worker."""
    external, cleanup = components.external, components.keeper_cleanup
    identity = await components.store.setting("server-identity", lambda: secrets.token_hex(6))
    external.server_identity = identity
    external.aws.session_name = f"apiserver-{identity}"
    cleanup.holder = f"{identity}-{secrets.token_hex(4)}"  # replicas share the identity, not their leases
    cleanup.start()
    components.keeper_health.start()


async def _lifecycle(app: web.Application):
    components = app[COMPONENTS]
    store = components.store
    await store.open()
    serving = AsyncExitStack()  # the gRPC server, when there is one: stopped first, its calls use the store
    try:
        reloader = await _start(components)
        await components.auditor.start()  # a target that cannot be opened is reported, and retried
        if GRPC_SERVER in app:
            await serving.enter_async_context(app[GRPC_SERVER]())  # a port already taken fails the start
    except BaseException:
        # A failed start must not leave the database connections' threads keeping the process alive
        # (aiohttp runs no cleanup when its start-up fails).
        if components.kms is not None:
            await components.kms.stop()
        await store.close()
        await components.auditor.close()
        raise
    loop_probe = app[LOOP_PROBE]
    loop_probe.start()
    yield
    await loop_probe.stop()
    await serving.aclose()
    await reloader.stop()
    if components.kms is not None:
        await components.kms.stop()
    await components.keeper_cleanup.stop()
    await components.keeper_health.stop()
    await store.close()
    components.external.aws.close()
    await components.auditor.close()


def create_app(settings: Settings) -> web.Application:
    components = build_components(settings)
    # Consistent reads need a middleware only when replicas share the database; alone it is a no-op.
    syncing = [consistent_reads] if components.store.shared else []
    observer = RequestObserver(components.metrics, components.registries, log_requests=settings.access_log)
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            request_id,
            observer.middleware,
            errors,
            connection_limits,
            audited,
            *syncing,
            session_authentication,
            authentication,
        ],
    )
    app[COMPONENTS] = components
    app[LOOP_PROBE] = LoopProbe(components.metrics)
    app[BODY_LIMIT] = settings.max_body_bytes
    app[BODY_TIMEOUT] = settings.body_timeout_seconds
    surfaces = app[SURFACES] = Surfaces()
    app[CONNECTION_GUARD] = ConnectionGuard(
        max_total=settings.max_connections,
        max_per_address=settings.max_connections_per_address,
        header_timeout=settings.header_timeout_seconds,
        render=surfaces.render_path,
    )
    watch_stream.setup(app, components.metrics)
    app[STORE_SYNC] = components.store.sync
    limiter = FailureLimiter(settings.auth_failure_limit, settings.auth_failure_window_seconds)
    app[AUTHENTICATOR] = TokenAuthenticator(components.tokens, limiter)
    app[SESSION_AUTH] = SessionAuth(components.sessions, limiter)  # a wrong session counts as a wrong token
    app.cleanup_ctx.append(_lifecycle)
    if settings.grpc_port is not None:
        app[GRPC_SERVER] = _grpc_server(components, limiter)
    health_routes.add_routes(app, components.health)
    metrics_routes.add_routes(app, components.metrics, components.authorizer, anonymous=settings.metrics_anonymous)
    native.add_routes(
        app, components.registries, components.keeper_service, components.continue_tokens, components.metrics
    )
    decrypt_routes.add_routes(app, components.decrypt, native.GROUP_PREFIX)
    token_routes.add_routes(app, components.token_admin)
    key_routes.add_routes(app, components.keys)
    cloudflare.add_routes(app, components.cloudflare)
    influxdb.setup(
        app,
        components.influxdb_values,
        FacadeNamespaces(components.namespaces),
        components.settings.influxdb_decrypter,
    )
    ui_routes.add_routes(app, components.namespaces, components.tokens, components.sessions, components.authorizer)
    access_token_routes.add_routes(
        app, components.access_issuer, components.signing_keys, components.tokens, components.auditor
    )
    return app


def _grpc_server(components: Components, limiter: FailureLimiter) -> Callable[[], AbstractAsyncContextManager[None]]:
    from .grpc import server  # grpcio only when a gRPC port is asked for

    services = server.GrpcServices(
        components.settings,
        components.store,
        components.tokens,
        components.access_verifier,
        components.decrypt,
        components.health,
        components.metrics,
    )
    return lambda: server.serving(services, limiter)
