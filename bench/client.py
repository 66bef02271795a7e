"""A small blocking HTTP client for the benchmark's setup steps (not for load: wrk does that)."""

from __future__ import annotations

import http.client
import json
from typing import Any


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self._conn.request(method, path, body=data, headers=headers)
            response = self._conn.getresponse()
        except (http.client.HTTPException, OSError):
            self._conn.close()  # a stale keep-alive connection: reconnect once
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self._conn.request(method, path, body=data, headers=headers)
            response = self._conn.getresponse()
        return response.status, response.read()

    def json(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201)) -> dict:
        status, data = self.request(method, path, body)
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
        return json.loads(data)

    def close(self) -> None:
        self._conn.close()
