"""Watchers for the fan-out scenario, in their own process: `python -m bench.watch_fanout ...`.

Opens N watch streams with a minimal asyncio protocol (no JSON parsing: it only looks for the
names of the values the benchmark writes), so that the client costs little beside the server.
Prints `READY` once every stream has delivered the seed value `w-0`, then records when each
stream first sees each `w-K`. On `DONE` from stdin it prints one JSON line per K: how many
streams saw it and when (time.monotonic(), comparable across processes on Linux).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time

_NAME = re.compile(rb'"name":"(w-\d+)"')


class WatchStream(asyncio.Protocol):
    def __init__(self, request: bytes, seen: dict[bytes, list[float]], ready: asyncio.Event, total: list[int]) -> None:
        self.request, self.seen, self.ready, self.total = request, seen, ready, total
        self.tail = b""
        self.mine: set[bytes] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        chunk = self.tail + data
        for match in _NAME.finditer(chunk):
            marker = match.group(1)
            if marker in self.mine:
                continue
            self.mine.add(marker)
            self.seen.setdefault(marker, []).append(now)
            if marker == b"w-0":
                self.total[0] += 1
                if self.total[0] == self.total[1]:
                    self.ready.set()
        self.tail = chunk[-40:]


async def main(port: int, token: str, namespace: str, watchers: int) -> None:
    loop = asyncio.get_running_loop()
    request = (
        f"GET /apis/secret.grafana.app/v1beta1/namespaces/{namespace}/securevalues?watch=1"
        f"&timeoutSeconds=600 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Accept: application/json\r\n\r\n"
    ).encode()
    seen: dict[bytes, list[float]] = {}
    ready = asyncio.Event()
    total = [0, watchers]
    gate = asyncio.Semaphore(64)  # stay under the server's listen backlog while connecting
    transports = []

    async def connect() -> None:
        async with gate:
            transport, _ = await loop.create_connection(
                lambda: WatchStream(request, seen, ready, total), "127.0.0.1", port
            )
            transports.append(transport)

    await asyncio.gather(*(connect() for _ in range(watchers)))
    await asyncio.wait_for(ready.wait(), 120)
    print("READY", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    for marker, times in sorted(seen.items()):
        print(json.dumps({"name": marker.decode(), "count": len(times), "times": times}), flush=True)
    for transport in transports:
        transport.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--watchers", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.token, args.namespace, args.watchers))
