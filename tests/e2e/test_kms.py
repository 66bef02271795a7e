"""A Kubernetes KMS v2 plugin as the KEK provider (--kms-socket), driven over real sockets.

The plugin (kms_plugin.py) is a separate process built on the KMS v2 proto, wrapping with its own
AES keys; it needs the key_id and the annotations its Encrypt returned to decrypt, as real plugins
do. The server runs with --kms-socket and a fast Status poll.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import grpc
import pytest
import requests
from cli_runner import Cli
from grpc_support import code_of, start_grpc_server
from harness import Server, files_containing, secure_value
from identities_support import audit_records, call, create_token
from keys_support import LOOP_IDENTITY, DecryptLoop, create_values, data_keys_of, keks_by_id, keys_status, value_of
from kms_plugin import NONCE_ANNOTATION, VERSION_ANNOTATION
from kms_support import PluginProcess, kms_plugin  # noqa: F401  (a fixture)
from pg import postgres  # noqa: F401  (session fixture)
from test_metrics import scrape, value

KMS_LATENCY = "apiserver_envelope_encryption_kms_operations_latency_seconds"
GRACE = 8.0  # seconds cached data keys keep serving while the plugin is away (in these tests)


def kms_server(server_factory, plugin: PluginProcess, *flags: str, data_dir: Path | None = None) -> Server:
    return server_factory("--kms-socket", str(plugin.socket), "--kms-status-seconds", "0.3", *flags, data_dir=data_dir)


def loop_value(name: str) -> dict:
    return secure_value(name, value=value_of(name), decrypters=[LOOP_IDENTITY])


def decrypt(server: Server, token: str, namespace: str, name: str) -> requests.Response:
    return call("POST", f"{server.sv_url(namespace, name)}/decrypt", token)


def assert_decrypts(server: Server, token: str, values: list[tuple[str, str]]) -> None:
    for namespace, name in values:
        response = decrypt(server, token, namespace, name)
        assert response.status_code == 200 and response.json() == {"value": value_of(name)}, response.text


def data_key_rows(server: Server) -> list[tuple]:
    """The data keys as the database holds them (read-only, beside the running server)."""
    uri = f"file:{server.data_dir / 'apiserver.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        return db.execute(
            "SELECT id, namespace, kek_provider, kek_id, kek_annotations, wrapped FROM data_keys ORDER BY id"
        ).fetchall()


def wait_until(condition: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def readyz(server: Server) -> requests.Response:
    return requests.get(f"{server.url}/readyz?verbose", timeout=10)


def assert_never_in_plaintext(server: Server, plugin: PluginProcess, names: list[str]) -> None:
    """Neither a value nor a data key (raw, base64 or hex) anywhere in the data directory."""
    for name in names:
        assert files_containing(server.data_dir, value_of(name).encode()) == []
    deks = plugin.data_keys_seen()
    assert deks
    for dek in deks:
        for form in (dek, base64.b64encode(dek), dek.hex().encode()):
            assert files_containing(server.data_dir, form) == []


def test_values_written_through_the_plugin_decrypt_after_a_restart(server_factory, kms_plugin, tmp_path):
    server = kms_server(server_factory, kms_plugin)
    server.create_namespace("team-k")
    names = [f"v-{i}" for i in range(4)]
    create_values(server, names)
    create_values(server, names[:2], namespace="team-k")
    values = [("default", n) for n in names] + [("team-k", n) for n in names[:2]]
    token, _ = create_token(server, namespaces=["default", "team-k"], serviceIdentity=LOOP_IDENTITY)
    assert_decrypts(server, token, values)
    assert not (server.data_dir / "kek").exists()  # no local KEK is made beside a plugin

    status = keys_status(server)
    assert (status["activeKek"], status["activeKekProvider"]) == ("key-1", "kms")
    assert keks_by_id(status) == {
        "key-1": {"id": "key-1", "provider": "kms", "active": True, "configured": True, "dataKeys": 2}
    }
    assert status["kms"]["healthy"] and status["kms"]["keyId"] == "key-1" and status["kms"]["version"] == "v2"
    for namespace in ("default", "team-k"):
        (key,) = data_keys_of(status, namespace)
        assert (key["kek"], key["kekProvider"], key["active"]) == ("key-1", "kms", True)
    table = Cli(server, tmp_path / "home")("keys", "status")
    assert table.rc == 0 and "key-1" in table.out and "kms" in table.out, table.err

    # Stored with each wrapped data key: the plugin's key_id and its annotations.
    rows = data_key_rows(server)
    assert len(rows) == 2
    for _id, _namespace, provider, kek_id, stored_json, _wrapped in rows:
        assert (provider, kek_id) == ("kms", "key-1")
        stored = {k: base64.b64decode(v) for k, v in json.loads(stored_json).items()}
        assert set(stored) == {NONCE_ANNOTATION, VERSION_ANNOTATION} and len(stored[NONCE_ANNOTATION]) == 12

    assert kms_plugin.decrypt_calls() == []  # the data keys made here stayed in memory
    server.restart()
    # At start, every data key is unwrapped by the plugin, with the key_id and annotations given back
    # (it cannot without them): a server whose plugin does not open its data keys would not start.
    assert sorted(kms_plugin.decrypt_calls()) == ["key-1", "key-1"]
    assert_decrypts(server, token, values)
    assert_never_in_plaintext(server, kms_plugin, names)


def test_annotations_are_needed_and_given_back(server_factory, kms_plugin):
    """The plugin refuses a data key whose stored annotations were changed: they reach Decrypt as stored."""
    server = kms_server(server_factory, kms_plugin)
    create_values(server, ["a"])
    server.stop()
    database = server.data_dir / "apiserver.db"
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        (original,) = db.execute("SELECT kek_annotations FROM data_keys").fetchone()
        tampered = json.loads(original)
        tampered[VERSION_ANNOTATION] = base64.b64encode(b"2").decode()
        db.execute("UPDATE data_keys SET kek_annotations = ?", (json.dumps(tampered),))
    with pytest.raises(RuntimeError, match="the KMS plugin does not open the data keys wrapped by its key 'key-1'"):
        server.start()
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute("UPDATE data_keys SET kek_annotations = ?", (original,))
    server.start()
    token, _ = create_token(server, serviceIdentity=LOOP_IDENTITY)
    assert_decrypts(server, token, [("default", "a")])


def test_plugin_stopped_cached_keys_serve_within_the_bound_new_keys_wait(server_factory, kms_plugin):
    server = kms_server(server_factory, kms_plugin, "--kms-grace-seconds", str(GRACE))
    create_values(server, ["a", "b"])
    token, _ = create_token(server, namespaces=["default", "fresh"], serviceIdentity=LOOP_IDENTITY)
    server.create_namespace("fresh")
    assert readyz(server).status_code == 200

    kms_plugin.stop()
    stopped = time.monotonic()
    text = wait_until(lambda: (r := readyz(server)).status_code == 503 and r.text, what="/readyz to fail")
    assert isinstance(text, str)
    assert "[-]kms failed: the KMS plugin did not answer Status: Unavailable; cached data keys keep serving for" in text
    assert "new data keys wait" in text and "[+]store ok" in text
    assert text.rstrip().endswith("readyz check failed")
    assert str(kms_plugin.socket) not in text  # reasons are public: no paths

    # Within the bound: existing values decrypt, and writes under an existing data key go on.
    assert_decrypts(server, token, [("default", "a"), ("default", "b")])
    created = server.session.post(server.sv_url(), json=loop_value("c"))
    assert created.status_code == 201, created.text
    # A write that needs a new data key waits for the plugin: 503, a Kubernetes Status, retry later.
    refused = server.session.post(server.sv_url("fresh"), json=loop_value("x"))
    assert refused.status_code == 503, refused.text
    assert refused.json()["reason"] == "ServiceUnavailable" and refused.headers["Retry-After"]
    assert "key management service is unavailable" in refused.json()["message"]
    assert server.session.get(server.sv_url("fresh", "x")).status_code == 404  # nothing was written
    assert time.monotonic() - stopped < GRACE, "the machine was too slow to check within the bound"

    # Past the bound, the cached data keys are gone: every value waits for the plugin.
    wait_until(lambda: decrypt(server, token, "default", "a").status_code == 503, what="the bound to pass")
    assert "cached data keys expired" in readyz(server).text
    last = [r for r in audit_records(server.data_dir) if r["operation"] == "decrypt"][-1]
    # Refused, and audited all the same.
    assert (last["name"], last["outcome"], last["reason"]) == ("a", "error", "ServiceUnavailable")

    # The plugin back: ready again, values decrypt (unwrapped anew), new data keys are made.
    kms_plugin.start()
    wait_until(lambda: readyz(server).status_code == 200, what="/readyz to recover")
    assert_decrypts(server, token, [("default", "a"), ("default", "b"), ("default", "c")])
    created = server.session.post(server.sv_url("fresh"), json=loop_value("x"))
    assert created.status_code == 201, created.text
    assert_decrypts(server, token, [("fresh", "x")])

    # Every call to the plugin is timed, by method and status code (kube-apiserver's series).
    samples, _ = scrape(server)
    for method, code in (("Status", "OK"), ("Encrypt", "OK"), ("Decrypt", "OK"), ("Status", "Unavailable")):
        assert value(samples, f"{KMS_LATENCY}_count", method_name=method, grpc_status_code=code) > 0, (method, code)


def test_a_changed_key_id_rewraps_every_data_key(server_factory, kms_plugin, tmp_path):
    server = kms_server(server_factory, kms_plugin)
    server.create_namespace("team-r")
    create_values(server, ["a", "b"])
    create_values(server, ["c"], namespace="team-r")
    values = [("default", "a"), ("default", "b"), ("team-r", "c")]
    token, _ = create_token(server, namespaces=["default", "team-r"], serviceIdentity=LOOP_IDENTITY)
    before = {row[0]: row for row in data_key_rows(server)}

    kms_plugin.add_key("key-2")  # the plugin's key rotates: its Status reports key-2 from now on

    def rewrapped() -> dict | None:
        status = keys_status(server)
        keys = [key for ns in ("default", "team-r") for key in data_keys_of(status, ns)]
        return status if all(key["kek"] == "key-2" for key in keys) else None

    status = wait_until(rewrapped, what="the data keys to be re-wrapped under key-2")
    assert isinstance(status, dict)
    assert status["activeKek"] == "key-2" and status["kms"]["keyId"] == "key-2"
    assert keks_by_id(status) == {
        "key-2": {"id": "key-2", "provider": "kms", "active": True, "configured": True, "dataKeys": 2}
    }
    table = Cli(server, tmp_path / "home")("keys", "status")
    assert table.rc == 0 and "key-2" in table.out and "key-1" not in table.out
    after = {row[0]: row for row in data_key_rows(server)}
    assert after.keys() == before.keys()
    for key_id, row in after.items():
        assert row[3] == "key-2" and row[5] != before[key_id][5] and row[4] != before[key_id][4]
    assert_decrypts(server, token, values)

    # Nothing needs key-1 any more: the plugin forgets it, and a restarted server opens everything.
    kms_plugin.drop_key("key-1")
    server.restart()
    assert_decrypts(server, token, values)
    assert set(kms_plugin.decrypt_calls()) == {"key-2"}
    assert_never_in_plaintext(server, kms_plugin, ["a", "b", "c"])


def test_moving_from_the_kek_file_to_a_plugin(server_factory, kms_plugin, tmp_path):
    """A server that had a KEK file keeps opening what it wrapped; `keys rewrap` moves it to the plugin."""
    plain = server_factory()
    create_values(plain, ["old"])
    plain.stop()
    server = kms_server(server_factory, kms_plugin, data_dir=plain.data_dir)
    token, _ = create_token(server, serviceIdentity=LOOP_IDENTITY)
    assert_decrypts(server, token, [("default", "old")])
    status = keys_status(server)
    file_kek = next(kek for kek in status["keks"] if kek["provider"] == "file")
    assert file_kek["dataKeys"] == 1 and not file_kek["active"]
    assert status["activeKek"] == "key-1" and status["activeKekProvider"] == "kms"

    result = Cli(server, tmp_path / "home")("keys", "rewrap")
    assert result.rc == 0, result.err
    status = keys_status(server)
    assert keks_by_id(status)[file_kek["id"]]["dataKeys"] == 0
    assert keks_by_id(status)["key-1"]["dataKeys"] == 1

    (server.data_dir / "kek").rename(tmp_path / "kek-retired")  # the KEK file is no longer needed
    server.restart()
    assert_decrypts(server, token, [("default", "old")])


def test_two_postgresql_replicas_share_the_plugin_and_follow_its_key(postgres, kms_plugin, tmp_path):
    """No KEK file anywhere: both replicas wrap through the plugin, see each other's data keys, and
    re-wrap after its key changes while a decrypt loop across both sees no failure."""
    url = postgres.fresh_url("kms")
    flags = ["--database-url", url, "--kms-socket", str(kms_plugin.socket), "--kms-status-seconds", "0.3"]
    a, b = (Server(tmp_path / f"replica{i}", flags).start() for i in range(2))
    try:
        a.create_namespace("team-p")
        create_values(a, ["p-a"])
        create_values(b, ["p-b"], namespace="team-p")
        values = [("default", "p-a"), ("team-p", "p-b")]
        with DecryptLoop([a, b], values) as loop:
            loop.wait_for(20)
            kms_plugin.add_key("key-2")
            for server in (a, b):
                wait_until(lambda server=server: keys_status(server)["kms"]["keyId"] == "key-2", what="the new key")
            wait_until(
                lambda: {k["kek"] for ns in keys_status(a)["namespaces"] for k in ns["dataKeys"]} == {"key-2"},
                what="the data keys to be re-wrapped under key-2",
            )
            loop.wait_for(20)
        assert loop.failures == []
        rows = asyncio.run(_pg_data_keys(url))
        assert len(rows) == 2 and {(r[0], r[1]) for r in rows} == {("kms", "key-2")}
        assert all(NONCE_ANNOTATION in json.loads(r[2]) for r in rows)
        kms_plugin.drop_key("key-1")
        b.restart()
        token, _ = create_token(b, namespaces=["default", "team-p"], serviceIdentity=LOOP_IDENTITY)
        assert_decrypts(b, token, values)
        for server in (a, b):
            assert not (server.data_dir / "kek").exists()
    finally:
        a.stop()
        b.stop()


async def _pg_data_keys(url: str) -> list[tuple[str, str, str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT kek_provider, kek_id, kek_annotations FROM data_keys")
        return [(r[0], r[1], r[2]) for r in rows]
    finally:
        await conn.close()


def test_grafanas_decrypt_over_grpc_says_unavailable_once_the_plugin_is_needed(kms_plugin, tmp_path):
    flags = ("--kms-socket", str(kms_plugin.socket), "--kms-status-seconds", "0.3", "--kms-grace-seconds", "1")
    grpc_server = start_grpc_server(tmp_path / "data", *flags)  # its signing key is sealed through the plugin
    grafana = (("x-access-token", grpc_server.issuer.token()),)  # as Grafana calls it

    def decrypt_db():
        return grpc_server.decrypt(["db"], metadata=grafana)

    def expired() -> bool:
        response = readyz(grpc_server.server)
        return response.status_code == 503 and "cached data keys expired" in response.text

    try:
        assert decrypt_db() == {"db": grpc_server.values["db"]}
        kms_plugin.stop()
        wait_until(expired, what="the bound to pass")
        assert code_of(decrypt_db) == grpc.StatusCode.UNAVAILABLE
        kms_plugin.start()
        wait_until(lambda: readyz(grpc_server.server).status_code == 200, what="/readyz to recover")
        assert decrypt_db() == {"db": grpc_server.values["db"]}
    finally:
        grpc_server.server.stop()
