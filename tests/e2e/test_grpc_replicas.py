"""gRPC decrypt on two replicas of one PostgreSQL store: consistent calls, UNAVAILABLE (never INTERNAL) in an outage."""

from __future__ import annotations

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import code_of, start_grpc_server
from harness import secure_value
from identities_support import create_token
from pg import start_postgres
from test_postgres_replicas import write_kek_file


@pytest.fixture
def own_postgres():
    server = start_postgres()  # its own server: this test stops it
    yield server
    server.destroy()


def bearer(token: str) -> tuple:
    return (("authorization", f"Bearer {token}"),)


def health_status(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status


def wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)
    return result


def test_replicas_answer_consistently_and_say_unavailable_when_the_database_is_away(own_postgres, tmp_path):
    shared = ["--database-url", own_postgres.fresh_url("grpc"), "--kek-file", str(write_kek_file(tmp_path / "kek"))]
    a = start_grpc_server(tmp_path / "a", *shared)
    b = start_grpc_server(tmp_path / "b", *shared, seed=False)
    try:
        # A token and a value made on A are seen at once by a call on B: no waiting, no stale cache.
        for i in range(5):
            token, _ = create_token(a.server, serviceIdentity=f"fresh-{i}", role="viewer")
            body = secure_value(f"fresh-{i}", value=f"value-{i}", decrypters=[f"fresh-{i}"])
            assert a.server.session.post(a.server.sv_url(), json=body).status_code == 201
            assert b.decrypt([f"fresh-{i}"], metadata=bearer(token)) == {f"fresh-{i}": f"value-{i}"}
        assert b.decrypt(["db"], metadata=bearer(a.service_token)) == {"db": "db-pässword"}
        assert health_status(b.address) == health_pb2.HealthCheckResponse.SERVING

        own_postgres.stop()
        for replica in (a, b):
            started = time.monotonic()
            code = code_of(lambda r=replica: r.decrypt(["db"], metadata=bearer(a.service_token)))
            assert code == grpc.StatusCode.UNAVAILABLE  # Grafana's client retries this one
            assert time.monotonic() - started < 20
            not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
            wait_for(lambda r=replica: health_status(r.address) == not_serving)

        own_postgres.start()
        for replica in (a, b):
            wait_for(lambda r=replica: health_status(r.address) == health_pb2.HealthCheckResponse.SERVING)
            assert replica.decrypt(["db"], metadata=bearer(a.service_token)) == {"db": "db-pässword"}
            log = replica.server.log()
            assert "Traceback" not in log and "db-pässword" not in log
    finally:
        a.server.stop()
        b.server.stop()
