"""A kill -9 in the middle of concurrent writes loses no acknowledged write.

Creates share group commits (many values, one transaction, one fsync), so this is where a faster
write path could start answering before its batch is durable. Thirty-two writers create values as
fast as the server takes them; the server is killed while they run; every value answered with 201
must be there afterwards, with exactly the value that was sent.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time

import requests
from core_support import reveal_offline
from harness import ADMIN_TOKEN, secure_value

WRITERS = 32


def _write_until_stopped(url: str, writer: int, stop: threading.Event, acknowledged: dict[str, str]) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    n = 0
    while not stop.is_set():
        name, value = f"w{writer}-{n}", f"durable-{secrets.token_hex(8)}"
        n += 1
        try:
            response = session.post(url, json=secure_value(name, value=value), timeout=10)
        except requests.RequestException:
            return  # the server is gone: this write was never acknowledged
        if response.status_code == 201:
            acknowledged[name] = value


def test_a_kill_under_concurrent_write_load_loses_no_acknowledged_write(server):
    acknowledged: dict[str, str] = {}
    stop = threading.Event()
    writers = [
        threading.Thread(target=_write_until_stopped, args=(server.sv_url(), i, stop, acknowledged))
        for i in range(WRITERS)
    ]
    for thread in writers:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(server.process.pid, signal.SIGKILL)  # mid-batch: writers are still sending
    server.process.wait(5)
    server.process = None
    stop.set()
    for thread in writers:
        thread.join(15)

    assert len(acknowledged) >= 300, "the load never got going"
    assert (server.data_dir / "apiserver.db-wal").stat().st_size > 0  # no checkpoint happened at exit
    revealed = reveal_offline(server.data_dir, ADMIN_TOKEN, "default", sorted(acknowledged))
    assert revealed == {name: value.encode() for name, value in acknowledged.items()}

    # The restarted server serves every one of them.
    server.start()
    listed = server.session.get(server.sv_url()).json()["items"]
    assert {item["metadata"]["name"] for item in listed} >= set(acknowledged)
