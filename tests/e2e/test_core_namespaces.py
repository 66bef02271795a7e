"""Namespaces are first-class, with stable facade IDs."""

from __future__ import annotations

import re

from core_support import assert_status, state
from harness import secure_value

ORG_ID = "compat.apiserver.local/influxdb-org-id"
ACCOUNT_ID = "compat.apiserver.local/cloudflare-account-id"


def ns_url(server, name: str = "") -> str:
    return f"{server.url}/api/v1/namespaces" + (f"/{name}" if name else "")


def test_default_exists_at_first_start_with_its_ids(server):
    response = server.session.get(ns_url(server, "default"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["apiVersion"] == "v1" and body["kind"] == "Namespace"
    assert body["metadata"]["annotations"][ORG_ID] == "0000000000000001"
    assert re.fullmatch("[0-9a-f]{32}", body["metadata"]["annotations"][ACCOUNT_ID])
    listed = server.session.get(ns_url(server)).json()
    assert listed["kind"] == "NamespaceList" and [i["metadata"]["name"] for i in listed["items"]] == ["default"]
    # A restart does not create it again.
    server.restart()
    assert server.session.get(ns_url(server, "default")).json()["metadata"]["uid"] == body["metadata"]["uid"]


def test_create_list_get_delete_and_stable_ids(server):
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "org-5", "annotations": {ORG_ID: "ffffffffffffffff", "team": "a"}},
    }
    created = server.session.post(ns_url(server), json=body)
    assert created.status_code == 201, created.text
    annotations = created.json()["metadata"]["annotations"]
    assert annotations[ORG_ID] == "0000000000000005"  # server-owned: the client's value is replaced
    assert annotations["team"] == "a" and re.fullmatch("[0-9a-f]{32}", annotations[ACCOUNT_ID])
    assert (
        annotations[ACCOUNT_ID]
        != server.session.get(ns_url(server, "default")).json()["metadata"]["annotations"][ACCOUNT_ID]
    )
    other = server.create_namespace("team-blue")
    assert re.fullmatch("[0-9a-f]{16}", other["metadata"]["annotations"][ORG_ID])
    assert [i["metadata"]["name"] for i in server.session.get(ns_url(server)).json()["items"]] == [
        "default",
        "org-5",
        "team-blue",
    ]
    assert server.session.get(ns_url(server, "org-5")).json() == created.json()
    assert_status(
        server.session.post(ns_url(server), json=body), 409, "AlreadyExists", 'namespaces "org-5" already exists'
    )

    deleted = server.session.delete(ns_url(server, "org-5"))
    assert deleted.status_code == 200 and deleted.json()["status"] == "Success"
    assert deleted.json()["details"] == {
        "name": "org-5",
        "kind": "namespaces",
        "uid": created.json()["metadata"]["uid"],
    }
    assert_status(server.session.get(ns_url(server, "org-5")), 404, "NotFound", 'namespaces "org-5" not found')
    again = server.create_namespace("org-5")
    assert again["metadata"]["annotations"][ORG_ID] == "0000000000000005"
    assert again["metadata"]["annotations"][ACCOUNT_ID] == annotations[ACCOUNT_ID]
    assert again["metadata"]["uid"] != created.json()["metadata"]["uid"]


def test_resources_need_an_existing_namespace(server):
    before = state(server)
    for url in (server.sv_url("missing"), server.keeper_url("missing")):
        body = (
            secure_value("x")
            if "securevalues" in url
            else {
                "metadata": {"name": "x"},
                "spec": {"description": "d", "gcp": {"projectID": "p", "credentialsFile": "f"}},
            }
        )
        response = assert_status(server.session.post(url, json=body), 404, "NotFound", 'namespaces "missing" not found')
        assert response["details"]["name"] == "missing" and response["details"]["kind"] == "namespaces"
    assert state(server) == before


def test_a_namespace_holding_values_or_keepers_cannot_be_deleted(server):
    server.create_namespace("busy")
    server.session.post(server.sv_url("busy"), json=secure_value("v"))
    before = state(server)
    assert_status(
        server.session.delete(ns_url(server, "busy")),
        409,
        "Conflict",
        'Operation cannot be fulfilled on namespaces "busy": '
        'the namespace still holds securevalues "v"; delete them first',
    )
    assert state(server) == before
    server.session.delete(server.sv_url("busy", "v"))
    server.session.post(
        server.keeper_url("busy"),
        json={
            "metadata": {"name": "k"},
            "spec": {"description": "d", "gcp": {"projectID": "p", "credentialsFile": "f"}},
        },
    )
    assert_status(server.session.delete(ns_url(server, "busy")), 409, "Conflict")
    server.session.delete(server.keeper_url("busy", "k"))
    assert server.session.delete(ns_url(server, "busy")).status_code == 200
    assert_status(server.session.post(server.sv_url("busy"), json=secure_value("v")), 404, "NotFound")


def test_default_cannot_be_deleted_and_names_are_labels(server):
    before = state(server)
    assert_status(
        server.session.delete(ns_url(server, "default")),
        403,
        "Forbidden",
        'namespaces "default" is forbidden: this namespace may not be deleted',
    )
    response = assert_status(server.session.post(ns_url(server), json={"metadata": {"name": "a.b"}}), 422, "Invalid")
    assert (
        response["message"] == 'Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots'
    )
    assert state(server) == before
