"""Every route except /livez and /readyz needs the admin token (401 Status otherwise)."""

from __future__ import annotations

import re

import pytest
import requests
from core_support import state
from harness import secure_value

WRONG = [
    {},
    {"Authorization": "Bearer sas_wrong-token"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic YWRtaW46YWRtaW4="},
    {"Authorization": "Token sas_wrong-token"},
    {"Authorization": "sas_test-admin-token-0123456789abcdef"},  # the right token without a scheme
    {"X-Auth-Key": "sas_wrong-token", "X-Auth-Email": "a@b.c"},
]


def _app_routes(tmp_path) -> tuple[list[tuple[str, str]], set[str]]:
    """(method, path) of every route the application registers, and its public paths."""
    from apiserver.app import create_app
    from apiserver.config import Settings
    from apiserver.http.middlewares import SURFACES

    app = create_app(Settings(data_dir=tmp_path / "routes", admin_token="x"))
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if not path:
            continue
        path = re.sub(r"\{[^}]*\}", "x", path.replace("{namespace}", "default"))
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"] if route.method == "*" else [route.method]
        routes.update((method, path) for method in methods if method != "HEAD")
    surfaces = app[SURFACES]
    return sorted(routes), {path for _, path in routes if surfaces.is_public(path)}


@pytest.fixture(scope="module")
def srv(shared_server):
    return shared_server


def test_health_needs_no_token(srv):
    for path in ("/livez", "/readyz"):
        assert requests.get(srv.url + path, timeout=5).status_code == 200


def test_every_other_route_answers_401_without_the_admin_token(server_factory, tmp_path):
    # Its own server, with the failed-authentication limiter out of the way (429s are tested elsewhere).
    srv = server_factory(env={"APISERVER_AUTH_FAILURE_LIMIT": "1000000"})
    routes, public = _app_routes(tmp_path)
    assert {"/livez", "/readyz"} <= public
    assert not any(p.startswith(("/apis", "/api/v1", "/openapi")) for p in public)
    assert ("POST", "/apis/secret.grafana.app/v1beta1/namespaces/default/securevalues") in routes
    before = state(srv)
    failures = []
    for method, path in routes:
        if path in public:
            continue
        for headers in WRONG:
            response = requests.request(
                method, srv.url + path, headers=headers, timeout=5, json=secure_value("auth-probe")
            )
            native = path.startswith(("/apis", "/api/v1", "/openapi")) or path in ("/api", "/version")
            # The facades answer in their own dialects (Cloudflare says 403 for a missing credential).
            if response.status_code not in ((401,) if native else (401, 403)):
                failures.append((method, path, headers, response.status_code))
            elif native:
                body = response.json()
                if (body.get("kind"), body.get("reason"), body.get("code")) != ("Status", "Unauthorized", 401):
                    failures.append((method, path, headers, body))
            if "sas_wrong-token" in response.text:
                failures.append((method, path, "echoes the token"))
    assert failures == []
    assert state(srv) == before


def test_the_admin_token_is_accepted_in_each_header_form(srv):
    token = srv.admin_token
    for headers in ({"Authorization": f"Bearer {token}"}, {"Authorization": f"Token {token}"}):
        assert requests.get(srv.sv_url(), headers=headers, timeout=5).status_code == 200
    response = requests.get(srv.sv_url(), headers={"Authorization": "Bearer nope"}, timeout=5)
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
