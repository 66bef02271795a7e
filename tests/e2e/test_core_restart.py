"""Nothing lives only in memory; the schema is versioned."""

from __future__ import annotations

import sqlite3

from core_support import reveal_offline
from harness import ADMIN_TOKEN, GROUP_PATH, secure_value

VALUES = {"db-password": "pw-8c1f4e", "api-key": "key-🔑-77aa", "token": "t" * 24576}


def test_restart_keeps_everything_and_values_decrypt_in_the_service_layer(server):
    session = server.session
    server.create_namespace("org-2")
    for name, value in VALUES.items():
        body = secure_value(name, value=value, labels={"app": "x"}, decrypters=["synthetic-monitoring"])
        assert session.post(server.sv_url(), json=body).status_code == 201
    assert session.post(server.sv_url("org-2"), json=secure_value("other", value="org-2-value")).status_code == 201
    # PUT without a value keeps it (checked by decrypting below); status.version becomes 2.
    kept = session.put(
        server.sv_url(name="db-password"),
        json=secure_value("db-password", value=None, description="rotated", labels={"app": "x"}),
    )
    assert kept.json()["status"]["version"] == 2
    session.post(
        server.keeper_url(),
        json={
            "metadata": {"name": "gcp"},
            "spec": {"description": "d", "gcp": {"projectID": "p", "credentialsFile": "f"}},
        },
    )
    session.post(server.keeper_url(name="gcp") + "/activate")
    before = {
        path: session.get(server.url + path).json()
        for path in (f"{GROUP_PATH}/securevalues", f"{GROUP_PATH}/keepers", "/api/v1/namespaces")
    }
    tokens = session.get(server.sv_url(), params={"limit": 1}).json()["metadata"]["continue"]

    server.restart()
    after = {path: session.get(server.url + path).json() for path in before}
    assert after == before  # same uids, resourceVersions, statuses, list revision
    # A continue token issued before the restart still works (its signing secret is stored).
    assert session.get(server.sv_url(), params={"limit": 1, "continue": tokens}).status_code == 200
    assert session.get(server.keeper_url()).json()["items"][0]["status"]["active"] is True
    # A no-op update after the restart compares against the decrypted stored value: still a no-op.
    same = session.put(
        server.sv_url(name="api-key"),
        json=secure_value("api-key", value=VALUES["api-key"], labels={"app": "x"}, decrypters=["synthetic-monitoring"]),
    )
    item = next(i for i in before[f"{GROUP_PATH}/securevalues"]["items"] if i["metadata"]["name"] == "api-key")
    assert same.json()["metadata"]["resourceVersion"] == item["metadata"]["resourceVersion"]
    # The revision keeps growing after a restart.
    session.post(server.sv_url("org-2"), json=secure_value("later", value="later-value"))
    revision = session.get(f"{server.url}{GROUP_PATH}/securevalues").json()["metadata"]["resourceVersion"]
    assert int(revision) > int(before[f"{GROUP_PATH}/securevalues"]["metadata"]["resourceVersion"])

    server.stop()
    assert reveal_offline(server.data_dir, ADMIN_TOKEN, "default", list(VALUES)) == {
        name: value.encode() for name, value in VALUES.items()
    }
    assert reveal_offline(server.data_dir, ADMIN_TOKEN, "org-2", ["other", "later"]) == {
        "other": b"org-2-value",
        "later": b"later-value",
    }


def test_schema_versions_are_recorded_and_a_newer_database_is_refused(server):
    server.stop()
    database = server.data_dir / "apiserver.db"
    with sqlite3.connect(database) as db:
        versions = [row[0] for row in db.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == list(range(1, len(versions) + 1)) and versions
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute("INSERT INTO schema_migrations VALUES (999, 0)")
    try:
        server.start(timeout=10)
    except RuntimeError as exc:
        message = str(exc)
    else:
        raise AssertionError("a server started on a database from a newer schema")
    assert "server exited with 2" in message  # it stops at once, with a clear message and exit status
    assert f"database schema version 999 is newer than this server ({versions[-1]})" in message
    assert "Traceback" not in server.log()
