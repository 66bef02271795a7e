"""A full disk is not a 500: writes get 507 in each surface's dialect, reads go on, writes resume by
themselves once space returns, and every acknowledged value survives. On a real, full tmpfs: the
data directory of SQLite, and the tablespace of PostgreSQL's tables."""

from __future__ import annotations

import os
import pwd
import secrets
from pathlib import Path

import pytest
from disk_support import disk_that_fails_writes, fill, free_bytes, small_tmpfs
from harness import Server, secure_value
from identities_support import call, create_token
from pg import start_postgres
from test_postgres_replicas import write_kek_file

DEFAULT_ORG = "0000000000000001"
MAX_FILL_WRITES = 400  # each carries ~20 KiB: far more than the few MiB the disk has left
MAX_SMALL_WRITES = 3000


@pytest.fixture
def full_disk_server(tmp_path):
    with small_tmpfs(tmp_path / "data", "8m") as data_dir:
        # The audit log lives elsewhere: this test is about the database; a full audit device is
        # its own case (it fails closed).
        server = Server(data_dir, env={"APISERVER_AUDIT_LOG": str(tmp_path / "audit.log")})
        server.start()
        try:
            yield server
        finally:
            server.stop()


def _value() -> str:
    return secrets.token_hex(10 * 1024)  # 20 KiB of fresh, recognisable text


def _decrypts(server: Server, token: str, name: str, value: str) -> bool:
    response = call("POST", f"{server.sv_url('default', name)}/decrypt", token)
    assert response.status_code == 200, (name, response.status_code, response.text)
    return response.json() == {"value": value}


def test_sqlite_writes_get_507_reads_go_on_and_writes_resume_when_space_returns(full_disk_server):
    full_disk_scenario(full_disk_server, full_disk_server.data_dir)


def test_postgres_disk_full_is_507_too_and_writes_resume(tmp_path):
    postgres = start_postgres()
    try:
        account = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        owner = (account.pw_uid, account.pw_gid) if account else None
        with small_tmpfs(postgres.base / "tablespace", "8m", owner=owner) as tablespace:
            postgres.psql(f"CREATE TABLESPACE small_disk LOCATION '{tablespace}'")
            # Every table and index of the store goes to the small disk; PostgreSQL's WAL stays
            # where it was, so what fills up is what fills up in production: the data files.
            url = postgres.fresh_url("full") + "&default_tablespace=small_disk"
            server = Server(
                tmp_path / "data",
                ["--database-url", url, "--kek-file", str(write_kek_file(tmp_path / "kek"))],
                env={"APISERVER_AUDIT_LOG": str(tmp_path / "audit.log")},
            )
            server.start()
            try:
                full_disk_scenario(server, tablespace)
            finally:
                server.stop()
    finally:
        postgres.destroy()


