"""Audit fails closed: a request whose record cannot be written is refused with 503 in its surface's
dialect (gRPC: UNAVAILABLE), no decrypted value leaves, no torn record stays in the file, and
service resumes by itself when a target can be written again. Several targets: one must succeed.
On real failing devices: a full tmpfs, a path that cannot be opened, a Unix socket that goes away."""

from __future__ import annotations

import json

import grpc
import pytest
import requests
from audit_support import SocketReceiver, SyslogReceiver, eventually, every_line_parses, readyz
from disk_support import fill, small_tmpfs
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_support import GrpcServer, start_grpc_server
from harness import Server, secure_value
from identities_support import call, create_token

DEFAULT_ORG = "0000000000000001"
VALUE = "db-pässword"  # the value of "db" in start_grpc_server, decryptable by svc-a
MAX_DECRYPTS_TO_FILL = 400


def decrypt_db(g: GrpcServer) -> requests.Response:
    return call("POST", f"{g.server.sv_url(name='db')}/decrypt", g.service_token)


def decrypt_many(g: GrpcServer) -> requests.Response:
    url = f"{g.server.url}/apis/secret.grafana.app/v1beta1/namespaces/default/decrypt"
    return call("POST", url, g.service_token, json={"names": ["db", "by-name", "missing"]})


def grpc_refusal(g: GrpcServer) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        g.decrypt(["db", "by-name"], metadata=(("authorization", f"Bearer {g.service_token}"),))
    return caught.value


def assert_native_503(response: requests.Response) -> None:
    assert response.status_code == 503, response.text
    status = response.json()
    assert (status["kind"], status["status"], status["reason"], status["code"]) == (
        "Status",
        "Failure",
        "ServiceUnavailable",
        503,
    )
    assert "audit" in status["message"]
    assert response.headers["Retry-After"] == "1"
    assert VALUE not in response.text and "named" not in response.text


def grpc_health(g: GrpcServer) -> int:
    with grpc.insecure_channel(g.address) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status


def exchange(g: GrpcServer) -> requests.Response:
    body = {"namespace": "default", "audiences": ["secret.grafana.app"]}
    return call("POST", f"{g.server.url}/v1/sign-access-token", g.service_token, json=body)


def cloudflare_store(server: Server) -> str:
    namespace = server.session.get(f"{server.url}/api/v1/namespaces/default").json()
    account = namespace["metadata"]["annotations"]["compat.apiserver.local/cloudflare-account-id"]
    stores = f"{server.url}/client/v4/accounts/{account}/secrets_store/stores"
    created = server.session.post(stores, json={"name": "main"})
    assert created.status_code == 200, created.text
    return f"{stores}/{created.json()['result']['id']}/secrets"


