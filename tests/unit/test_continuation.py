"""Continue tokens on an injected clock: expiry to the millisecond, binding to the query, tamper evidence."""

from __future__ import annotations

import pytest
from clocks import ManualClock

from apiserver.machinery.continuation import ContinueTokens, Position
from apiserver.machinery.errors import ApiError


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def tokens(clock: ManualClock) -> ContinueTokens:
    return ContinueTokens(b"k" * 32, ttl_seconds=60.0, clock=clock)


def reason(call) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.code, caught.value.reason


def test_a_token_reads_back_its_position_until_the_ttl_has_passed(tokens: ContinueTokens, clock: ManualClock) -> None:
    position = Position(42, "default", "b")
    token = tokens.issue(position, "labelSelector=a")
    clock.now += 59.999
    assert tokens.read(token, "labelSelector=a") == position
    clock.now += 0.002  # 60.001 s after issue: a millisecond past the TTL
    assert reason(lambda: tokens.read(token, "labelSelector=a")) == (410, "Expired")


def test_a_token_is_bound_to_its_query_and_to_the_secret(tokens: ContinueTokens, clock: ManualClock) -> None:
    token = tokens.issue(Position(7, "default", "a"), "limit=2")
    assert reason(lambda: tokens.read(token, "limit=2&labelSelector=x")) == (400, "BadRequest")
    other_server = ContinueTokens(b"o" * 32, ttl_seconds=60.0, clock=clock)
    assert reason(lambda: other_server.read(token, "limit=2")) == (400, "BadRequest")
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert reason(lambda: tokens.read(tampered, "limit=2")) == (400, "BadRequest")
    assert reason(lambda: tokens.read("not base64 at all!", "limit=2")) == (400, "BadRequest")
