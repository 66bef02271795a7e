"""The HTTP ceiling of one Python process: a bare aiohttp handler returning pre-serialized bytes.

Run as `python -m bench.baseline_http --port P --body FILE`. The route has the same shape as the
server's GET of a SecureValue and answers the same bytes, with no middleware, no auth, no lookup.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aiohttp import web

from apiserver.cli.serve import new_event_loop


def make_app(body: bytes) -> web.Application:
    async def get(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/apis/secret.grafana.app/v1beta1/namespaces/{namespace}/securevalues/{name}", get)
    app.router.add_get("/readyz", ready)
    return app


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True)
    parser.add_argument("--event-loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    loop = new_event_loop(args.event_loop)
    web.run_app(make_app(args.body.read_bytes()), host="127.0.0.1", port=args.port, print=None, loop=loop)


if __name__ == "__main__":
    main()
