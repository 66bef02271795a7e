"""The gRPC port itself: TLS with the HTTP certificate options, gRPC health, and server reflection."""

from __future__ import annotations

import socket
import subprocess
import sys

import grpc
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FieldDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_support import PACKAGES, GrpcServer, Issuer, code_of, served, start_grpc_server, write_ca_signed_certificate
from harness import Server, free_port, secure_value

STRING = FieldDescriptor.TYPE_STRING
DECRYPT_SERVICES = [f"{package}.SecureValueDecrypter" for package in PACKAGES]


def access(token: str) -> tuple:
    return (("x-access-token", token),)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> GrpcServer:
    yield from served(tmp_path_factory, "grpc-plain")


def test_tls_with_the_given_certificate_and_key(tmp_path):
    ca, cert, key = write_ca_signed_certificate(tmp_path / "pki")
    g = start_grpc_server(tmp_path / "data", "--tls-cert", str(cert), "--tls-key", str(key), scheme="https")
    try:
        trusted = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
        for target in (g.address, f"localhost:{g.grpc_port}"):  # the IP and the DNS name in the certificate
            with grpc.secure_channel(target, trusted) as channel:
                for package in PACKAGES:
                    got = g.decrypt(["db"], package=package, metadata=access(g.issuer.token()), channel=channel)
                    assert got == {"db": "db-pässword"}
        # A client that does not trust the CA, or speaks plaintext to the TLS port, gets nothing.
        untrusted = grpc.ssl_channel_credentials()
        with grpc.secure_channel(g.address, untrusted) as channel:
            call = lambda: g.decrypt(["db"], metadata=access(g.issuer.token()), channel=channel)  # noqa: E731
            assert code_of(call) == grpc.StatusCode.UNAVAILABLE
        with grpc.insecure_channel(g.address) as channel:
            call = lambda: g.decrypt(["db"], metadata=access(g.issuer.token()), channel=channel)  # noqa: E731
            assert code_of(call) == grpc.StatusCode.UNAVAILABLE
        assert "db-pässword" not in g.server.log()
    finally:
        g.server.stop()


def test_tls_with_the_self_signed_certificate(tmp_path):
    g = start_grpc_server(tmp_path / "data", "--tls-self-signed", scheme="https")
    try:
        # The same certificate as HTTPS, which a client can take as its root (as kubeconfig does).
        pem = (tmp_path / "data" / "tls" / "tls.crt").read_bytes()
        with grpc.secure_channel(g.address, grpc.ssl_channel_credentials(root_certificates=pem)) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            token = g.issuer.token(alg="ES256")
            assert g.decrypt(["db"], package="decryptv1", metadata=access(token), channel=channel) == {
                "db": "db-pässword"
            }
    finally:
        g.server.stop()


def test_health_check_and_watch_answer_serving_for_the_server_and_both_services(plain):
    with grpc.insecure_channel(plain.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", *DECRYPT_SERVICES):
            # Health needs no credentials, as /livez and /readyz over HTTP.
            answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING, service
            watch = stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING, service
            watch.cancel()
        unknown = lambda: stub.Check(health_pb2.HealthCheckRequest(service="nope.Nothing"), timeout=10)  # noqa: E731
        assert code_of(unknown) == grpc.StatusCode.NOT_FOUND


def test_reflection_lists_the_services_and_resolves_the_decrypt_descriptor(plain):
    with grpc.insecure_channel(plain.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        answer = next(stub.ServerReflectionInfo(iter([request]), timeout=10))
        listed = {service.name for service in answer.list_services_response.service}
        assert listed == {*DECRYPT_SERVICES, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}

        # What grpcurl does: rebuild the service from the server's descriptors alone, then check the
        # wire contract Grafana's clients rely on (method, messages, field numbers and types).
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        for package in PACKAGES:
            service = pool.FindServiceByName(f"{package}.SecureValueDecrypter")
            method = service.methods_by_name["DecryptSecureValues"]
            assert method.input_type.full_name == f"{package}.SecureValueDecryptRequest"
            assert method.output_type.full_name == f"{package}.SecureValueDecryptResponseCollection"
            assert not method.client_streaming and not method.server_streaming
            fields = {f.name: (f.number, f.type) for f in method.input_type.fields}
            assert fields == {"namespace": (1, STRING), "names": (2, STRING)}
            assert method.input_type.fields_by_name["names"].is_repeated
            values = method.output_type.fields_by_name["decrypted_values"]
            assert values.number == 1 and values.message_type.GetOptions().map_entry
            result = values.message_type.fields_by_name["value"].message_type
            assert result.full_name == f"{package}.Result"
            assert {f.name: f.number for f in result.fields} == {"value": 1, "error_message": 2}
            assert [f.name for f in result.oneofs_by_name["result"].fields] == ["value", "error_message"]
            assert pool.FindFileContainingSymbol(f"{package}.Result").package == package


def test_a_grpc_port_already_taken_stops_the_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "apiserver", "serve", "--host", "127.0.0.1", "--port", str(free_port())]
            + ["--data-dir", str(tmp_path / "data"), "--grpc-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr


def test_the_grpc_port_and_jwks_from_the_environment_and_the_config_file(tmp_path):
    issuer = Issuer()
    jwks = issuer.write_jwks(tmp_path / "jwks.json")
    config = tmp_path / "config.yaml"
    config.write_text(f"grafana_jwks:\n  - {jwks}\n")
    port = free_port()
    env = {"APISERVER_GRPC_PORT": str(port)}
    server = Server(tmp_path / "data", ["--config", str(config)], env).start()
    try:
        body = secure_value("db", value="from-config", decrypters=["svc-a"])
        assert server.session.post(server.sv_url(), json=body).status_code == 201
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            stub = PACKAGES["decryptv1"][1].SecureValueDecrypterStub(channel)
            request = PACKAGES["decryptv1"][0].SecureValueDecryptRequest(namespace="default", names=["db"])
            answer = stub.DecryptSecureValues(request, metadata=access(issuer.token(alg="ES256")), timeout=10)
            assert answer.decrypted_values["db"].value == "from-config"
    finally:
        server.stop()
