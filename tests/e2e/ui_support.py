"""Helpers for the page's tests: sign in over plain HTTP, as the page's script does."""

from __future__ import annotations

from pathlib import Path

import pytest
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


# -- the browser ----------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"


def launch_chromium(playwright):
    """Debian's chromium, driven by Playwright (its own browser download is not used)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (./dev installs Debian's chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)


def screenshot(page, name: str) -> Path:
    """A picture of a state of the page, kept as a test artifact (never compared pixel by pixel)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
