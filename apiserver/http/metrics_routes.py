"""`GET /metrics`: every series of the application in the Prometheus text format.

Answers to cluster admins and to tokens with the `apiserver.metrics:read` permission (401 without
credentials, 403 with a token lacking it); with `--metrics-anonymous` to anyone, for scrapers on a
private network. The series hold counts and durations only: no value, name, namespace or token.
"""

from __future__ import annotations

from aiohttp import web

from ..machinery.errors import forbidden
from ..ops.metrics import CONTENT_TYPE, Metrics
from ..services.authz import Authorizer
from ..services.permissions import METRICS_READ
from .middlewares import SURFACES, require_principal

METRICS_PATH = "/metrics"


def add_routes(app: web.Application, metrics: Metrics, authorizer: Authorizer, *, anonymous: bool) -> None:
    async def scrape(request: web.Request) -> web.Response:
        if not anonymous:
            grant = authorizer.grant(require_principal(request))
            if grant is None or not grant.may_read_metrics:
                raise forbidden(f"reading {METRICS_PATH} needs an admin token or the {METRICS_READ} permission")
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get(METRICS_PATH, scrape)
    if anonymous:
        app[SURFACES].public_paths.add(METRICS_PATH)