def test_a_full_audit_disk_refuses_audited_requests_in_every_dialect_and_service_resumes(tmp_path):
    with small_tmpfs(tmp_path / "audit", "1m") as disk:
        audit_log = disk / "audit.log"
        g = start_grpc_server(tmp_path / "data", "--audit-log", str(audit_log))
        try:
            server = g.server
            secrets_url = cloudflare_store(server)
            viewer, _ = create_token(server, role="viewer", subject="user:viewer")
            assert decrypt_db(g).json() == {"value": VALUE}

            filler = fill(disk)
            # The last page of the log still takes a few records; the one that does not fit is cut short.
            for _ in range(MAX_DECRYPTS_TO_FILL):
                refused = decrypt_db(g)
                if refused.status_code != 200:
                    break
                assert refused.json() == {"value": VALUE}
            else:
                raise AssertionError("the audit disk never filled up")
            assert_native_503(refused)
            assert_native_503(decrypt_many(g))
            error = grpc_refusal(g)
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            assert VALUE not in (error.details() or "")

            # Writes are refused before they happen, and so is a denial that cannot be recorded.
            assert_native_503(server.session.post(server.sv_url(), json=secure_value("unaudited", value="never-1")))
            assert server.session.get(server.sv_url(name="unaudited")).status_code == 404
            assert_native_503(call("POST", server.sv_url(), viewer, json=secure_value("denied", value="never-2")))
            influx = server.session.patch(f"{server.url}/api/v2/orgs/{DEFAULT_ORG}/secrets", json={"ik": "never-3"})
            assert influx.status_code == 503, influx.text
            assert influx.json()["code"] == "unavailable" and "audit" in influx.json()["message"]
            secret = [{"name": "CF", "value": "never-4", "scopes": ["workers"]}]
            cloudflare = server.session.post(secrets_url, json=secret)
            assert cloudflare.status_code == 503, cloudflare.text
            envelope = cloudflare.json()
            assert envelope["success"] is False
            assert envelope["errors"] == [{"code": 1000, "message": "service_unavailable"}]
            # Reads are not audited: they go on.
            assert server.session.get(server.sv_url()).status_code == 200
            ready = readyz(server.url)
            assert ready.status_code == 503, ready.text
            assert (
                "[-]audit failed: no audit target can be written: target 1 (file): No space left on device"
                in ready.text
            )
            assert str(disk) not in ready.text  # the probe is public: no paths
            assert "cut back to the last whole record" in server.log()

            every_line_parses(audit_log)
            filler.unlink()
            eventually(lambda: decrypt_db(g).status_code == 200)
            assert decrypt_db(g).json() == {"value": VALUE}
            assert g.decrypt(["db"], metadata=(("authorization", f"Bearer {g.service_token}"),)) == {"db": VALUE}
            assert server.session.post(server.sv_url(), json=secure_value("audited", value="v")).status_code == 201
            assert readyz(server.url).status_code == 200

            records = every_line_parses(audit_log)
            resumed = [r for r in records if r["operation"] == "audit.resumed"]
            assert len(resumed) == 1 and "refused" in resumed[0]["reason"]
            assert not any(r["name"] in ("unaudited", "denied") for r in records)
            assert [r["outcome"] for r in records if r["name"] == "audited"] == ["success"]
            text = audit_log.read_bytes() + server.log().encode()
            for secret in (VALUE.encode(), b"never-1", b"never-2", b"never-3", b"never-4", g.service_token.encode()):
                assert secret not in text
        finally:
            g.server.stop()


def test_one_of_several_targets_suffices_and_a_socket_target_that_returns_resumes_service(tmp_path):
    receiver = SocketReceiver(tmp_path / "audit.sock").start()
    broken = tmp_path / "a-directory"  # no file can be opened at this path: a target failing from the start
    broken.mkdir()
    # Several targets from the environment, separated by commas (as the flag given twice).
    g = start_grpc_server(tmp_path / "data", env={"APISERVER_AUDIT_LOG": f"{broken},unix:{receiver.path}"})
    try:
        server = g.server
        assert decrypt_db(g).json() == {"value": VALUE}
        assert exchange(g).status_code == 200
        eventually(lambda: any(r["operation"] == "decrypt" and r["name"] == "db" for r in receiver.records()))
        exchanges = [r for r in receiver.records() if r["operation"] == "token.exchange"]
        assert [(r["resource"], r["namespace"], r["outcome"]) for r in exchanges] == [
            ("accesstokens", "default", "success")
        ]
        ready = requests.get(f"{server.url}/readyz?verbose", timeout=10)
        assert ready.status_code == 200 and "[+]audit ok" in ready.text, ready.text
        assert f"audit target file {broken} failed: Is a directory" in server.log()

        receiver.stop()  # now no target can take a record
        eventually(lambda: decrypt_db(g).status_code == 503)
        assert_native_503(decrypt_db(g))
        assert grpc_refusal(g).code() == grpc.StatusCode.UNAVAILABLE
        assert_native_503(server.session.post(server.sv_url(), json=secure_value("unaudited", value="never-1")))
        refused = exchange(g)  # no access token leaves unaudited either; authlib's error shape
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1", refused.text
        assert refused.json()["status"] == "error" and "token" not in refused.json()
        ready = readyz(server.url)
        assert ready.status_code == 503 and "target 2 (unix socket)" in ready.text, ready.text
        # gRPC health follows the readiness checks (polled): Grafana's client moves on to another replica.
        eventually(lambda: grpc_health(g) == health_pb2.HealthCheckResponse.NOT_SERVING)

        receiver.start()  # the collector is back at the same path: service resumes without a restart
        eventually(lambda: decrypt_db(g).status_code == 200)
        assert g.decrypt(["db"], metadata=(("authorization", f"Bearer {g.service_token}"),)) == {"db": VALUE}
        eventually(lambda: any(r["operation"] == "audit.resumed" for r in receiver.records()))
        assert not any(r["name"] == "unaudited" for r in receiver.records())
        eventually(lambda: grpc_health(g) == health_pb2.HealthCheckResponse.SERVING)

        broken.rmdir()  # the file target can be opened now: it takes records again
        file = broken

        def file_has_records() -> bool:
            decrypt_db(g)
            return file.is_file() and any(r["operation"] == "decrypt" for r in every_line_parses(file))

        eventually(file_has_records)
        assert readyz(server.url).text == "ok"
    finally:
        g.server.stop()
        receiver.stop()


