"""A dry run has no side effects at all: no object, no data key, no revision, over real HTTP."""

from __future__ import annotations

import sqlite3

from harness import secure_value


def _database_state(server) -> tuple[list, list, str]:
    with sqlite3.connect(server.data_dir / "apiserver.db") as db:
        keys = db.execute("SELECT id, namespace FROM data_keys ORDER BY id").fetchall()
        payloads = db.execute("SELECT namespace, name, version FROM payloads ORDER BY 1, 2, 3").fetchall()
        (revision,) = db.execute("SELECT value FROM settings WHERE key = 'revision'").fetchone()
    return keys, payloads, revision


def test_dry_run_create_into_a_namespace_without_a_data_key_commits_nothing(server):
    server.create_namespace("fresh")
    before = _database_state(server)
    assert not [k for k in before[0] if k[1] == "fresh"]  # the namespace has no data key yet

    response = server.session.post(
        server.sv_url("fresh") + "?dryRun=All", json=secure_value("dry", value="never-stored-value")
    )
    assert response.status_code == 201, response.text
    assert response.json()["metadata"]["name"] == "dry"

    assert _database_state(server) == before  # no data key row, no payload, the same revision
    listed = server.session.get(server.sv_url("fresh")).json()
    assert listed["items"] == []
    assert listed["metadata"]["resourceVersion"] == before[2]


def test_dry_run_update_with_a_new_value_commits_nothing(server):
    server.create_namespace("kept")
    created = server.session.post(server.sv_url("kept"), json=secure_value("one", value="first-value"))
    assert created.status_code == 201, created.text
    before = _database_state(server)

    body = secure_value("one", value="second-value", description="changed")
    response = server.session.put(server.sv_url("kept", "one") + "?dryRun=All", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["status"]["version"] == 2  # what the update would make

    assert _database_state(server) == before
    stored = server.session.get(server.sv_url("kept", "one")).json()
    assert stored["spec"]["description"] == "a test value"
    assert stored["status"]["version"] == 1
