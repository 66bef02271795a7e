"""The application factory: wires store, crypto, services and surfaces into one aiohttp app."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from aiohttp import web

from .config import Settings
from .crypto.envelope import Envelope
from .crypto.kek import KekRing, load_kek_file, parse_kek_env
from .http import native
from .http.auth import TokenAuthenticator
from .http.middlewares import AUTHENTICATOR, SURFACES, Surfaces, authentication, errors, request_id
from .machinery.context import Principal, RequestContext
from .machinery.continuation import ContinueTokens
from .machinery.registry import Registry
from .resources.keeper import KeeperStrategy
from .resources.namespace import DEFAULT_NAMESPACE, NamespaceStrategy
from .resources.securevalue import SecureValueStrategy
from .services.authz import Authorizer
from .services.keepers import KeeperService
from .services.securevalues import SecureValuePayload
from .services.tokens import ADMIN_SUBJECT, TokenService, bootstrap_admin_token
from .store.data_keys import StoreDataKeys
from .store.sqlite import SqliteBackend
from .store.store import Store

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
    registries: dict[str, Registry] = field(default_factory=dict)


COMPONENTS = web.AppKey("components", Components)
SYSTEM = Principal(subject=ADMIN_SUBJECT, token_id="system")


def load_keks(settings: Settings) -> KekRing:
    if settings.kek is not None:
        return parse_kek_env(settings.kek.get_secret_value())
    return load_kek_file(settings.kek_path, create=settings.kek_file is None)


def build_components(settings: Settings) -> Components:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(SqliteBackend(settings.database_path), event_window=settings.event_window)
    envelope = Envelope(load_keks(settings), StoreDataKeys(store), rotation_period=settings.dek_rotation_seconds)
    authorizer = Authorizer()
    payload = SecureValuePayload(store, envelope)
    sv_strategy = SecureValueStrategy(store)
    sv_strategy.payload = payload
    secure_values = Registry(sv_strategy, store, authorizer)
    keepers = Registry(KeeperStrategy(store), store, authorizer)
    namespaces = Registry(NamespaceStrategy(store), store, authorizer)
    admin = bootstrap_admin_token(settings.data_dir,
                                  settings.admin_token.get_secret_value() if settings.admin_token else None)
    components = Components(settings, store, envelope, ContinueTokens(b"", settings.continue_ttl_seconds),
                            namespaces, secure_values, keepers, KeeperService(keepers), payload, TokenService(admin))
    components.registries = {r.type.resource: r for r in (secure_values, keepers, namespaces)}
    return components


async def _lifecycle(app: web.Application):
    components = app[COMPONENTS]
    store = components.store
    await store.open()
    secret = await store.backend.setting("continue-token-secret", lambda: secrets.token_hex(32))
    components.continue_tokens.secret = bytes.fromhex(secret)
    if store.get("namespaces", "", DEFAULT_NAMESPACE) is None:
        await components.namespaces.create(RequestContext(SYSTEM), "", {"metadata": {"name": DEFAULT_NAMESPACE}})
    yield
    await store.close()


def create_app(settings: Settings) -> web.Application:
    components = build_components(settings)
    app = web.Application(client_max_size=settings.max_body_bytes,
                          middlewares=[request_id, errors, authentication])
    app[COMPONENTS] = components
    app[SURFACES] = Surfaces()
    app[AUTHENTICATOR] = TokenAuthenticator(components.tokens)
    app.cleanup_ctx.append(_lifecycle)
    native.add_routes(app, components)
    return app
