"""Helpers for the page's tests: sign in over plain HTTP, as the page's script does."""

from __future__ import annotations

import requests
from harness import Server

SESSION_PATH = "/ui/api/session"
COOKIE = "apiserver-session"


def sign_in(server: Server, token: str | None = None) -> tuple[requests.Session, dict]:
    """A requests session holding the session cookie, and the session answer (with the CSRF token)."""
    browser = requests.Session()
    browser.verify = False
    response = browser.post(
        server.url + SESSION_PATH, json={"token": token or server.admin_token}, headers={"Origin": server.url}
    )
    assert response.status_code == 201, response.text
    return browser, response.json()


def page_headers(server: Server, info: dict) -> dict[str, str]:
    """What the page sends with every write: its origin and the anti-forgery token."""
    return {"Origin": server.url, "X-CSRF-Token": info["csrfToken"]}
