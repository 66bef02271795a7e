"""The curl tour of the README, over real HTTP: create, list, get, update, delete."""

from harness import files_containing, secure_value


def test_tour(server):
    created = server.session.post(
        server.sv_url(), json=secure_value("api-key", value="tour-value-123", decrypters=["synthetic-monitoring"])
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == {"version": 1, "keeper": "system", "externalID": ""}
    assert "value" not in body["spec"]
    listed = server.session.get(server.sv_url()).json()
    assert [item["metadata"]["name"] for item in listed["items"]] == ["api-key"]
    got = server.session.get(server.sv_url(name="api-key")).json()
    assert got["metadata"]["uid"] == body["metadata"]["uid"]
    update = secure_value("api-key", description="rotated", value="tour-value-456")
    updated = server.session.put(server.sv_url(name="api-key"), json=update)
    assert updated.status_code == 200, updated.text
    assert updated.json()["status"]["version"] == 2
    deleted = server.session.delete(server.sv_url(name="api-key"))
    assert deleted.json()["status"] == "Success"
    assert server.session.get(server.sv_url(name="api-key")).status_code == 404
    server.stop()
    assert files_containing(server.data_dir, b"tour-value-123") == []
    assert files_containing(server.data_dir, b"tour-value-456") == []
