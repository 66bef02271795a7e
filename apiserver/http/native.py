"""The native surface: the Kubernetes-style resource routes, and keeper activation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ..resources import GROUP, VERSION
from .context import request_context
from .discovery import Discovery
from .middlewares import SURFACES
from .openapi import OpenAPI
from .resource_routes import ResourceEndpoints, json_response, warnings_header

if TYPE_CHECKING:
    from ..machinery.continuation import ContinueTokens
    from ..machinery.registry import Registry
    from ..ops.metrics import Metrics
    from ..services.keepers import KeeperService

GROUP_PREFIX = f"/apis/{GROUP}/{VERSION}"
CORE_PREFIX = "/api/v1"


def add_routes(
    app: web.Application,
    registries: dict[str, Registry],
    keeper_service: KeeperService,
    continue_tokens: ContinueTokens,
    metrics: Metrics,
) -> None:
    """`registries` by resource: secure values and keepers in the group, namespaces in the core group."""

    async def activate_keeper(request: web.Request) -> web.Response:
        ctx = request_context(request)
        keeper = await keeper_service.activate(ctx, request.match_info["namespace"], request.match_info["name"])
        return json_response(keeper, headers=warnings_header(ctx))

    app.router.add_post(f"{GROUP_PREFIX}/namespaces/{{namespace}}/keepers/{{name}}/activate", activate_keeper)
    served = list(registries.values())
    for registry in served:
        prefix = GROUP_PREFIX if registry.type.group == GROUP else CORE_PREFIX
        app.router.add_routes(ResourceEndpoints(registry, continue_tokens, metrics).routes(prefix))
    app.router.add_routes(Discovery(r.type for r in served).routes())
    app.router.add_routes(OpenAPI((r.type, r.strategy.schema) for r in served).routes())
    app[SURFACES].public_paths.add("/version")  # as upstream's system:public-info-viewer
