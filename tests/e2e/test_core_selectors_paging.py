"""Label and field selectors, and paging from one snapshot, over real HTTP."""

from __future__ import annotations

import time

import pytest
from core_support import assert_status
from harness import GROUP_PATH, secure_value

OBJECTS = {
    "a": ({"env": "prod", "tier": "web"}, ["grafana"]),
    "b": ({"env": "dev", "tier": "web"}, ["grafana", "k6"]),
    "c": ({"env": "prod"}, ["k6"]),
    "d": ({"tier": "db"}, []),
    "e": ({}, None),
}
EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


@pytest.fixture(scope="module")
def srv(shared_server):
    shared_server.create_namespace("sel")
    shared_server.create_namespace("sel-other")
    for name, (labels, decrypters) in OBJECTS.items():
        response = shared_server.session.post(
            shared_server.sv_url("sel"), json=secure_value(name, labels=labels, decrypters=decrypters)
        )
        assert response.status_code == 201, response.text
    shared_server.session.post(
        shared_server.sv_url("sel-other"), json=secure_value("a", labels={"env": "prod"}, decrypters=["grafana"])
    )
    return shared_server


def names(srv, namespace="sel", **params) -> list[str]:
    response = srv.session.get(srv.sv_url(namespace), params=params)
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "SecureValueList"
    return [item["metadata"]["name"] for item in response.json()["items"]]


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("env=prod", "ac"),
        ("env==prod", "ac"),
        ("env!=prod", "bde"),
        ("env in (prod,dev)", "abc"),
        ("env in ( prod , dev )", "abc"),
        ("env notin (prod)", "bde"),
        ("env", "abc"),
        ("!env", "de"),
        ("env=prod,tier=web", "a"),
        ("tier,!env", "d"),
        ("env in (prod),tier notin (db)", "ac"),
        ("tier notin (web,db)", "ce"),
        ("env=staging", ""),
        ("", "abcde"),
    ],
)
def test_label_selector_grammar(srv, selector, expected):
    assert names(srv, labelSelector=selector) == list(expected)


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("metadata.name=a", "a"),
        ("metadata.name==b", "b"),
        ("metadata.name!=a", "bcde"),
        ("metadata.namespace=sel", "abcde"),
        ("metadata.namespace=sel-other", ""),
        ("spec.decrypter=grafana", "ab"),
        ("spec.decrypter=k6,metadata.name!=b", "c"),
        ("spec.decrypter!=grafana", "cde"),
        ("spec.decrypter=nobody", ""),
    ],
)
def test_field_selectors(srv, selector, expected):
    assert names(srv, fieldSelector=selector) == list(expected)


def test_selectors_on_the_all_namespaces_list(srv):
    response = srv.session.get(
        f"{srv.url}{GROUP_PATH}/securevalues",
        params={"labelSelector": "env=prod", "fieldSelector": "spec.decrypter=grafana"},
    )
    body = response.json()
    assert body["kind"] == "SecureValueList" and body["apiVersion"] == "secret.grafana.app/v1beta1"
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in body["items"]] == [
        ("sel", "a"),
        ("sel-other", "a"),
    ]
    scoped = srv.session.get(f"{srv.url}{GROUP_PATH}/securevalues", params={"fieldSelector": "metadata.namespace=sel"})
    assert {i["metadata"]["namespace"] for i in scoped.json()["items"]} == {"sel"}
    assert all(i["kind"] == "SecureValue" if "kind" in i else True for i in body["items"])


@pytest.mark.parametrize(
    "param, value",
    [
        ("labelSelector", "env in (prod"),
        ("labelSelector", "=prod"),
        ("labelSelector", "env prod"),
        ("labelSelector", "env in prod"),
        ("labelSelector", "-bad-=x"),
        ("labelSelector", "env=in valid"),
        ("fieldSelector", "spec.foo=1"),
        ("fieldSelector", "metadata.name"),
        ("fieldSelector", "spec.value=x"),
        ("fieldSelector", "metadata.name in (a)"),
        ("limit", "x"),
        ("limit", "-1"),
        ("continue", "garbage"),
    ],
)
def test_unparsable_selectors_and_options_are_400(srv, param, value):
    assert_status(srv.session.get(srv.sv_url("sel"), params={param: value}), 400, "BadRequest")


