"""The audited decrypt path: who may decrypt what, the exact refusals, and the audit trail."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from harness import GROUP_PATH, Server, files_containing, secure_value
from identities_support import audit_records, call, create_token, revoke_token

VALUE = "decrypt-me-7c1f0e"
OTHER_VALUE = "not-for-you-93ab2d"


def decrypt_url(server: Server, name: str, namespace: str = "default") -> str:
    return f"{server.sv_url(namespace, name)}/decrypt"


def batch_url(server: Server, namespace: str = "default") -> str:
    return f"{server.url}{GROUP_PATH}/namespaces/{namespace}/decrypt"


def refused(response, message: str) -> None:
    assert response.status_code == 403, response.text
    status = response.json()
    assert (status["kind"], status["reason"], status["message"]) == ("Status", "Forbidden", message)


@pytest.fixture(scope="module")
def decrypt_server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("decrypt") / "data")
    server.start()
    server.create_namespace("team-b")
    for namespace in ("default", "team-b"):
        body = secure_value("db-password", value=VALUE, decrypters=["synthetic-monitoring", "k6"])
        assert server.session.post(server.sv_url(namespace), json=body).status_code == 201
    body = secure_value("k6-only", value=OTHER_VALUE, decrypters=["k6"])
    assert server.session.post(server.sv_url(), json=body).status_code == 201
    yield server
    server.stop()


def test_the_named_identity_decrypts(decrypt_server):
    token, _ = create_token(decrypt_server, serviceIdentity="synthetic-monitoring")
    for body in (None, {}):
        response = call("POST", decrypt_url(decrypt_server, "db-password"), token, json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {"value": VALUE}
        assert response.headers["Cache-Control"] == "no-store"


def test_refusals_say_only_not_found_or_not_authorized(decrypt_server):
    server = decrypt_server
    sm, _ = create_token(server, serviceIdentity="synthetic-monitoring")
    refused(call("POST", decrypt_url(server, "k6-only"), sm), "not authorized")  # identity not in decrypters
    refused(call("POST", decrypt_url(server, "no-such-value"), sm), "not found")
    refused(call("POST", decrypt_url(server, "db-password", "team-b"), sm), "not authorized")  # other namespace
    refused(call("POST", decrypt_url(server, "db-password", "no-such-namespace"), sm), "not authorized")


def test_users_never_decrypt_whatever_their_role(decrypt_server):
    server = decrypt_server
    admin, _ = create_token(server, role="admin", namespaces=["*"])
    for token in (admin, server.admin_token):
        refused(call("POST", decrypt_url(server, "db-password"), token), "not authorized")
        refused(call("POST", decrypt_url(server, "no-such-value"), token), "not authorized")  # no existence oracle
        body = call("POST", batch_url(server), token, json={"names": ["db-password"]}).json()
        assert body == {"decryptedValues": {"db-password": {"errorMessage": "not authorized"}}}


def test_the_decrypt_permission_is_needed_and_a_wildcard_verb_does_not_count(decrypt_server):
    server = decrypt_server
    without, _ = create_token(server, serviceIdentity="synthetic-monitoring", decryptPermissions=[], role="admin")
    wildcard, _ = create_token(
        server, serviceIdentity="synthetic-monitoring", decryptPermissions=["secret.grafana.app/securevalues:*"]
    )
    other_name, _ = create_token(
        server, serviceIdentity="k6", decryptPermissions=["secret.grafana.app/securevalues/k6-only:decrypt"]
    )
    elsewhere, _ = create_token(server, serviceIdentity="synthetic-monitoring", namespaces=["team-b"])
    for token in (without, wildcard, other_name, elsewhere):
        refused(call("POST", decrypt_url(server, "db-password"), token), "not authorized")
    response = call("POST", decrypt_url(server, "k6-only"), other_name)  # the one name it was narrowed to
    assert response.json() == {"value": OTHER_VALUE}
    response = call("POST", decrypt_url(server, "db-password", "team-b"), elsewhere)
    assert response.json() == {"value": VALUE}


def test_a_revoked_service_token_is_refused_at_the_next_request(decrypt_server):
    server = decrypt_server
    token, token_id = create_token(server, serviceIdentity="synthetic-monitoring")
    assert call("POST", decrypt_url(server, "db-password"), token).status_code == 200
    revoke_token(server, token_id)
    response = call("POST", decrypt_url(server, "db-password"), token)
    assert response.status_code == 401 and VALUE not in response.text


def test_the_batch_route_mixes_results(decrypt_server):
    server = decrypt_server
    token, _ = create_token(server, serviceIdentity="synthetic-monitoring")
    names = ["db-password", "k6-only", "missing", "db-password", ""]
    response = call("POST", batch_url(server), token, json={"names": names})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "decryptedValues": {
            "db-password": {"value": VALUE},
            "k6-only": {"errorMessage": "not authorized"},
            "missing": {"errorMessage": "not found"},
        }
    }
    for bad in ({"names": "db-password"}, {"names": [1]}, [], {"other": []}):
        assert call("POST", batch_url(server), token, json=bad).status_code == 400
    assert call("POST", batch_url(server), token, data="{not json").status_code == 400
    assert call("POST", decrypt_url(server, "db-password"), token, json=[1]).status_code == 400


def test_every_attempt_is_audited_and_no_value_reaches_a_log(decrypt_server):
    server = decrypt_server
    token, _ = create_token(server, serviceIdentity="synthetic-monitoring")
    attempts = [
        ("db-password", "success", ""),
        ("k6-only", "denied", "not authorized"),
        ("missing", "denied", "not found"),
    ]
    request_ids = {}
    for name, _, _ in attempts:
        response = call("POST", decrypt_url(server, name), token)
        request_ids[name] = response.headers["X-Request-Id"]
    records = {r["requestID"]: r for r in audit_records(server.data_dir) if r["operation"] == "decrypt"}
    for name, outcome, reason in attempts:
        record = records[request_ids[name]]
        assert record == {
            **record,
            "subject": "synthetic-monitoring",
            "serviceIdentity": "synthetic-monitoring",
            "namespace": "default",
            "resource": "securevalues",
            "name": name,
            "outcome": outcome,
            "reason": reason,
        }
        assert set(record) == {
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
    for needle in (VALUE, OTHER_VALUE, token):
        assert files_containing(server.data_dir, needle.encode()) == []
        assert needle not in server.log()


def test_a_corrupted_ciphertext_is_a_500_decryption_failed(server_factory):
    server = server_factory()
    for name in ("intact", "damaged"):
        body = secure_value(name, value=f"{name}-{VALUE}", decrypters=["synthetic-monitoring"])
        assert server.session.post(server.sv_url(), json=body).status_code == 201
    token, _ = create_token(server, serviceIdentity="synthetic-monitoring")
    server.stop()
    with sqlite3.connect(server.data_dir / "apiserver.db") as db:
        (blob,) = db.execute("SELECT blob FROM payloads WHERE name = 'damaged'").fetchone()
        flipped = blob[:-1] + bytes([blob[-1] ^ 0x01])  # one bit of the GCM tag
        db.execute("UPDATE payloads SET blob = ? WHERE name = 'damaged'", (flipped,))
    server.start()
    response = call("POST", decrypt_url(server, "damaged"), token)
    assert response.status_code == 500
    status = response.json()
    assert (status["reason"], status["message"]) == ("InternalError", "decryption failed")
    body = call("POST", batch_url(server), token, json={"names": ["intact", "damaged"]}).json()
    assert body == {
        "decryptedValues": {"intact": {"value": f"intact-{VALUE}"}, "damaged": {"errorMessage": "decryption failed"}}
    }
    failed = [r for r in audit_records(server.data_dir) if r["name"] == "damaged" and r["operation"] == "decrypt"]
    assert [(r["outcome"], r["reason"]) for r in failed] == [("error", "decryption failed")] * 2
    assert f"damaged-{VALUE}" not in server.log() and f"intact-{VALUE}" not in server.log()


def test_decrypting_while_the_value_changes_gives_a_current_value(decrypt_server):
    server = decrypt_server
    values = [f"rotating-{i}" for i in range(15)]
    body = secure_value("rotating", value=values[0], decrypters=["synthetic-monitoring"])
    assert server.session.post(server.sv_url(), json=body).status_code == 201
    token, _ = create_token(server, serviceIdentity="synthetic-monitoring")
    seen: list[tuple[int, str]] = []

    def read() -> None:
        for _ in range(40):
            response = call("POST", decrypt_url(server, "rotating"), token)
            seen.append((response.status_code, response.json().get("value", response.text)))

    reader = threading.Thread(target=read)
    reader.start()
    for value in values[1:]:
        update = secure_value("rotating", value=value, decrypters=["synthetic-monitoring"])
        assert server.session.put(server.sv_url(name="rotating"), json=update).status_code == 200
    reader.join(60)
    assert seen and all(status == 200 and value in values for status, value in seen), seen
