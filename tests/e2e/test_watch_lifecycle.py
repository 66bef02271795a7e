"""A watch sends its headers at once, is released promptly when its client goes, and never delays shutdown."""

from __future__ import annotations

import json
import signal
import socket
import time

import pytest
import requests
from harness import ADMIN_TOKEN, GROUP_PATH, secure_value

WATCH_PATH = f"{GROUP_PATH}/namespaces/default/securevalues?watch=true"


def _released(server) -> int:
    return server.log().count("released after")


def _raw_watch(server, query: str = "") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    request = (
        f"GET {WATCH_PATH}{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\r\n"
    ).encode()
    sock.sendall(request)
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")  # the headers, before any event
    return sock


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def srv(server_factory):
    return server_factory("--log-level", "DEBUG")


def test_headers_come_at_once_and_bookmarks_keep_an_idle_watch_alive(srv):
    rv = srv.session.get(srv.sv_url()).json()["metadata"]["resourceVersion"]
    started = time.monotonic()
    with srv.session.get(
        srv.sv_url(),
        params={"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true"},
        stream=True,
        timeout=(5, 20),
    ) as watch:
        assert watch.status_code == 200 and time.monotonic() - started < 2  # nothing to send, headers anyway
        first = json.loads(next(watch.iter_lines()))
    assert first["type"] == "BOOKMARK"
    assert first["object"]["kind"] == "SecureValue" and first["object"]["metadata"]["resourceVersion"]


def test_a_watch_whose_client_left_is_released_within_seconds(srv):
    sockets = [_raw_watch(srv, "&resourceVersion=0") for _ in range(3)]
    time.sleep(0.5)
    assert _released(srv) == 0
    for sock in sockets:
        sock.close()
    # Nothing changes in the collection: the watches must notice by themselves that their clients left.
    assert _wait_for(lambda: srv.log().count("released after 0 events: its client went away") == 3, 4), srv.log()


def test_events_for_a_client_that_left_are_not_logged_as_errors(srv):
    sockets = [_raw_watch(srv, "&resourceVersion=0") for _ in range(5)]
    for sock in sockets:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        sock.close()
    for i in range(20):
        assert srv.session.post(srv.sv_url(), json=secure_value(f"after-close-{i}")).status_code == 201
    assert _wait_for(lambda: _released(srv) == 5, 4)
    log = srv.log()
    for marker in ("Traceback", "Error handling request", "unhandled", "Task exception"):
        assert marker not in log, log[-3000:]


def test_shutdown_does_not_wait_for_open_watches(srv):
    watches = [
        requests.get(f"{srv.url}{WATCH_PATH}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, stream=True)
        for _ in range(3)
    ]
    assert all(w.status_code == 200 for w in watches)
    assert srv.process is not None
    started = time.monotonic()
    srv.process.send_signal(signal.SIGTERM)
    srv.process.wait(30)
    assert time.monotonic() - started < 5
    for watch in watches:  # each stream ended cleanly (its last chunk sent), not cut
        assert isinstance(list(watch.iter_lines()), list)
