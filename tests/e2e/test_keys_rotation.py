"""Keys online on one server (SQLite): status, data-key rotation, KEK rotation with SIGHUP and
`keys reload`, re-wrapping, all while a decrypt loop runs and must see no failure."""

from __future__ import annotations

import os
import signal

from cli_runner import Cli
from harness import Server
from identities_support import call, create_token
from keys_support import (
    DecryptLoop,
    append_kek,
    create_values,
    data_keys_of,
    drop_kek,
    keks_by_id,
    keys_status,
    status_json,
    wait_for_active_kek,
)

KEYS = "/apis/ops.apiserver.local/v1/keys"


def test_status_and_rotate_dek(server: Server, tmp_path):
    cli = Cli(server, tmp_path / "home")
    server.create_namespace("team-a")
    create_values(server, [f"d-{i}" for i in range(3)])
    create_values(server, [f"a-{i}" for i in range(2)], namespace="team-a")
    before = status_json(cli)
    (kek_id,) = [k["id"] for k in before["keks"]]
    assert before["activeKek"] == kek_id
    assert keks_by_id(before)[kek_id] == {
        "id": kek_id,
        "provider": "file",
        "active": True,
        "configured": True,
        "dataKeys": 2,
    }
    (default_key,) = data_keys_of(before, "default")
    (team_key,) = data_keys_of(before, "team-a")
    assert (default_key["values"], default_key["active"], default_key["kek"]) == (3, True, kek_id)
    assert team_key["values"] == 2 and 0 <= team_key["ageSeconds"] < 60
    assert before["staleValues"] == 0

    rotated = cli("keys", "rotate-dek", "--namespace", "team-a")
    assert rotated.rc == 0, rotated.err
    after = status_json(cli)
    assert data_keys_of(after, "default") == [
        {**default_key, "ageSeconds": data_keys_of(after, "default")[0]["ageSeconds"]}
    ]
    old, new = data_keys_of(after, "team-a")
    assert (old["id"], old["active"], old["values"]) == (team_key["id"], False, 2)
    assert new["active"] and new["values"] == 0 and new["id"] in rotated.out
    assert after["staleValues"] == 2
    assert keks_by_id(after)[kek_id]["dataKeys"] == 3

    everywhere = cli("keys", "rotate-dek")
    assert everywhere.rc == 0 and "namespace default" in everywhere.out and "namespace team-a" in everywhere.out
    assert len(data_keys_of(keys_status(server), "default")) == 2

    # The table form, and never key material (the KEK file's key, the wrapped data keys) anywhere.
    table = cli("keys", "status")
    assert table.rc == 0 and kek_id in table.out and team_key["id"] in table.out
    kek_key = (server.data_dir / "kek").read_text().split()[-1]
    assert kek_key not in table.out + str(after)
    assert cli("keys", "rotate-dek", "--namespace", "no-such-ns").rc != 0


def test_keys_are_for_admins_of_every_namespace(server: Server):
    namespace_admin, _ = create_token(server, namespaces=["default"], role="admin")
    for method, path in (("GET", ""), ("POST", "/rotate-dek"), ("POST", "/rewrap"), ("POST", "/reencrypt")):
        response = call(method, server.url + KEYS + path, namespace_admin, json={} if method == "POST" else None)
        assert response.status_code == 403, response.text
        assert response.json()["reason"] == "Forbidden"
    assert call("GET", server.url + KEYS, None).status_code == 401
    bad = server.session.post(server.url + KEYS + "/reencrypt", json={"continue": "not-a-token"})
    assert bad.status_code == 400 and bad.json()["kind"] == "Status"
    assert server.session.post(server.url + KEYS + "/rotate-dek", json={"nope": 1}).status_code == 400
    assert server.session.delete(server.url + KEYS).status_code == 405


def test_kek_rotation_end_to_end(server_factory, tmp_path):
    """Append a KEK, SIGHUP, re-wrap, drop the old line, reload, restart: every decrypt succeeds."""
    # Without the file watch, so that only SIGHUP and `keys reload` can have loaded the file.
    server = server_factory(env={"APISERVER_KEK_WATCH_SECONDS": "0"})
    cli = Cli(server, tmp_path / "home")
    kek_file = server.data_dir / "kek"
    server.create_namespace("team-r")
    names = [f"r-{i}" for i in range(20)]
    create_values(server, names)
    create_values(server, names[:5], namespace="team-r")
    old_kek = keys_status(server)["activeKek"]
    values = [("default", n) for n in names] + [("team-r", n) for n in names[:5]]
    with DecryptLoop([server], values) as loop:
        loop.wait_for(20)
        new_key = append_kek(kek_file, "kek-next")
        os.kill(server.process.pid, signal.SIGHUP)
        wait_for_active_kek(server, "kek-next")
        loop.wait_for(20)
        # New data keys are wrapped by the new KEK at once; the old ones until the re-wrap.
        assert cli("keys", "rotate-dek", "--namespace", "team-r").rc == 0
        middle = status_json(cli)
        assert keks_by_id(middle)[old_kek]["dataKeys"] == 2
        assert keks_by_id(middle)["kek-next"] == {
            "id": "kek-next",
            "provider": "file",
            "active": True,
            "configured": True,
            "dataKeys": 1,
        }

        # Removing the old line before the re-wrap is refused: data keys still need it.
        drop_kek(kek_file, old_kek)
        refused = cli("keys", "reload")
        assert refused.rc != 0 and old_kek in refused.err and "rewrap" in refused.err
        loop.wait_for(20)

        rewrap = cli("keys", "rewrap")
        assert rewrap.rc == 0 and "re-wrapped 2 data keys under KEK kek-next" in rewrap.out, rewrap.out
        after = status_json(cli)
        assert keks_by_id(after)[old_kek]["dataKeys"] == 0
        assert keks_by_id(after)["kek-next"]["dataKeys"] == 3
        reload = cli("keys", "reload")
        assert reload.rc == 0 and "active: kek-next" in reload.out, reload.err
        assert [k["id"] for k in status_json(cli)["keks"]] == ["kek-next"]
        loop.wait_for(20)
    assert loop.failures == []
    assert new_key not in server.log()

    # Restarted with the new KEK only: everything still decrypts.
    server.restart()
    with DecryptLoop([server], values) as loop:
        loop.wait_for(len(values))
    assert loop.failures == []
