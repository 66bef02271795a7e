"""Never a 500: odd bodies, content types and queries at every route the application registers."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import requests
from harness import secure_value

# Bodies a careless or hostile client might send.
ODD_BODIES = [
    b"",
    b"{",
    b"[]",
    b"null",
    b"1",
    b'"x"',
    b"\xff\xfe\x00",
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 900 + b"1" + b"}" * 900,
    b"- " * 900 + b"x\n",
    b"a: &x [1, 2]\nb: &y [*x, *x, *x, *x]\nc: [*y, *y, *y, *y]\n",
    b'{"metadata":[]}',
    b'{"metadata":{"name":5}}',
    b'{"metadata":{"name":"odd","labels":[1]}}',
    b'{"metadata":{"name":"odd","annotations":{"a":{}}}}',
    b'{"metadata":{"name":"odd","generateName":null}}',
    b'{"spec":[]}',
    b'{"spec":{"description":5,"value":5,"decrypters":"x","ref":[]}}',
    b'{"metadata":{"name":"odd"},"spec":{"description":1e999}}',
    b'{"metadata":{"name":"odd"},"status":5}',
    b'{"metadata":{"name":"odd","resourceVersion":"abc"},"spec":{"description":"d","value":"v"}}',
    b'{"metadata":{"name":"odd","managedFields":"x"},"spec":{"description":"d","value":"v"}}',
    b'{"metadata":{"name":"odd","managedFields":[{"manager":5}]},"spec":{"description":"d","value":"v"}}',
    b'{"metadata":{"name":"odd","ownerReferences":{}},"spec":{"description":"d","value":"v"}}',
    b'{"metadata":{"name":"odd","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"[1,"}},'
    b'"spec":{"description":"d","value":"v"}}',
    b'{"metadata":{"name":"odd"},"spec":{"description":"d","aws":"x","azure":[],"gcp":{"projectID":5}}}',
    b'[{"op":"bogus"}]',
    b'[{"op":"replace","path":"/spec/description","value":5}]',
    b'[{"op":"remove","path":"/metadata"}]',
    b'{"preconditions":"x"}',
    b'{"dryRun":"x"}',
    b'{"dryRun":["Nope"]}',
    b"a: &a [*a, *a]\n",
    b"!!binary AAAA\n",
    b"? [a, b]\n: c\n",
]
CONTENT_TYPES = [
    "application/json",
    "application/yaml",
    "text/plain",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
]
ODD_QUERIES = [
    "limit=-1",
    "limit=abc",
    "limit=99999999999999999999999",
    "continue=%25%25",
    "continue=eyJ9",
    "labelSelector=!!!",
    "labelSelector=a+in+(",
    "labelSelector=a%3D%3D%3Db",
    "fieldSelector=metadata.name",
    "fieldSelector=spec.value%3Dx",
    "resourceVersion=abc",
    "resourceVersion=-1",
    "resourceVersion=1&resourceVersionMatch=Exact",
    "resourceVersion=999999999&resourceVersionMatch=Exact",
    "resourceVersionMatch=Bogus",
    "watch=true&timeoutSeconds=abc",
    "watch=true&resourceVersion=abc&timeoutSeconds=1",
    "watch=true&timeoutSeconds=0.2",
    "fieldValidation=X",
    "dryRun=Bogus",
    "dryRun=All",
    "includeObject=X",
    "fieldManager=" + "m" * 200,
    "force=true",
    "fieldManager=%00",
    "pretty=maybe",
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _routes(tmp_path) -> list[str]:
    """Every path the application serves, with placeholders filled in."""
    from apiserver.app import create_app
    from apiserver.config import Settings

    app = create_app(Settings(data_dir=tmp_path / "routes", admin_token="x"))
    paths = set()
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if path:
            paths.add(re.sub(r"\{[^}]*\}", "odd", path.replace("{namespace}", "default")))
    for extra in (
        "/apis/secret.grafana.app/v1beta1/namespaces/missing/securevalues/odd",
        "/nowhere",
        "/apis/secret.grafana.app/v1beta1/namespaces/default/securevalues/a..b",
    ):
        paths.add(extra)
    return sorted(paths)


def test_no_request_gets_a_5xx(server, tmp_path):
    session = server.session
    assert session.post(server.sv_url(), json=secure_value("odd", value="odd-value")).status_code == 201
    routes = _routes(tmp_path)
    assert any(path.endswith("/securevalues/odd") for path in routes)
    failures = []

    def fire(method: str, path: str, **kwargs) -> None:
        try:
            headers = {**kwargs.pop("headers", {}), "Authorization": session.headers["Authorization"]}
            response = requests.request(method, server.url + path, timeout=10, headers=headers, **kwargs)
        except requests.RequestException as exc:
            failures.append((method, path, kwargs.get("params"), type(exc).__name__))
            return
        if response.status_code >= 500:
            failures.append((method, path, kwargs.get("params") or kwargs.get("data", b"")[:60], response.status_code))

    # Each (body, route) pair is sent once, with the method and content type rotated across routes, so
    # every body meets every method and content type somewhere without sending the full product.
    requests_to_send = []
    for j, path in enumerate(routes):
        for i, body in enumerate(ODD_BODIES):
            method, content_type = METHODS[(i + j) % len(METHODS)], CONTENT_TYPES[(i + 2 * j) % len(CONTENT_TYPES)]
            requests_to_send.append((method, path, {"data": body, "headers": {"Content-Type": content_type}}))
        for i, query in enumerate(ODD_QUERIES):
            requests_to_send.append(("GET", f"{path}?{query}", {}))
            write = METHODS[1 + (i + j) % 4]
            requests_to_send.append(
                (
                    write,
                    f"{path}?{query}",
                    {"data": b'{"metadata":{"name":"odd"}}', "headers": {"Content-Type": "application/json"}},
                )
            )
        for query in ODD_QUERIES[:6]:
            requests_to_send.append(
                ("GET", f"{path}?{query}", {"headers": {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}})
            )
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda r: fire(r[0], r[1], **r[2]), requests_to_send))
    assert [repr(failure)[:200] for failure in failures][:30] == []
    assert "unhandled" not in server.log()
    assert session.get(f"{server.url}/readyz").status_code == 200
