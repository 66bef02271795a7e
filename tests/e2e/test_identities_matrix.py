"""The permission matrix: every native route and verb x every kind of caller gives the documented status.

Callers: no token, an unknown, an expired and a revoked token, a viewer, an editor and an admin of
`default`-or-all, an editor of another namespace, a token scoped to one name by explicit Grafana
permissions, and a service token (viewer role plus the service identity `sm`). Each caller works on
objects of its own (`m-KIND`, `k-KIND`, `tmp-KIND`), so write verbs can be checked for real.
"""

from __future__ import annotations

import json
import time

import pytest
from harness import GROUP_PATH, Server, secure_value
from identities_support import TOKENS_PATH, call, create_token, revoke_token

KINDS = ("none", "unknown", "expired", "revoked", "viewer", "editor", "admin", "other", "scoped", "service")
GOOD = ("viewer", "editor", "admin", "other", "scoped", "service")
MERGE = {"Content-Type": "application/merge-patch+json"}


def keeper(name: str, description: str = "a keeper") -> dict:
    return {
        "apiVersion": "secret.grafana.app/v1beta1",
        "kind": "Keeper",
        "metadata": {"name": name},
        "spec": {
            "description": description,
            "aws": {
                "region": "us-east-1",
                "assumeRole": {"assumeRoleArn": "arn:aws:iam::123456789012:role/secrets", "externalID": "x"},
            },
        },
    }


