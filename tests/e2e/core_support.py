"""Helpers shared by the core end-to-end tests (tests/e2e/test_core_*.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from harness import GROUP_PATH, Server

SV_API_VERSION = "secret.grafana.app/v1beta1"


def state(server: Server) -> dict[str, Any]:
    """What a write would change: the store revision and every object's name and resourceVersion."""
    out: dict[str, Any] = {}
    for path in (f"{GROUP_PATH}/securevalues", f"{GROUP_PATH}/keepers", "/api/v1/namespaces"):
        response = server.session.get(server.url + path)
        assert response.status_code == 200, response.text
        body = response.json()
        out[path] = sorted(
            (i["metadata"].get("namespace", ""), i["metadata"]["name"], i["metadata"]["resourceVersion"])
            for i in body["items"]
        )
        out.setdefault("revision", body["metadata"]["resourceVersion"])
    return out


def assert_status(response, code: int, reason: str, message: str | None = None) -> dict:
    """A Kubernetes Status failure with this code and reason (and exact message when given)."""
    assert response.status_code == code, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["kind"] == "Status" and body["apiVersion"] == "v1", body
    assert body["status"] == "Failure" and body["code"] == code and body["reason"] == reason, body
    if message is not None:
        assert body["message"] == message, body["message"]
    return body


def causes(body: dict) -> list[tuple[str, str, str]]:
    return [(c["field"], c["reason"], c["message"]) for c in body["details"]["causes"]]


def reveal_offline(data_dir: Path, admin_token: str, namespace: str, names: list[str]) -> dict[str, bytes | Exception]:
    """Build the server's components in this process on `data_dir` (server stopped) and decrypt values."""
    from apiserver.app import build_components
    from apiserver.config import Settings

    async def run() -> dict[str, bytes | Exception]:
        components = build_components(Settings(data_dir=data_dir, admin_token=admin_token))
        await components.store.open()
        try:
            out: dict[str, bytes | Exception] = {}
            for name in names:
                stored = components.store.get("securevalues", namespace, name)
                assert stored is not None, name
                try:
                    out[name] = (await components.payload.reveal(stored.body)).reveal()
                except Exception as exc:  # noqa: BLE001 - the test inspects which failure it was
                    out[name] = exc
            return out
        finally:
            await components.store.close()

    return asyncio.run(run())
