"""What the key-maintenance tests share: a decrypt loop, bulk writes, the `keys` command."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from pathlib import Path

import aiohttp
from harness import Server, secure_value
from identities_support import call, create_token

LOOP_IDENTITY = "rotation-loop"


def value_of(name: str) -> str:
    return f"plaintext-of-{name}-5d1e"


def create_values(server: Server, names: list[str], namespace: str = "default", concurrency: int = 48) -> None:
    """Create many values fast: concurrent requests share the server's group commits."""

    async def run() -> None:
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        limit = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(headers=headers) as session:

            async def one(name: str) -> None:
                body = secure_value(name, value=value_of(name), decrypters=[LOOP_IDENTITY])
                async with limit, session.post(server.sv_url(namespace), json=body) as response:
                    assert response.status == 201, await response.text()

            await asyncio.gather(*(one(name) for name in names))

    asyncio.run(run())


class DecryptLoop:
    """Decrypts the given values over and over, from another thread, and counts every failure."""

    def __init__(self, servers: list[Server], values: list[tuple[str, str]]) -> None:
        self.servers = servers
        self.values = values  # (namespace, name)
        self.tokens = {}
        for server in servers:
            namespaces = sorted({ns for ns, _ in values})
            self.tokens[server.url] = create_token(server, namespaces=namespaces, serviceIdentity=LOOP_IDENTITY)[0]
        self.successes = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            server = self.servers[i % len(self.servers)]
            namespace, name = self.values[i % len(self.values)]
            i += 1
            try:
                response = call("POST", f"{server.sv_url(namespace, name)}/decrypt", self.tokens[server.url])
                if response.status_code == 200 and response.json() == {"value": value_of(name)}:
                    self.successes += 1
                else:
                    self.failures.append(f"{server.url} {namespace}/{name}: {response.status_code} {response.text}")
            except Exception as exc:  # noqa: BLE001  (a refused connection is a failure too)
                self.failures.append(f"{server.url} {namespace}/{name}: {type(exc).__name__}")

    def __enter__(self) -> DecryptLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def wait_for(self, successes: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        target = self.successes + successes
        while self.successes < target and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.successes >= target, self.failures[:5]


def keys_status(server: Server) -> dict:
    response = server.session.get(f"{server.url}/apis/ops.apiserver.local/v1/keys")
    assert response.status_code == 200, response.text
    return response.json()


def keks_by_id(status: dict) -> dict[str, dict]:
    return {kek["id"]: kek for kek in status["keks"]}


def data_keys_of(status: dict, namespace: str) -> list[dict]:
    for entry in status["namespaces"]:
        if entry["namespace"] == namespace:
            return entry["dataKeys"]
    return []


def new_kek_line(kek_id: str) -> tuple[str, str]:
    key = base64.b64encode(os.urandom(32)).decode()
    return f"{kek_id} {key}\n", key


def append_kek(path: Path, kek_id: str) -> str:
    line, key = new_kek_line(kek_id)
    with path.open("a") as handle:
        handle.write(line)
    return key


def drop_kek(path: Path, kek_id: str) -> None:
    kept = [line for line in path.read_text().splitlines(keepends=True) if not line.startswith(kek_id + " ")]
    path.write_text("".join(kept))


def wait_for_active_kek(server: Server, kek_id: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while keys_status(server)["activeKek"] != kek_id:
        assert time.monotonic() < deadline, f"{server.url} did not load KEK {kek_id}"
        time.sleep(0.1)


def status_json(cli) -> dict:
    result = cli("keys", "status", "-o", "json")
    assert result.rc == 0, result.err
    return json.loads(result.out)


def create_values_in_bulk(server: Server, namespace: str, count: int, batch: int = 500) -> None:
    """Create `count` values in `namespace` through the Cloudflare facade's batch create: one request
    (one transaction) per `batch` values. The server needs `--cloudflare-secrets-quota` above `count`."""
    created = server.session.get(f"{server.url}/api/v1/namespaces/{namespace}")
    assert created.status_code == 200, created.text
    account = created.json()["metadata"]["annotations"]["compat.apiserver.local/cloudflare-account-id"]
    stores = f"{server.url}/client/v4/accounts/{account}/secrets_store/stores"
    response = server.session.post(stores, json=[{"name": "bulk"}])
    assert response.status_code == 200, response.text
    store_id = response.json()["result"][0]["id"]
    for start in range(0, count, batch):
        body = [
            {"name": f"bulk-{i:05d}", "value": value_of(f"bulk-{i:05d}"), "scopes": ["workers"]}
            for i in range(start, min(count, start + batch))
        ]
        response = server.session.post(f"{stores}/{store_id}/secrets", json=body, timeout=120)
        assert response.status_code == 200, response.text[:300]
