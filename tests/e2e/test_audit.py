"""The audit log: one JSON object per line for every write, decrypt and token operation; never a secret."""

from __future__ import annotations

import json

from harness import secure_value
from identities_support import TOKENS_PATH, audit_records, call, create_token

KEYS = {
    "time",
    "requestID",
    "subject",
    "serviceIdentity",
    "namespace",
    "resource",
    "name",
    "operation",
    "outcome",
    "reason",
}


def test_writes_and_token_operations_are_recorded_without_secrets(server):
    token, token_id = create_token(server, role="editor", subject="user:alice")
    created = call("POST", server.sv_url(), token, json=secure_value("audited", value="audit-value-1"))
    assert created.status_code == 201
    update = secure_value("audited", description="changed", value="audit-value-2")
    assert call("PUT", server.sv_url(name="audited"), token, json=update).status_code == 200
    assert call("DELETE", server.sv_url(name="audited"), token).status_code == 200
    assert call("POST", server.sv_url(), token, json=secure_value("audited", value="x")).status_code == 201
    duplicate = call("POST", server.sv_url(), token, json=secure_value("audited", value="audit-value-3"))
    assert duplicate.status_code == 409
    revoked = server.session.post(server.url + TOKENS_PATH + "/revoke", json={"token": token})
    assert revoked.status_code == 200

    records = audit_records(server.data_dir)
    assert all(set(r) == KEYS for r in records)
    mine = [
        (r["operation"], r["outcome"], r["reason"])
        for r in records
        if r["subject"] == "user:alice" and r["name"] == "audited"
    ]
    assert mine == [
        ("create", "success", ""),
        ("update", "success", ""),
        ("delete", "success", ""),
        ("create", "success", ""),
        ("create", "denied", "already exists"),
    ]
    first = next(r for r in records if r["subject"] == "user:alice")
    assert first["requestID"] == created.headers["X-Request-Id"]
    assert (first["namespace"], first["resource"], first["serviceIdentity"]) == ("default", "securevalues", "")
    tokens = [(r["operation"], r["subject"], r["name"]) for r in records if r["resource"] == "tokens"]
    assert tokens == [("token.create", "user:admin", token_id), ("token.revoke", "user:admin", token_id)]
    text = (server.data_dir / "audit.log").read_bytes()
    for secret in (b"audit-value-1", b"audit-value-2", b"audit-value-3", token.encode(), b"tokenHash"):
        assert secret not in text
    assert (server.data_dir / "audit.log").stat().st_mode & 0o077 == 0


def test_the_audit_log_can_go_to_standard_output(server_factory, tmp_path):
    server = server_factory(env={"APISERVER_AUDIT_LOG": "-"})
    assert server.session.post(server.sv_url(), json=secure_value("to-stdout", value="stdout-value")).status_code == 201
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert any(r["operation"] == "create" and r["name"] == "to-stdout" for r in lines)
    assert not (server.data_dir / "audit.log").exists()
    assert "stdout-value" not in server.log()
    elsewhere = tmp_path / "elsewhere.log"
    other = server_factory(env={"APISERVER_AUDIT_LOG": str(elsewhere)})
    assert other.session.post(other.sv_url(), json=secure_value("to-file", value="v")).status_code == 201
    assert any(json.loads(line)["name"] == "to-file" for line in elsewhere.read_text().splitlines())


def test_refused_writes_are_recorded_as_denied(server):
    token, _ = create_token(server, role="viewer", subject="user:bob")
    assert call("POST", server.sv_url(), token, json=secure_value("nope", value="never-stored-1")).status_code == 403
    server.session.post(server.sv_url(), json=secure_value("kept", value="kept-value"))
    assert call("PUT", server.sv_url(name="kept"), token, json=secure_value("kept", value="x")).status_code == 403
    patched = call(
        "PATCH",
        server.sv_url(name="kept"),
        token,
        data='{"metadata":{"labels":{"a":"b"}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 403
    assert call("DELETE", server.sv_url(name="kept"), token).status_code == 403
    activate = call("POST", server.keeper_url(name="system") + "/activate", token)
    assert activate.status_code == 403

    bob = [
        (r["operation"], r["resource"], r["name"], r["outcome"], r["reason"])
        for r in audit_records(server.data_dir)
        if r["subject"] == "user:bob"
    ]
    assert bob == [
        ("create", "securevalues", "nope", "denied", "Forbidden"),
        ("update", "securevalues", "kept", "denied", "Forbidden"),
        ("update", "securevalues", "kept", "denied", "Forbidden"),
        ("delete", "securevalues", "kept", "denied", "Forbidden"),
        ("activate", "keepers", "system", "denied", "Forbidden"),
    ]
