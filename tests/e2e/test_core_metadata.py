"""Object metadata with Kubernetes semantics, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from core_support import assert_status, causes, state
from harness import secure_value

SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]{5}"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@pytest.fixture(scope="module")
def srv(shared_server):
    return shared_server


def test_generate_name_and_default_prefixes(srv):
    body = secure_value(value="g")
    body["metadata"]["generateName"] = "db-password-"
    created = srv.session.post(srv.sv_url(), json=body).json()
    assert re.fullmatch(f"db-password-{SUFFIX}", created["metadata"]["name"])
    assert created["metadata"]["generateName"] == "db-password-"
    defaulted = srv.session.post(srv.sv_url(), json=secure_value(value="g")).json()
    assert re.fullmatch(f"sv-{SUFFIX}", defaulted["metadata"]["name"])
    keeper = srv.session.post(
        srv.keeper_url(),
        json={"spec": {"description": "k", "gcp": {"projectID": "p", "credentialsFile": "/etc/creds.json"}}},
    )
    assert keeper.status_code == 201, keeper.text
    assert re.fullmatch(f"kp-{SUFFIX}", keeper.json()["metadata"]["name"])
    # The name wins over generateName; both are kept as given.
    body = secure_value("explicit", value="g")
    body["metadata"]["generateName"] = "ignored-"
    assert srv.session.post(srv.sv_url(), json=body).json()["metadata"]["name"] == "explicit"


def test_generated_names_are_collision_checked(tmp_path, monkeypatch):
    """Service layer: a generated name that is already taken is drawn again, not a 409."""
    from apiserver.app import SYSTEM, build_components
    from apiserver.config import Settings
    from apiserver.machinery import registry as registry_module
    from apiserver.machinery.context import RequestContext

    draws = iter(["dup-aaaaa", "dup-aaaaa", "dup-bbbbb"])
    monkeypatch.setattr(registry_module, "generate_name", lambda prefix: next(draws))

    async def run() -> list[str]:
        components = build_components(Settings(data_dir=tmp_path / "data", admin_token="x"))
        await components.store.open()
        try:
            ctx = RequestContext(SYSTEM)
            await components.namespaces.create(ctx, "", {"metadata": {"name": "default"}})
            names = []
            for _ in range(2):
                obj = await components.secure_values.create(
                    ctx, "default", {"metadata": {"generateName": "dup-"}, "spec": {"description": "d", "value": "v"}}
                )
                names.append(obj["metadata"]["name"])
            return names
        finally:
            await components.store.close()

    assert asyncio.run(run()) == ["dup-aaaaa", "dup-bbbbb"]


def test_server_set_fields_sent_by_clients_are_ignored(srv):
    body = secure_value("server-set", value="x")
    body["metadata"].update(
        uid="11111111-1111-1111-1111-111111111111",
        resourceVersion="",
        generation=42,
        creationTimestamp="2000-01-01T00:00:00Z",
        selfLink="/x",
        deletionTimestamp="2000-01-01T00:00:00Z",
    )
    body["status"] = {"version": 9, "keeper": "elsewhere", "externalID": "x"}
    created = srv.session.post(srv.sv_url(), json=body).json()
    meta = created["metadata"]
    assert meta["uid"] != "11111111-1111-1111-1111-111111111111" and meta["generation"] == 1
    assert meta["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert "selfLink" not in meta and "deletionTimestamp" not in meta
    assert created["status"] == {"version": 1, "keeper": "system", "externalID": ""}
    update = secure_value("server-set", value=None, description="changed")
    update["metadata"].update(
        uid="22222222-2222-2222-2222-222222222222", generation=7, creationTimestamp="2001-01-01T00:00:00Z"
    )
    update["status"] = {"version": 99, "keeper": "elsewhere"}
    updated = srv.session.put(srv.sv_url(name="server-set"), json=update).json()
    assert updated["metadata"]["uid"] == meta["uid"]
    assert updated["metadata"]["creationTimestamp"] == meta["creationTimestamp"]
    assert updated["metadata"]["generation"] == 2
    assert updated["status"] == {"version": 2, "keeper": "system", "externalID": ""}


def test_labels_and_annotations_are_stored_verbatim(srv):
    labels = {"app.kubernetes.io/name": "billing", "tier": "", "v": "x" * 63, "Upper_Case.ok": "A-b_c.9"}
    annotations = {
        "example.com/notes": 'línea 1\nline 2 — "quoted" {json: [1]}',
        "empty": "",
        "Example.COM/Mixed": "  spaces kept  ",
    }
    body = secure_value("verbatim", value="x", labels=labels)
    body["metadata"]["annotations"] = annotations
    created = srv.session.post(srv.sv_url(), json=body)
    assert created.status_code == 201, created.text
    got = srv.session.get(srv.sv_url(name="verbatim")).json()["metadata"]
    assert got["labels"] == labels and got["annotations"] == annotations


def test_annotations_up_to_256_kib(srv):
    limit = 256 * 1024
    value = "x" * (limit - len("big"))
    body = secure_value("annotations-at-limit", value="x")
    body["metadata"]["annotations"] = {"big": value}
    assert srv.session.post(srv.sv_url(), json=body).status_code == 201
    before = state(srv)
    body = secure_value("annotations-over", value="x")
    body["metadata"]["annotations"] = {"big": value + "é"}
    response = assert_status(srv.session.post(srv.sv_url(), json=body), 422, "Invalid")
    assert causes(response) == [
        ("metadata.annotations", "FieldValueTooLong", "Too long: may not be more than 262144 bytes")
    ]
    assert state(srv) == before


def test_last_applied_configuration_is_stored_without_the_value(srv):
    manifest = secure_value("applied", value="la-secret-8f2b1c", labels={"team": "sre"})
    manifest["metadata"]["annotations"] = {"note": "kept"}
    body = json.loads(json.dumps(manifest))
    body["metadata"]["annotations"][LAST_APPLIED] = json.dumps(manifest)
    created = srv.session.post(srv.sv_url(), json=body)
    assert created.status_code == 201, created.text
    assert "la-secret-8f2b1c" not in created.text
    stored = srv.session.get(srv.sv_url(name="applied")).json()
    applied = json.loads(stored["metadata"]["annotations"][LAST_APPLIED])
    assert "value" not in applied["spec"]
    assert applied["spec"]["description"] == "a test value" and applied["metadata"]["labels"] == {"team": "sre"}
    assert stored["metadata"]["annotations"]["note"] == "kept"
    # The same on update, and through YAML.
    manifest["spec"]["value"] = "la-secret-second"
    body["spec"]["value"] = "la-secret-second"
    body["metadata"]["annotations"][LAST_APPLIED] = json.dumps(manifest)
    updated = srv.session.put(srv.sv_url(name="applied"), json=body)
    assert updated.status_code == 200 and "la-secret-second" not in updated.text
    assert "value" not in json.loads(updated.json()["metadata"]["annotations"][LAST_APPLIED])["spec"]
    assert updated.json()["status"]["version"] == 2


def test_uid_and_creation_timestamp_are_stable_and_resource_version_is_the_revision(srv):
    first = srv.session.post(srv.sv_url(), json=secure_value("stable", value="1")).json()
    listed = srv.session.get(srv.sv_url()).json()
    assert int(listed["metadata"]["resourceVersion"]) >= int(first["metadata"]["resourceVersion"])
    second = srv.session.put(srv.sv_url(name="stable"), json=secure_value("stable", value="2")).json()
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert second["apiVersion"] == "secret.grafana.app/v1beta1" and second["kind"] == "SecureValue"
    assert list(second)[:3] == ["apiVersion", "kind", "metadata"]