def full_disk_scenario(server: Server, disk: Path) -> None:
    """Fill `disk` (where the database writes), then check every surface's answer, reads and recovery."""
    decrypter, _ = create_token(server, serviceIdentity="synthetic-monitoring")
    account = server.session.get(f"{server.url}/api/v1/namespaces/default").json()["metadata"]["annotations"][
        "compat.apiserver.local/cloudflare-account-id"
    ]
    stores = f"{server.url}/client/v4/accounts/{account}/secrets_store/stores"
    store = server.session.post(stores, json={"name": "main"})
    assert store.status_code == 200, store.text
    store_id = store.json()["result"]["id"]

    acknowledged: dict[str, str] = {}

    def create(name: str, value: str | None = None):
        value = value or _value()
        body = secure_value(name, value=value, decrypters=["synthetic-monitoring"])
        response = server.session.post(server.sv_url(), json=body)
        if response.status_code == 201:
            acknowledged[name] = value
        return response

    for index in range(3):
        assert create(f"before-{index}").status_code == 201

    filler = fill(disk)
    assert free_bytes(disk) < 4096
    refused = None
    for index in range(MAX_FILL_WRITES):
        response = create(f"filling-{index}")
        assert response.status_code in (201, 507), response.text  # never a 500
        if response.status_code == 507:
            refused = response
            break
    assert refused is not None, "the disk never filled up"
    # PostgreSQL still fits small rows into free space left in its pages: use that up too, so that
    # every write below needs room that is not there.
    for index in range(MAX_SMALL_WRITES):
        small = create(f"small-{index}", "x")
        assert small.status_code in (201, 507), small.text
        if small.status_code == 507:
            break
    else:
        raise AssertionError("small writes never filled the last pages")

    # The native dialect: a Kubernetes Status.
    status = refused.json()
    assert (status["kind"], status["status"], status["code"], status["reason"]) == (
        "Status",
        "Failure",
        507,
        "InsufficientStorage",
    ), status
    update = secure_value("before-0", value=_value(), description="changed", decrypters=["synthetic-monitoring"])
    assert server.session.put(server.sv_url("default", "before-0"), json=update).status_code == 507
    deleted = server.session.delete(server.sv_url("default", "before-1"))
    assert deleted.status_code in (200, 507), deleted.text  # a delete may need no new room
    if deleted.status_code == 200:
        del acknowledged["before-1"]

    # InfluxDB's dialect: {code, message}, with a code of its ErrorCode enum.
    influx = server.session.patch(f"{server.url}/api/v2/orgs/{DEFAULT_ORG}/secrets", json={"influx-key": "v"})
    assert influx.status_code == 507, influx.text
    assert influx.json()["code"] == "unavailable" and influx.headers["X-Platform-Error-Code"] == "unavailable"

    # Cloudflare's envelope.
    cloudflare = server.session.post(
        f"{stores}/{store_id}/secrets", json=[{"name": "CF_KEY", "value": "v", "scopes": ["workers"]}]
    )
    assert cloudflare.status_code == 507, cloudflare.text
    envelope = cloudflare.json()
    assert envelope["success"] is False and envelope["result"] is None
    assert envelope["errors"] == [{"code": 1000, "message": "insufficient_storage"}]

    # Reads go on: lists, gets and decrypts of what was acknowledged.
    listed = server.session.get(server.sv_url())
    assert listed.status_code == 200
    assert {i["metadata"]["name"] for i in listed.json()["items"]} == set(acknowledged)
    assert server.session.get(server.sv_url("default", "before-2")).status_code == 200
    assert server.session.get(f"{server.url}/api/v2/orgs/{DEFAULT_ORG}/secrets").status_code == 200
    assert server.session.get(f"{stores}/{store_id}/secrets").status_code == 200
    assert _decrypts(server, decrypter, "before-0", acknowledged["before-0"])  # the update was not stored

    # Space returns: the very next writes succeed, with no restart.
    filler.unlink()
    assert create("after-0").status_code == 201
    assert server.session.delete(server.sv_url("default", "before-2")).status_code == 200
    del acknowledged["before-2"]
    assert server.session.patch(f"{server.url}/api/v2/orgs/{DEFAULT_ORG}/secrets", json={"ik": "v"}).status_code == 204
    assert "the database's disk is full" in server.log() and "Traceback" not in server.log()
    assert "accepts writes again" in server.log()

    # Nothing acknowledged was lost, before and after a restart.
    for name, value in acknowledged.items():
        assert _decrypts(server, decrypter, name, value)
    server.restart()
    items = server.session.get(server.sv_url()).json()["items"]
    native = {
        i["metadata"]["name"] for i in items if "compat.apiserver.local/key" not in i["metadata"].get("annotations", {})
    }
    assert native == set(acknowledged)
    for name, value in acknowledged.items():
        assert _decrypts(server, decrypter, name, value)


def test_disk_io_errors_are_503_reads_go_on_and_writes_resume(tmp_path):
    """A failing disk under SQLite: its fsyncs fail with EIO (SQLITE_IOERR), which is 503 with
    Retry-After (as a database that is away), never a 500; once the disk works, so do writes."""
    with disk_that_fails_writes(tmp_path) as (disk, backing):
        server = Server(disk / "data", env={"APISERVER_AUDIT_LOG": str(tmp_path / "audit.log")})
        server.start()
        try:
            decrypter, _ = create_token(server, serviceIdentity="synthetic-monitoring")
            acknowledged: dict[str, str] = {}

            def create(name: str):
                value = _value()
                body = secure_value(name, value=value, decrypters=["synthetic-monitoring"])
                response = server.session.post(server.sv_url(), json=body, timeout=30)
                assert response.status_code in (201, 503), response.text  # never a 500
                if response.status_code == 201:
                    acknowledged[name] = value
                return response

            assert create("before").status_code == 201
            filler = fill(backing)
            for index in range(MAX_FILL_WRITES):
                refused = create(f"during-{index}")
                if refused.status_code == 503:
                    break
            else:
                raise AssertionError("the disk never failed")
            status = refused.json()
            assert (status["kind"], status["code"], status["reason"]) == ("Status", 503, "ServiceUnavailable")
            assert refused.headers["Retry-After"] == "1"
            assert server.session.get(server.sv_url(name="before")).status_code == 200
            assert server.session.get(server.sv_url()).status_code == 200
            assert "I/O error on the database" in server.log()

            filler.unlink()
            assert create("after").status_code == 201
            server.restart()
            for name, value in acknowledged.items():
                assert _decrypts(server, decrypter, name, value)
        finally:
            server.stop()
