"""A bug of ours answers a generic 500 Status and logs where it happened, never the exception's message."""

from __future__ import annotations

import logging

from aiohttp import web

from apiserver.http.context import PRINCIPAL
from apiserver.http.middlewares import AUTHENTICATOR, SURFACES, Surfaces, authentication, errors, request_id
from apiserver.machinery.context import Principal


class _Anyone:
    def authenticate(self, request: web.Request) -> Principal:
        return Principal("user:test")


async def test_unhandled_exception_is_a_generic_500_and_logs_no_data(aiohttp_client, caplog):
    secret = "-".join(["TOPSECRET", "VALUE", "77"])  # built, so the frames' source lines do not show it

    async def broken(request: web.Request) -> web.Response:
        assert request[PRINCIPAL].subject == "user:test"
        raise ValueError(f"could not parse {secret!r}")

    app = web.Application(middlewares=[request_id, errors, authentication])
    app[SURFACES] = Surfaces()
    app[AUTHENTICATOR] = _Anyone()
    app.router.add_get("/broken", broken)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="apiserver.http"):
        response = await client.get("/broken")
    assert response.status == 500
    body = await response.json()
    assert (body["kind"], body["reason"], body["message"]) == ("Status", "InternalError", "an internal error occurred")
    logged = caplog.text
    assert "unhandled ValueError in GET /broken" in logged and "def broken" not in logged
    assert "test_unhandled_errors.py" in logged  # the frames are there to follow
    assert secret not in logged and secret not in await response.text()
