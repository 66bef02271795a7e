"""SessionService in-process on a real SQLite store, with an injected clock (no sleeping)."""

from __future__ import annotations

import pytest
from clocks import ManualClock

from apiserver.services.sessions import STORE_RESOURCE, SessionService
from apiserver.services.tokens import TokenRequest, TokenService
from apiserver.store.sqlite import SqliteBackend
from apiserver.store.store import Store

ADMIN = "sas_unit-admin-token"


@pytest.fixture
async def parts(tmp_path):
    store = Store(SqliteBackend(tmp_path / "db"))
    await store.open()
    tokens = TokenService(ADMIN, store)
    clock = ManualClock()
    yield store, tokens, SessionService(store, tokens, idle_seconds=600, clock=clock), clock
    await store.close()


async def test_idle_time_ends_a_session_and_activity_extends_it(parts):
    store, tokens, sessions, clock = parts
    session, secret = await sessions.create(tokens.authenticate(ADMIN), ADMIN)
    clock.now += 599
    live = sessions.authenticate(secret)
    assert live is not None and live.principal.subject == "user:admin"
    await sessions.touch(live)  # older than the touch interval (60 s): written
    clock.now += 599
    assert sessions.authenticate(secret) is not None
    clock.now += 2
    assert sessions.authenticate(secret) is None


async def test_touch_writes_at_most_once_per_interval(parts):
    store, tokens, sessions, clock = parts
    session, secret = await sessions.create(tokens.authenticate(ADMIN), ADMIN)
    revision = store.revision
    clock.now += 59
    await sessions.touch(sessions.authenticate(secret))
    assert store.revision == revision
    clock.now += 2
    await sessions.touch(sessions.authenticate(secret))
    assert store.revision == revision + 1


async def test_revoked_tokens_and_wrong_secrets_have_no_session(parts):
    store, tokens, sessions, clock = parts
    record, token = await tokens.create(TokenRequest(namespaces=["default"], role="viewer"))
    principal = tokens.authenticate(token)
    _, secret = await sessions.create(principal, token)
    assert sessions.authenticate(secret) is not None
    assert sessions.authenticate(secret + "x") is None
    assert sessions.authenticate("sas_" + secret) is None
    await tokens.revoke(record.id)
    assert sessions.authenticate(secret) is None


async def test_the_store_keeps_only_hashes_and_sign_in_sweeps_expired_sessions(parts):
    store, tokens, sessions, clock = parts
    _, old = await sessions.create(tokens.authenticate(ADMIN), ADMIN)
    clock.now += 601
    current, secret = await sessions.create(tokens.authenticate(ADMIN), ADMIN)
    stored = list(store.iter_current(STORE_RESOURCE, ""))
    assert [s.name for s in stored] == [current.id]
    text = repr([s.body for s in stored])
    assert secret not in text and ADMIN not in text and old not in text
    await sessions.end(current.id)
    assert sessions.authenticate(secret) is None


def test_the_csrf_token_belongs_to_its_session():
    token = SessionService.csrf_token("sess_a")
    assert SessionService.csrf_matches("sess_a", token)
    assert not SessionService.csrf_matches("sess_b", token)
    assert not SessionService.csrf_matches("sess_a", "")