def test_a_server_whose_only_target_cannot_be_opened_is_not_ready_and_recovers_by_itself(tmp_path):
    target = tmp_path / "audit.log"
    target.mkdir()
    server = Server(tmp_path / "data", ["--audit-log", str(target)])
    server.start(ready_path="/livez")
    try:
        ready = readyz(server.url)
        assert ready.status_code == 503 and "Is a directory" in ready.text, ready.text
        assert_native_503(server.session.post(server.sv_url(), json=secure_value("early", value="never-1")))
        assert server.session.get(server.sv_url()).status_code == 200

        target.rmdir()
        eventually(lambda: readyz(server.url).status_code == 200)
        assert server.session.post(server.sv_url(), json=secure_value("later", value="v")).status_code == 201
        records = every_line_parses(target)
        assert [r["operation"] for r in records][-2:] == ["audit.resumed", "create"]
        assert not any(r["name"] == "early" for r in records)
    finally:
        server.stop()


def test_a_syslog_target_gets_one_datagram_per_record_and_is_reconnected(tmp_path):
    receiver = SyslogReceiver(tmp_path / "log.sock").start()
    g = start_grpc_server(tmp_path / "data", "--audit-log", f"syslog:{receiver.path}")
    try:
        assert decrypt_db(g).json() == {"value": VALUE}
        prefix = b"<86>apiserver-audit: "

        def records() -> list[dict]:
            assert all(d.startswith(prefix) for d in receiver.datagrams)
            return [json.loads(d.removeprefix(prefix)) for d in receiver.datagrams]

        eventually(lambda: any(r["operation"] == "decrypt" and r["name"] == "db" for r in records()))
        assert not any(VALUE.encode() in d for d in receiver.datagrams)

        receiver.stop()
        eventually(lambda: decrypt_db(g).status_code == 503)
        assert_native_503(decrypt_db(g))
        receiver.start()
        eventually(lambda: decrypt_db(g).status_code == 200)
    finally:
        g.server.stop()
        receiver.stop()


def test_a_record_torn_by_a_crash_is_cut_when_the_file_is_opened(tmp_path):
    audit_log = tmp_path / "audit.log"
    whole = b'{"operation":"create","name":"before-the-crash"}\n'
    audit_log.write_bytes(whole + b'{"operation":"decrypt","na')  # the process died mid-write
    server = Server(tmp_path / "data", ["--audit-log", str(audit_log)]).start()
    try:
        assert server.session.post(server.sv_url(), json=secure_value("after", value="v")).status_code == 201
        records = every_line_parses(audit_log)
        assert records[0] == {"operation": "create", "name": "before-the-crash"}
        assert [r["name"] for r in records[1:] if r["resource"] == "securevalues"] == ["after"]
    finally:
        server.stop()
