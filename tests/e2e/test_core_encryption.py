"""Values are encrypted at rest and bound to their row."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import stat

from core_support import reveal_offline
from harness import ADMIN_TOKEN, files_containing, secure_value

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _marker(tag: str) -> str:
    return f"plaintext-{tag}-{secrets.token_hex(8)}"


def _write_known_values(server) -> list[str]:
    """Write values through every path a value can take; return every plaintext that was sent."""
    session = server.session
    created = [
        _marker("create"),
        _marker("update"),
        _marker("applied"),
        _marker("yaml"),
        "ünïcødé-" + _marker("mb"),
        _marker("ns"),
        _marker("refused"),
        _marker("deleted"),
    ]
    assert session.post(server.sv_url(), json=secure_value("enc-a", value=created[0])).status_code == 201
    assert session.put(server.sv_url(name="enc-a"), json=secure_value("enc-a", value=created[1])).status_code == 200
    manifest = secure_value("enc-applied", value=created[2])
    body = json.loads(json.dumps(manifest))
    body["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(manifest)}
    assert session.post(server.sv_url(), json=body).status_code == 201
    yaml_body = (
        f"apiVersion: secret.grafana.app/v1beta1\nkind: SecureValue\nmetadata:\n  name: enc-yaml\n"
        f"spec:\n  description: from yaml\n  value: {created[3]}\n"
    )
    assert (
        session.post(server.sv_url(), data=yaml_body, headers={"Content-Type": "application/yaml"}).status_code == 201
    )
    assert session.post(server.sv_url(), json=secure_value("enc-mb", value=created[4])).status_code == 201
    server.create_namespace("enc-other")
    assert session.post(server.sv_url("enc-other"), json=secure_value("enc-a", value=created[5])).status_code == 201
    refused = session.post(server.sv_url(), json=secure_value("enc-refused", value=created[6], description="x" * 40))
    assert refused.status_code == 422 and created[6] not in refused.text
    assert session.post(server.sv_url(), json=secure_value("enc-deleted", value=created[7])).status_code == 201
    assert session.delete(server.sv_url(name="enc-deleted")).status_code == 200
    for response in (session.get(server.sv_url()), session.get(server.sv_url(name="enc-a"))):
        assert not any(value in response.text for value in created)
    return created


def _leaks(server, values: list[str]) -> dict[str, list[str]]:
    found = {}
    for value in values:
        places = files_containing(server.data_dir, value.encode()) + files_containing(
            server.log_path.parent, value.encode()
        )
        if places:
            found[value] = sorted({str(p) for p in places})
    return found


def test_kek_file_is_created_with_mode_0600(server):
    kek = server.data_dir / "kek"
    assert kek.is_file()
    assert stat.S_IMODE(kek.stat().st_mode) == 0o600
    # The directory the server created holds the database, the admin token and the audit log too.
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700


def test_no_plaintext_in_any_file_after_a_clean_stop(server):
    values = _write_known_values(server)
    server.stop()
    assert sorted(p.name for p in server.data_dir.iterdir() if p.name.startswith("apiserver.db"))[0] == "apiserver.db"
    assert _leaks(server, values) == {}
    with sqlite3.connect(server.data_dir / "apiserver.db") as db:
        rows = db.execute("SELECT namespace, name, version FROM payloads ORDER BY 1, 2, 3").fetchall()
    # History is kept while a value lives, and destroyed with it.
    assert [r for r in rows if r[1] in ("enc-a", "enc-deleted")] == [
        ("default", "enc-a", 1),
        ("default", "enc-a", 2),
        ("enc-other", "enc-a", 1),
    ]


def test_no_plaintext_in_any_file_after_sigkill(server_factory):
    server = server_factory("--log-level", "DEBUG")  # the most talkative logs are searched as well
    values = _write_known_values(server)
    os.killpg(server.process.pid, signal.SIGKILL)  # no checkpoint, no clean close: the WAL holds the writes
    server.process.wait(5)
    server.process = None
    assert (server.data_dir / "apiserver.db-wal").stat().st_size > 0
    assert _leaks(server, values) == {}
    # And the acknowledged writes survived the kill.
    revealed = reveal_offline(server.data_dir, ADMIN_TOKEN, "default", ["enc-a", "enc-yaml"])
    assert revealed == {"enc-a": values[1].encode(), "enc-yaml": values[3].encode()}


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(server):
    session = server.session
    session.post(server.sv_url(), json=secure_value("row-a", value="alpha-value"))
    session.post(server.sv_url(), json=secure_value("row-b", value="beta-value"))
    session.post(server.sv_url(), json=secure_value("row-c", value="c-one"))
    session.put(server.sv_url(name="row-c"), json=secure_value("row-c", value="c-two"))
    server.stop()
    before = reveal_offline(server.data_dir, ADMIN_TOKEN, "default", ["row-a", "row-b", "row-c"])
    assert before == {"row-a": b"alpha-value", "row-b": b"beta-value", "row-c": b"c-two"}

    with sqlite3.connect(server.data_dir / "apiserver.db") as db:
        # Another name's ciphertext, and an older version's ciphertext, pasted onto a row.
        db.execute(
            "UPDATE payloads SET blob = (SELECT blob FROM payloads WHERE name = 'row-a'), "
            "data_key_id = (SELECT data_key_id FROM payloads WHERE name = 'row-a') WHERE name = 'row-b'"
        )
        db.execute(
            "UPDATE payloads SET blob = (SELECT blob FROM payloads WHERE name = 'row-c' AND version = 1) "
            "WHERE name = 'row-c' AND version = 2"
        )
    after = reveal_offline(server.data_dir, ADMIN_TOKEN, "default", ["row-a", "row-b", "row-c"])
    from apiserver.crypto.errors import DecryptionError

    assert after["row-a"] == b"alpha-value"
    assert isinstance(after["row-b"], DecryptionError) and isinstance(after["row-c"], DecryptionError)
    assert "alpha-value" not in repr(after["row-b"]) and "c-one" not in str(after["row-c"])
