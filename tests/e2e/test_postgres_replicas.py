"""Two `apiserver serve --database-url` replicas on one PostgreSQL: one store, whichever answers.

Real server processes over real HTTP on a throwaway PostgreSQL server (tests/pg.py), sharing one
KEK file as the operational contract asks.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from harness import Server, secure_value
from identities_support import call, create_token
from pg import postgres  # noqa: F401  (session fixture)

VALUE = "replicated-plaintext-4be1c9"


def write_kek_file(path: Path) -> Path:
    path.write_text(f"kek-shared {base64.b64encode(os.urandom(32)).decode()}\n")
    path.chmod(0o600)
    return path


def start_replicas(base: Path, database_url: str, count: int = 2) -> list[Server]:
    kek = write_kek_file(base / "kek")
    servers = []
    for i in range(count):
        server = Server(base / f"replica{i}", ["--database-url", database_url, "--kek-file", str(kek)])
        servers.append(server.start())
    return servers


@pytest.fixture(scope="module")
def replicas(postgres, tmp_path_factory):
    url = postgres.fresh_url("e2e")
    servers = start_replicas(tmp_path_factory.mktemp("replicas"), url)
    yield servers, url
    for server in servers:
        server.stop()


def test_a_write_on_one_is_read_at_once_on_the_other(replicas):
    (a, b), _ = replicas
    for i in range(5):
        created = a.session.post(a.sv_url(), json=secure_value(f"at-once-{i}", value=VALUE))
        assert created.status_code == 201, created.text
        got = b.session.get(b.sv_url(name=f"at-once-{i}"))  # no waiting: a consistent read
        assert got.status_code == 200, got.text
        assert got.json()["metadata"]["resourceVersion"] == created.json()["metadata"]["resourceVersion"]
        names = [item["metadata"]["name"] for item in b.session.get(b.sv_url()).json()["items"]]
        assert f"at-once-{i}" in names
    b.create_namespace("made-on-b")
    assert a.session.post(a.sv_url("made-on-b"), json=secure_value("there")).status_code == 201


def test_a_write_on_one_is_watched_on_the_other(replicas):
    (a, b), _ = replicas
    start = b.session.get(b.sv_url()).json()["metadata"]["resourceVersion"]
    results = []
    # Created from another thread once the watch on B is open (its headers may wait for an event).
    writer = threading.Timer(
        0.5, lambda: results.append(a.session.post(a.sv_url(), json=secure_value("watched", value=VALUE)))
    )
    writer.start()
    with b.session.get(b.sv_url(), params={"watch": "1", "resourceVersion": start}, stream=True, timeout=15) as stream:
        assert stream.status_code == 200
        event = json.loads(next(stream.iter_lines()))
    writer.join()
    created = results[0]
    assert created.status_code == 201
    assert event["type"] == "ADDED"
    assert event["object"]["metadata"]["name"] == "watched"
    assert event["object"]["metadata"]["uid"] == created.json()["metadata"]["uid"]


def test_a_value_written_on_one_decrypts_through_the_other(replicas):
    (a, b), _ = replicas
    body = secure_value("shared-secret", value=VALUE, decrypters=["synthetic-monitoring"])
    assert a.session.post(a.sv_url(), json=body).status_code == 201
    token, _ = create_token(a, serviceIdentity="synthetic-monitoring")  # a token made on A works on B
    response = call("POST", f"{b.sv_url(name='shared-secret')}/decrypt", token)
    assert response.status_code == 200, response.text
    assert response.json() == {"value": VALUE}
    update = secure_value("shared-secret", value=VALUE + "-v2", decrypters=["synthetic-monitoring"])
    assert b.session.put(b.sv_url(name="shared-secret"), json=update).status_code == 200
    assert call("POST", f"{a.sv_url(name='shared-secret')}/decrypt", token).json() == {"value": VALUE + "-v2"}


def _at_once(calls):
    """Run the calls in threads released together, so that they race for real."""
    barrier = threading.Barrier(len(calls))

    def run(fn):
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_conflicting_updates_across_replicas_have_one_winner(replicas):
    (a, b), _ = replicas
    created = a.session.post(a.sv_url(), json=secure_value("contended", description="v0"))
    assert created.status_code == 201
    for round_ in range(6):
        current = a.session.get(a.sv_url(name="contended")).json()
        rv = current["metadata"]["resourceVersion"]

        def put(server, tag):
            body = secure_value("contended", description=f"{tag}{round_}", value=None)
            body["metadata"]["resourceVersion"] = rv
            return server.session.put(server.sv_url(name="contended"), json=body)

        codes = sorted(r.status_code for r in _at_once([lambda: put(a, "a"), lambda: put(b, "b")]))
        assert codes == [200, 409], codes


def test_concurrent_creates_across_replicas_have_one_winner(replicas):
    (a, b), _ = replicas
    for i in range(6):
        name = f"raced-{i}"
        responses = _at_once([lambda s=s: s.session.post(s.sv_url(), json=secure_value(name)) for s in (a, b)])
        codes = sorted(r.status_code for r in responses)
        assert codes == [201, 409], [r.text for r in responses]
        assert next(r for r in responses if r.status_code == 409).json()["reason"] == "AlreadyExists"


def test_continue_tokens_from_one_work_on_the_other(replicas):
    (a, b), _ = replicas
    a.create_namespace("paging")
    for i in range(5):
        assert (
            a.session.post(a.sv_url("paging"), json=secure_value(f"item-{i}", description="before")).status_code == 201
        )
    first = a.session.get(a.sv_url("paging"), params={"limit": 2}).json()
    # A change after the first page: the following pages still show the list's snapshot.
    body = secure_value("item-3", description="after", value=None)
    assert b.session.put(b.sv_url("paging", "item-3"), json=body).status_code == 200
    second = b.session.get(b.sv_url("paging"), params={"limit": 2, "continue": first["metadata"]["continue"]})
    assert second.status_code == 200, second.text
    page = second.json()
    assert [i["metadata"]["name"] for i in page["items"]] == ["item-2", "item-3"]
    assert page["items"][1]["spec"]["description"] == "before"
    last = a.session.get(a.sv_url("paging"), params={"limit": 2, "continue": page["metadata"]["continue"]}).json()
    assert [i["metadata"]["name"] for i in last["items"]] == ["item-4"]
    assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_no_plaintext_in_a_dump_of_the_database(replicas, postgres):
    (a, b), _ = replicas
    plaintext = "dump-search-plaintext-91d3e7"
    assert a.session.post(a.sv_url(), json=secure_value("dumped", value=plaintext)).status_code == 201
    body = secure_value("dumped", value=plaintext + "-2")
    assert b.session.put(b.sv_url(name="dumped"), json=body).status_code == 200
    dump = postgres.dump()
    assert b"dumped" in dump  # the dump does hold the data...
    assert plaintext.encode() not in dump  # ...but never a value in plaintext
    assert VALUE.encode() not in dump
    for server in (a, b):
        assert plaintext not in server.log() and VALUE not in server.log()


def test_a_replica_without_a_shared_kek_refuses_to_start(postgres, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "apiserver",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            "--database-url",
            postgres.url(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("APISERVER_KEK")},
    )
    assert result.returncode == 2
    assert "--kek-file" in result.stderr and "APISERVER_KEK" in result.stderr
    assert not (tmp_path / "data" / "kek").exists()  # no key invented


def test_replicas_starting_together_share_one_schema_and_namespace(postgres, tmp_path):
    url = postgres.fresh_url("together")
    kek = write_kek_file(tmp_path / "kek")
    servers = [Server(tmp_path / f"r{i}", ["--database-url", url, "--kek-file", str(kek)]) for i in range(2)]
    # The same settings from the environment, as a container deployment would give them.
    servers.append(Server(tmp_path / "r2", env={"APISERVER_DATABASE_URL": url, "APISERVER_KEK_FILE": str(kek)}))
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(Server.start, servers))  # migrations and `default` raced for
        for server in servers:
            names = [
                n["metadata"]["name"] for n in server.session.get(f"{server.url}/api/v1/namespaces").json()["items"]
            ]
            assert names.count("default") == 1
        servers[0].create_namespace("seen-by-all")
        for server in servers:  # the environment-configured one included: one store
            assert server.session.get(f"{server.url}/api/v1/namespaces/seen-by-all").status_code == 200
    finally:
        for server in servers:
            server.stop()
