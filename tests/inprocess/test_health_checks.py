"""The health-check registry: failing, raising and slow checks, over the application's own routes."""

from __future__ import annotations

import asyncio

import pytest

from apiserver.app import create_app
from apiserver.config import Settings
from apiserver.ops.health import HealthChecks


async def test_a_failing_check_fails_readyz_but_not_livez(tmp_path, aiohttp_client):
    app = create_app(Settings(data_dir=tmp_path / "data", admin_token="health-admin"))

    async def failing() -> str | None:
        return "the example device cannot be reached"

    from apiserver.app import COMPONENTS

    app[COMPONENTS].health.add("failing", failing)
    client = await aiohttp_client(app)
    ready = await client.get("/readyz")
    assert ready.status == 503
    assert ready.headers["Retry-After"] == "1"
    text = await ready.text()
    assert text.splitlines() == [
        "[+]ping ok",
        "[+]store ok",
        "[+]audit ok",
        "[-]failing failed: the example device cannot be reached",
        "readyz check failed",
    ]
    single = await client.get("/readyz/failing")
    assert (single.status, await single.text()) == (
        503,
        "internal server error: the example device cannot be reached\n",
    )
    assert (await client.get("/readyz", params={"exclude": "failing"})).status == 200
    live = await client.get("/livez")
    assert (live.status, await live.text()) == (200, "ok")


async def test_a_raising_or_slow_check_fails_with_a_reason_that_says_nothing_more():
    checks = HealthChecks(timeout=0.05)

    async def raising() -> str | None:
        raise RuntimeError("secret detail sk-do-not-show")

    async def slow() -> str | None:
        await asyncio.sleep(1)
        return None

    async def fine() -> str | None:
        return None

    checks.add("raising", raising)
    checks.add("slow", slow)
    checks.add("fine", fine, liveness=True)
    results = {r.name: r for r in await checks.run(liveness=False)}
    assert results["raising"].line() == "[-]raising failed: check raised RuntimeError"
    assert results["slow"].line() == "[-]slow failed: no answer within 0.05s"
    assert results["fine"].line() == "[+]fine ok"
    assert [r.name for r in await checks.run(liveness=True)] == ["fine"]


def test_names_are_unique_and_plain():
    checks = HealthChecks()

    async def check() -> str | None:
        return None

    checks.add("store", check)
    with pytest.raises(ValueError):
        checks.add("store", check)
    with pytest.raises(ValueError):
        checks.add("bad name", check)
