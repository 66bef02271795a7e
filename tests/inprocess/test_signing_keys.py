"""Signing keys in-process with an injected clock: rotation keeps old keys exactly as long as their tokens live."""

from __future__ import annotations

import jwt
import pytest
from clocks import ManualClock

from apiserver.machinery.context import Principal
from apiserver.services.access_tokens import (
    AccessTokenIssuer,
    AccessTokenVerifier,
    InvalidAccessToken,
    TrustedKeys,
)
from apiserver.services.signing_keys import STORE_RESOURCE, SigningKeys
from apiserver.services.tokens import TokenRequest

KEEP_FOR = 3630.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(2_000_000_000.0)


@pytest.fixture
def keys(components, clock) -> SigningKeys:
    return SigningKeys(components.store, components.envelope, KEEP_FOR, clock=clock)


async def service_principal(components) -> Principal:
    request = TokenRequest(namespaces=["default"], role="viewer", service_identity="svc-a")
    record, _ = await components.tokens.create(request)
    return Principal(subject=record.subject, token_id=record.id, service_identity="svc-a")


async def test_rotation_retires_then_removes_old_keys(components, keys, clock):
    issuer = AccessTokenIssuer(components.tokens, keys, clock=clock)
    verifier = AccessTokenVerifier(TrustedKeys(keys), clock=clock)
    principal = await service_principal(components)
    request = {"namespace": "default", "audiences": ["secret.grafana.app"]}

    await keys.ensure()
    await keys.ensure()  # idempotent: one signing key
    assert [k.retired for k in keys.keys()] == [None]
    first = keys.keys()[0].kid
    old_token = await issuer.exchange(principal, {**request, "expiresIn": 3600})

    clock.now += 10
    rotated = await keys.rotate()
    assert rotated.kid != first
    assert [k.kid for k in keys.keys()] == [rotated.kid, first]  # newest first, the old one still trusted
    assert {k["kid"] for k in keys.jwks()["keys"]} == {first, rotated.kid}
    new_token = await issuer.exchange(principal, request)
    assert jwt.get_unverified_header(new_token)["kid"] == rotated.kid

    # Every token the old key signed expires (with the leeway) within KEEP_FOR of its retirement.
    clock.now += 3500
    assert verifier.verify(old_token).expires == pytest.approx(clock.now + 90, abs=1)
    clock.now += 125  # past exp + leeway, the key still published
    with pytest.raises(InvalidAccessToken, match="expired"):
        verifier.verify(old_token)
    assert first in {k["kid"] for k in keys.jwks()["keys"]}
    clock.now += 10  # KEEP_FOR after the retirement
    assert [k.kid for k in keys.keys()] == [rotated.kid]
    assert keys.public_jwk(first) is None
    with pytest.raises(InvalidAccessToken, match="not trusted"):
        verifier.verify(old_token)
    fresh = await issuer.exchange(principal, request)
    assert jwt.get_unverified_header(fresh)["kid"] == rotated.kid and verifier.verify(fresh).namespace == "default"

    # The next rotation deletes the expired key and its sealed private half from the store.
    assert components.store.get(STORE_RESOURCE, "", first) is not None
    third = await keys.rotate()
    assert components.store.get(STORE_RESOURCE, "", first) is None
    assert await components.store.read_payload("", f"signingkey/{first}", 1) is None
    assert {k.kid for k in keys.keys()} == {third.kid, rotated.kid}


async def test_verified_tokens_are_remembered_within_a_bound(components, keys, clock):
    issuer = AccessTokenIssuer(components.tokens, keys, clock=clock)
    verifier = AccessTokenVerifier(TrustedKeys(keys), clock=clock, remember=4)
    principal = await service_principal(components)
    tokens = [
        await issuer.exchange(principal, {"namespace": "default", "audiences": ["secret.grafana.app"], "expiresIn": n})
        for n in range(100, 110)
    ]
    for token in tokens:
        assert verifier.verify(token).namespace == "default"
        assert verifier.verify(token).namespace == "default"  # the second time from memory
        assert len(verifier._verified) <= 4
    tampered = tokens[-1][:-4] + ("AAAA" if not tokens[-1].endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidAccessToken, match="signature"):
        verifier.verify(tampered)  # a different string: never taken for the remembered one
    clock.now += 200
    with pytest.raises(InvalidAccessToken, match="expired"):
        verifier.verify(tokens[-1])
