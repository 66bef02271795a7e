"""Helpers of the identity, decrypt and audit tests: tokens through the admin API, raw requests per token."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from harness import Server

TOKENS_PATH = "/apis/auth.apiserver.local/v1/tokens"


def create_token(server: Server, **body) -> tuple[str, str]:
    """A new token (secret, id) created by the bootstrap admin; `namespaces` defaults to ["default"]."""
    body.setdefault("namespaces", ["default"])
    response = server.session.post(server.url + TOKENS_PATH, json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    return created["token"], created["id"]


def revoke_token(server: Server, token_id: str) -> None:
    response = server.session.post(server.url + TOKENS_PATH + "/revoke", json={"id": token_id})
    assert response.status_code == 200, response.text


def headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def call(method: str, url: str, token: str | None, **kwargs) -> requests.Response:
    return requests.request(method, url, headers={**headers(token), **kwargs.pop("headers", {})}, timeout=20, **kwargs)


def audit_records(data_dir: Path) -> list[dict]:
    path = data_dir / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