def _page(srv, namespace="sel-paging", **params) -> dict:
    response = srv.session.get(srv.sv_url(namespace), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_pages_come_from_one_snapshot_despite_concurrent_writes(srv):
    srv.create_namespace("sel-paging")
    for i in range(10):
        body = secure_value(f"p-{i:02d}", labels={"set": "paging"}, value=f"v{i}")
        assert srv.session.post(srv.sv_url("sel-paging"), json=body).status_code == 201
    first = _page(srv, limit=3)
    snapshot_rv = first["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in first["items"]] == ["p-00", "p-01", "p-02"]
    old_p08 = srv.session.get(srv.sv_url("sel-paging", "p-08")).json()

    # Writes between pages: a delete ahead of the cursor, a create ahead of it, an update ahead of it.
    assert srv.session.delete(srv.sv_url("sel-paging", "p-05")).status_code == 200
    assert srv.session.post(srv.sv_url("sel-paging"), json=secure_value("p-045")).status_code == 201
    changed = secure_value("p-08", value=None, description="changed", labels={"set": "paging"})
    assert srv.session.put(srv.sv_url("sel-paging", "p-08"), json=changed).status_code == 200

    seen, token, pages = [i["metadata"]["name"] for i in first["items"]], first["metadata"]["continue"], 1
    bodies = {}
    while token:
        page = _page(srv, limit=3, **{"continue": token})
        assert page["metadata"]["resourceVersion"] == snapshot_rv
        seen += [i["metadata"]["name"] for i in page["items"]]
        bodies.update({i["metadata"]["name"]: i for i in page["items"]})
        token = page["metadata"].get("continue")
        pages += 1
    assert pages == 4
    assert seen == [f"p-{i:02d}" for i in range(10)]  # the snapshot: p-05 still there, p-045 not yet
    assert bodies["p-08"] == old_p08
    fresh = _page(srv)
    assert [i["metadata"]["name"] for i in fresh["items"]] == [
        "p-00",
        "p-01",
        "p-02",
        "p-03",
        "p-04",
        "p-045",
        "p-06",
        "p-07",
        "p-08",
        "p-09",
    ]
    assert next(i for i in fresh["items"] if i["metadata"]["name"] == "p-08")["spec"]["description"] == "changed"


def test_paging_with_a_selector_and_across_namespaces(srv):
    pages, token = [], None
    while True:
        params = {"limit": 2, "labelSelector": "env"}
        if token:
            params["continue"] = token
        body = srv.session.get(f"{srv.url}{GROUP_PATH}/securevalues", params=params).json()
        pages.append([(i["metadata"]["namespace"], i["metadata"]["name"]) for i in body["items"]])
        token = body["metadata"].get("continue")
        if not token:
            break
    assert pages == [[("sel", "a"), ("sel", "b")], [("sel", "c"), ("sel-other", "a")]]


def test_continue_tokens_are_tamper_evident_and_bound_to_the_query(srv):
    token = _page(srv, "sel", limit=2)["metadata"]["continue"]
    for tampered in (
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        token[1:],
        "x" + token,
        token.replace(token[5], "A" if token[5] != "A" else "B", 1),
    ):
        assert_status(srv.session.get(srv.sv_url("sel"), params={"limit": 2, "continue": tampered}), 400, "BadRequest")
    # The same token with another selector is refused, not silently applied to a different query.
    assert_status(
        srv.session.get(srv.sv_url("sel"), params={"limit": 2, "continue": token, "labelSelector": "env=prod"}),
        400,
        "BadRequest",
    )
    assert [i["metadata"]["name"] for i in _page(srv, "sel", limit=2, **{"continue": token})["items"]] == ["c", "d"]


def test_expired_continue_token_is_410(server_factory):
    # The TTL's boundaries are tested on an injected clock (tests/unit/test_continuation.py); here, end to end.
    server = server_factory("--continue-ttl-seconds", "1")
    for name in "abc":
        server.session.post(server.sv_url(), json=secure_value(name))
    token = server.session.get(server.sv_url(), params={"limit": 1}).json()["metadata"]["continue"]
    assert server.session.get(server.sv_url(), params={"limit": 1, "continue": token}).status_code == 200
    time.sleep(1.2)
    assert_status(server.session.get(server.sv_url(), params={"limit": 1, "continue": token}), 410, "Expired", EXPIRED)


def test_continue_token_past_the_event_window_is_410(server_factory):
    server = server_factory("--event-window", "2")
    for name in "abc":
        server.session.post(server.sv_url(), json=secure_value(name))
    token = server.session.get(server.sv_url(), params={"limit": 1}).json()["metadata"]["continue"]
    for i in range(6):  # enough writes for the snapshot's revision to leave the window
        server.session.put(server.sv_url(name="c"), json=secure_value("c", description=f"d{i}"))
    assert_status(server.session.get(server.sv_url(), params={"limit": 1, "continue": token}), 410, "Expired", EXPIRED)
