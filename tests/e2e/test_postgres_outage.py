"""Losing PostgreSQL under two replicas: 503 with Retry-After (never a hang, never a 500), then recovery."""

from __future__ import annotations

import time

import pytest
from harness import secure_value
from identities_support import call, create_token
from pg import start_postgres
from test_postgres_replicas import start_replicas


@pytest.fixture
def own_postgres():
    server = start_postgres()  # its own server: this test stops it
    yield server
    server.destroy()


def wait_until(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "not recovered in time"
        time.sleep(0.2)


def test_stopping_postgres_gives_503_and_the_replicas_recover(own_postgres, tmp_path):
    a, b = start_replicas(tmp_path, own_postgres.fresh_url("outage"))
    try:
        body = secure_value("before", decrypters=["synthetic-monitoring"])
        assert a.session.post(a.sv_url(), json=body).status_code == 201
        token, _ = create_token(a, serviceIdentity="synthetic-monitoring")
        assert call("POST", f"{b.sv_url(name='before')}/decrypt", token).status_code == 200
        own_postgres.stop()
        for server in (a, b):
            started = time.monotonic()
            answers = [
                server.session.get(server.sv_url(name="before"), timeout=20),
                server.session.get(server.sv_url(), timeout=20),
                server.session.post(server.sv_url(), json=secure_value("during"), timeout=20),
                server.session.delete(server.sv_url(name="before"), timeout=20),
                call("POST", f"{server.sv_url(name='before')}/decrypt", token),
            ]
            assert time.monotonic() - started < 20
            for response in answers:
                assert response.status_code == 503, response.text
                assert response.headers["Retry-After"] == "1"
                status = response.json()
                assert (status["kind"], status["reason"], status["code"]) == ("Status", "ServiceUnavailable", 503)
            # resourceVersion=0 asks for any state: the cache answers it even now.
            cached = server.session.get(server.sv_url(), params={"resourceVersion": "0"}, timeout=20)
            assert cached.status_code == 200
            assert [i["metadata"]["name"] for i in cached.json()["items"]] == ["before"]
            assert server.session.get(f"{server.url}/livez").status_code == 200
            # Not ready: a load balancer sends requests to replicas that can answer them.
            assert server.session.get(f"{server.url}/readyz", timeout=20).status_code == 503
        own_postgres.start()
        wait_until(lambda: a.session.post(a.sv_url(), json=secure_value("after")).status_code == 201)
        got = wait_until(lambda: (r := b.session.get(b.sv_url(name="after"))).status_code == 200 and r)
        assert got.json()["metadata"]["name"] == "after"
        # B's listener is back too: a watch on B sees A's next write.
        rv = got.json()["metadata"]["resourceVersion"]
        assert a.session.post(a.sv_url(), json=secure_value("later")).status_code == 201
        with b.session.get(b.sv_url(), params={"watch": "1", "resourceVersion": rv}, stream=True, timeout=15) as stream:
            assert stream.status_code == 200
            assert b'"later"' in next(stream.iter_lines())
        for server in (a, b):
            wait_until(lambda: server.session.get(f"{server.url}/readyz").status_code == 200)
            assert "Traceback" not in server.log()
    finally:
        a.stop()
        b.stop()