@pytest.fixture(scope="module")
def matrix_server(tmp_path_factory):
    # Far more rejected credentials than the default limit come from this one address on purpose.
    server = Server(tmp_path_factory.mktemp("matrix") / "data", env={"APISERVER_AUTH_FAILURE_LIMIT": "100000"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def callers(matrix_server) -> dict[str, str | None]:
    server = matrix_server
    server.create_namespace("team-b")
    for kind in KINDS:
        body = secure_value(f"m-{kind}", value=f"matrix-{kind}", decrypters=["sm"], labels={"case": kind})
        assert server.session.post(server.sv_url(), json=body).status_code == 201
        assert server.session.post(server.keeper_url(), json=keeper(f"k-{kind}")).status_code == 201
        server.create_namespace(f"tmp-{kind}")
    assert server.session.post(server.sv_url("team-b"), json=secure_value("b-1")).status_code == 201
    scoped = [
        {"action": f"secret.securevalues:{verb}", "scope": "secret.securevalues:uid:m-scoped"}
        for verb in ("read", "write", "delete")
    ]
    tokens: dict[str, str | None] = {
        "none": None,
        "unknown": "sas_this-token-was-never-issued-0000000000000",
        "viewer": create_token(server, role="viewer")[0],
        "editor": create_token(server, role="editor")[0],
        "admin": create_token(server, role="admin", namespaces=["*"])[0],
        "other": create_token(server, role="editor", namespaces=["team-b"])[0],
        "scoped": create_token(server, permissions=scoped)[0],
        "service": create_token(server, role="viewer", serviceIdentity="sm")[0],
    }
    tokens["expired"] = create_token(server, role="admin", expiresIn="1s")[0]
    tokens["revoked"], revoked_id = create_token(server, role="admin")
    revoke_token(server, revoked_id)
    time.sleep(2.1)  # the expired token's second is over
    return tokens


def operations(server: Server, kind: str) -> list[tuple[str, str, str, dict]]:
    """(label, method, url, request kwargs), in an order where each write finds its object."""
    sv, kp, ns = server.sv_url(), server.keeper_url(), f"{server.url}/api/v1/namespaces"
    item = f"{sv}/m-{kind}"
    return [
        ("sv list", "GET", sv, {}),
        ("sv watch", "GET", sv, {"params": {"watch": "1", "timeoutSeconds": "1"}}),
        ("sv list all", "GET", f"{server.url}{GROUP_PATH}/securevalues", {}),
        ("sv get", "GET", item, {}),
        (
            "sv put",
            "PUT",
            item,
            {
                "json": secure_value(
                    f"m-{kind}", description="updated", value=None, decrypters=["sm"], labels={"case": kind}
                )
            },
        ),
        ("sv patch", "PATCH", item, {"data": '{"metadata":{"labels":{"p":"1"}}}', "headers": MERGE}),
        ("sv decrypt", "POST", f"{item}/decrypt", {}),
        (
            "sv decrypt batch",
            "POST",
            f"{server.url}{GROUP_PATH}/namespaces/default/decrypt",
            {"json": {"names": [f"m-{kind}"]}},
        ),
        ("sv create", "POST", sv, {"json": secure_value(f"n-{kind}", labels={"case": kind})}),
        ("sv delete", "DELETE", item, {}),
        ("sv deletecollection", "DELETE", sv, {"params": {"labelSelector": f"case={kind}"}}),
        ("kp list", "GET", kp, {}),
        ("kp get", "GET", f"{kp}/k-{kind}", {}),
        ("kp create", "POST", kp, {"json": keeper(f"kn-{kind}")}),
        ("kp put", "PUT", f"{kp}/k-{kind}", {"json": keeper(f"k-{kind}", "updated")}),
        ("kp patch", "PATCH", f"{kp}/k-{kind}", {"data": '{"metadata":{"labels":{"p":"1"}}}', "headers": MERGE}),
        ("kp activate", "POST", f"{kp}/system/activate", {}),
        ("kp delete", "DELETE", f"{kp}/k-{kind}", {}),
        ("kp deletecollection", "DELETE", kp, {"params": {"labelSelector": "none=none"}}),
        ("ns list", "GET", ns, {}),
        ("ns get own", "GET", f"{ns}/default", {}),
        ("ns get team-b", "GET", f"{ns}/team-b", {}),
        ("ns create", "POST", ns, {"json": {"metadata": {"name": f"new-{kind}"}}}),
        (
            "ns put",
            "PUT",
            f"{ns}/tmp-{kind}",
            {
                "json": {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": f"tmp-{kind}", "labels": {"a": "b"}},
                }
            },
        ),
        ("ns patch", "PATCH", f"{ns}/tmp-{kind}", {"data": '{"metadata":{"labels":{"p":"1"}}}', "headers": MERGE}),
        ("ns delete", "DELETE", f"{ns}/tmp-{kind}", {}),
        ("tokens list", "GET", server.url + TOKENS_PATH, {}),
        ("tokens create", "POST", server.url + TOKENS_PATH, {"json": {"namespaces": ["default"], "role": "viewer"}}),
        ("tokens revoke", "POST", f"{server.url}{TOKENS_PATH}/revoke", {"json": {"id": "tok-0000000000000000"}}),
    ]


SV_ALL = {
    "sv list": 200,
    "sv watch": 200,
    "sv list all": 200,
    "sv get": 200,
    "sv put": 200,
    "sv patch": 200,
    "sv create": 201,
    "sv delete": 200,
    "sv deletecollection": 200,
}
READS = {
    "sv list": 200,
    "sv watch": 200,
    "sv list all": 200,
    "sv get": 200,
    "kp list": 200,
    "kp get": 200,
    "ns list": 200,
    "ns get own": 200,
}


def expected(kind: str, label: str) -> int:
    if kind in ("none", "unknown", "expired", "revoked"):
        return 401
    if label == "sv decrypt batch":
        return 200  # refusals are per name, inside the answer (test_decrypt checks them)
    if kind == "admin":
        allowed = {
            **SV_ALL,
            "kp create": 201,
            "ns create": 201,
            "tokens create": 201,
            "tokens revoke": 404,
            "sv decrypt": 403,
        }  # admins are users: no decrypt
        return allowed.get(label, 200)
    table = {
        "viewer": READS,
        "service": {**READS, "sv decrypt": 200},
        "editor": {**READS, **SV_ALL},
        "other": {"sv list all": 200, "ns list": 200, "ns get team-b": 200},
        "scoped": {**{k: v for k, v in SV_ALL.items() if k != "sv create"}, "ns list": 200, "ns get own": 200},
    }[kind]
    return table.get(label, 403)


def test_every_route_and_verb_for_every_caller(matrix_server, callers):
    server = matrix_server
    wrong = []
    for kind in KINDS:
        for label, method, url, kwargs in operations(server, kind):
            response = call(method, url, callers[kind], stream=True, **kwargs)
            status = response.status_code
            body = response.content  # a watch ends after timeoutSeconds
            want = expected(kind, label)
            if status != want:
                wrong.append(f"{kind:8} {label:20} got {status} want {want}: {body[:160]!r}")
            elif status == 403 and label != "sv decrypt":
                message = response.json()["message"]
                assert "is forbidden: User " in message and "cannot " in message, message
            elif status == 401:
                assert response.json()["reason"] == "Unauthorized"
    assert not wrong, "\n".join(wrong)


def test_forbidden_message_names_subject_verb_resource_and_namespace(matrix_server, callers):
    response = call("DELETE", matrix_server.sv_url(name="m-viewer"), callers["viewer"])
    assert response.status_code == 403
    status = response.json()
    assert status["reason"] == "Forbidden"
    assert status["message"].startswith('securevalues.secret.grafana.app "m-viewer" is forbidden: User "user:tok-')
    assert status["message"].endswith(
        'cannot delete resource "securevalues" in API group "secret.grafana.app" in the namespace "default"'
    )


def _names(response) -> set[tuple[str, str]]:
    assert response.status_code == 200, response.text
    return {(i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in response.json()["items"]}


def test_lists_never_show_what_the_caller_may_not_get(matrix_server, callers):
    server = matrix_server
    group = f"{server.url}{GROUP_PATH}"
    collections = [
        (server.sv_url(), "securevalues"),
        (f"{group}/securevalues", "securevalues"),
        (server.keeper_url(), "keepers"),
        (f"{server.url}/api/v1/namespaces", "namespaces"),
    ]
    server.session.post(server.sv_url(), json=secure_value("m-scoped", labels={"case": "x"}))  # deleted above
    for url, resource in collections:
        everything = _names(server.session.get(url))
        assert len(everything) > 1
        for kind in GOOD:
            token = callers[kind]
            listed = call("GET", url, token)
            if listed.status_code == 403:
                continue
            shown = _names(listed)
            gettable = set()
            for namespace, name in everything:
                item = (
                    f"{server.url}/api/v1/namespaces/{name}"
                    if resource == "namespaces"
                    else f"{group}/namespaces/{namespace}/{resource}/{name}"
                )
                if call("GET", item, token).status_code == 200:
                    gettable.add((namespace, name))
            assert shown == gettable, (kind, url, shown ^ gettable)
    scoped = _names(call("GET", server.sv_url(), callers["scoped"]))
    assert scoped == {("default", "m-scoped")}
    watched = call("GET", server.sv_url(), callers["scoped"], params={"watch": "1", "timeoutSeconds": "1"})
    events = [json.loads(line) for line in watched.text.splitlines()]
    assert {(e["type"], e["object"]["metadata"]["name"]) for e in events} == {("ADDED", "m-scoped")}
    other = _names(call("GET", f"{group}/securevalues", callers["other"]))
    assert other == {("team-b", "b-1")}
    namespaces = _names(call("GET", f"{server.url}/api/v1/namespaces", callers["viewer"]))
    assert namespaces == {("", "default")}
