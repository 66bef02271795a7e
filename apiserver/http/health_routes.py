"""`/livez`, `/readyz` and `/{livez,readyz}/<check>`: the health checks in kube-apiserver's format.

Healthy and not verbose, the answer is ``ok``. Verbose (``?verbose``), or whenever a check fails,
it lists every check (``[+]store ok``, ``[-]audit failed: <reason>``) and ends with
``readyz check passed`` or ``readyz check failed``. ``?exclude=NAME`` (repeatable) leaves checks
out. A failing probe answers 503 with ``Retry-After`` (kube-apiserver answers 500; any 5xx takes a
replica out of a load balancer, and 503 is what every other surface answers while the database is
away). No credentials are needed: the reasons are written to be public.
"""

from __future__ import annotations

from aiohttp import web

from ..ops.health import HealthChecks
from .middlewares import SURFACES

PROBES = {"livez": True, "readyz": False}  # path -> liveness checks only


def add_routes(app: web.Application, checks: HealthChecks) -> None:
    for probe, liveness in PROBES.items():
        app.router.add_get(f"/{probe}", _probe(checks, probe, liveness))
        app.router.add_get(f"/{probe}/{{check}}", _single(checks, liveness))
        app[SURFACES].public_paths.add(f"/{probe}")
        app[SURFACES].add_public_prefix(f"/{probe}/")


def _probe(checks: HealthChecks, probe: str, liveness: bool):
    async def handler(request: web.Request) -> web.Response:
        excluded = request.query.getall("exclude", [])
        results = await checks.run(liveness=liveness, exclude=excluded)
        failed = any(not result.ok for result in results)
        if not failed and "verbose" not in request.query:
            return _text(200, "ok")
        lines = [result.line() for result in results]
        unknown = sorted(set(excluded) - set(checks.names(liveness=liveness)))
        if unknown:
            shown = ",".join(_plain(name) for name in unknown)
            lines.append(f"warn: some health checks cannot be excluded: no matches for {shown}")
        lines.append(f"{probe} check {'failed' if failed else 'passed'}")
        return _text(503 if failed else 200, "\n".join(lines) + "\n")

    return handler


def _single(checks: HealthChecks, liveness: bool):
    async def handler(request: web.Request) -> web.Response:
        name = request.match_info["check"]
        if name not in checks.names(liveness=liveness):
            return _text(404, "no such health check\n")
        result = await checks.run_one(name)
        if result.ok:
            return _text(200, "ok")
        return _text(503, f"internal server error: {result.reason}\n")

    return handler


def _text(status: int, body: str) -> web.Response:
    headers = {"Retry-After": "1"} if status == 503 else {}
    return web.Response(status=status, text=body, headers={**headers, "X-Content-Type-Options": "nosniff"})


def _plain(name: str) -> str:
    """A client-given name as it may be echoed: check-name characters only, bounded."""
    return "".join(c for c in name[:64] if c.isalnum() or c in "-_") or "?"
