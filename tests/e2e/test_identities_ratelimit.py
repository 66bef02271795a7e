"""Repeated authentication failures from one address give 429 with Retry-After; other addresses go on."""

from __future__ import annotations

import time

import requests
from requests.adapters import HTTPAdapter

BAD = {"Authorization": "Bearer sas_guessing-0000000000000000000000000000000"}


class _FromAddress(HTTPAdapter):
    """Connect from a given local address (127.0.0.2 is another source on the loopback network)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


def session_from(address: str, token: str | None = None) -> requests.Session:
    session = requests.Session()
    session.mount("http://", _FromAddress(address))
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_more_than_twenty_failures_in_ten_seconds_block_that_address_only(server):
    url = server.sv_url()
    attacker = session_from("127.0.0.1")
    statuses = [attacker.get(url, headers=BAD).status_code for _ in range(21)]
    assert statuses == [401] * 21
    blocked = attacker.get(url, headers=BAD)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 10
    status = blocked.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "TooManyRequests", 429)
    # The address is refused whatever it sends, so guessing on gains nothing...
    assert attacker.get(url, headers={"Authorization": f"Bearer {server.admin_token}"}).status_code == 429
    # ...while another address is neither blocked nor slowed.
    other = session_from("127.0.0.2", server.admin_token)
    started = time.monotonic()
    assert other.get(url).status_code == 200
    assert other.get(url, headers=BAD).status_code == 401
    assert time.monotonic() - started < 2
    assert requests.get(f"{server.url}/livez").status_code == 200  # health checks need no credentials


def test_the_limit_is_configurable_and_the_block_ends(server_factory):
    server = server_factory(env={"APISERVER_AUTH_FAILURE_LIMIT": "3", "APISERVER_AUTH_FAILURE_WINDOW_SECONDS": "2"})
    url = server.sv_url()
    attacker = session_from("127.0.0.1")
    assert [attacker.get(url, headers=BAD).status_code for _ in range(4)] == [401] * 4
    blocked = attacker.get(url, headers=BAD)
    assert blocked.status_code == 429
    wait = int(blocked.headers["Retry-After"])
    assert 1 <= wait <= 2
    time.sleep(wait + 0.1)
    assert attacker.get(url, headers={"Authorization": f"Bearer {server.admin_token}"}).status_code == 200
    # Requests without any credential are not guesses: they are 401 and never blocked.
    assert [attacker.get(url).status_code for _ in range(6)] == [401] * 6
