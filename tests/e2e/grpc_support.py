"""Helpers of the gRPC tests: a server with --grpc-port, generated grpcio stubs, access tokens of a test issuer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from harness import Server, free_port, secure_value
from identities_support import create_token
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from apiserver.grpc.generated.decryptv1 import decrypt_pb2 as v1
from apiserver.grpc.generated.decryptv1 import decrypt_pb2_grpc as v1_grpc
from apiserver.grpc.generated.decryptv1beta1 import decrypt_pb2 as v1beta1
from apiserver.grpc.generated.decryptv1beta1 import decrypt_pb2_grpc as v1beta1_grpc

PACKAGES = {"decryptv1beta1": (v1beta1, v1beta1_grpc), "decryptv1": (v1, v1_grpc)}
AUDIENCE = "secret.grafana.app"
DECRYPT = "secret.grafana.app/securevalues:decrypt"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Issuer:
    """An external token issuer whose keys the test generates and gives the server by --grafana-jwks."""

    rsa_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    ec_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    rsa_kid: str = "test-rsa-1"
    ec_kid: str = "test-ec-1"

    def jwks(self) -> dict:
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec_key.public_key()))
        rsa_jwk.update(kid=self.rsa_kid, use="sig", alg="RS256")
        ec_jwk.update(kid=self.ec_kid, use="sig")
        return {"keys": [rsa_jwk, ec_jwk]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def claims(self, **overrides) -> dict:
        now = int(time.time())
        claims = {
            "iss": "https://issuer.test",
            "sub": "access-policy:test",
            "aud": [AUDIENCE],
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            "namespace": "default",
            "permissions": [DECRYPT],
            "serviceIdentity": "svc-a",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, *, alg: str = "RS256", kid: str | None = None, typ: str = "at+jwt", **claims) -> str:
        key = self.rsa_key if alg == "RS256" else self.ec_key
        kid = kid or (self.rsa_kid if alg == "RS256" else self.ec_kid)
        return jwt.encode(self.claims(**claims), key, algorithm=alg, headers={"kid": kid, "typ": typ})

    def unsigned(self, **claims) -> str:
        """`alg: none`: no signature at all."""
        header = {"alg": "none", "typ": "at+jwt", "kid": self.rsa_kid}
        return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(self.claims(**claims)).encode())}."

    def hs256_with_public_key(self, **claims) -> str:
        """The classic confusion: an HMAC whose secret is the trusted public key's PEM."""
        pem = self.rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = {"alg": "HS256", "typ": "at+jwt", "kid": self.rsa_kid}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(self.claims(**claims)).encode())}"
        signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(signature)}"


@dataclass
class GrpcServer:
    server: Server
    grpc_port: int
    issuer: Issuer
    service_token: str  # ours, service identity svc-a, namespace default
    values: dict[str, str]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def stub(self, package: str = "decryptv1beta1", channel: grpc.Channel | None = None):
        _, services = PACKAGES[package]
        return services.SecureValueDecrypterStub(channel or grpc.insecure_channel(self.address))

    def decrypt(self, names, *, package="decryptv1beta1", namespace="default", metadata=(), channel=None):
        messages, _ = PACKAGES[package]
        request = messages.SecureValueDecryptRequest(namespace=namespace, names=list(names))
        response = self.stub(package, channel).DecryptSecureValues(request, metadata=metadata, timeout=20)
        return {
            name: (result.value if result.WhichOneof("result") == "value" else ("error", result.error_message))
            for name, result in response.decrypted_values.items()
        }


def start_grpc_server(
    data_dir: Path,
    *extra: str,
    failure_limit: int = 20,
    scheme: str = "http",
    env: dict[str, str] | None = None,
    seed: bool = True,
) -> GrpcServer:
    """A server with --grpc-port, trusting a test issuer's JWKS, holding three values for svc-a and svc-b
    (unless `seed` is False: another replica of a store already seeded)."""
    issuer = Issuer()
    data_dir.mkdir(parents=True, exist_ok=True)
    jwks = issuer.write_jwks(data_dir.parent / f"{data_dir.name}-issuer-jwks.json")
    port = free_port()
    env = {"APISERVER_AUTH_FAILURE_LIMIT": str(failure_limit), **(env or {})}
    args = ["--grpc-port", str(port), "--grafana-jwks", str(jwks), *extra]
    server = Server(data_dir, args, env, scheme=scheme).start()
    server.session.trust_env = False  # else REQUESTS_CA_BUNDLE would override the session's verify=False
    values = {"db": "db-pässword", "other": "other-secret", "by-name": "named"}
    decrypters = {"db": ["svc-a"], "other": ["svc-b"], "by-name": ["svc-a"]}
    for name, value in values.items() if seed else ():
        response = server.session.post(
            server.sv_url(), json=secure_value(name, value=value, decrypters=decrypters[name])
        )
        assert response.status_code == 201, response.text
    token, _ = create_token(server, serviceIdentity="svc-a", role="viewer")
    return GrpcServer(server, port, issuer, token, values)


def served(tmp_path_factory, prefix: str, **options) -> Iterator[GrpcServer]:
    """The body of a module fixture: a server of `start_grpc_server(**options)`, stopped afterwards."""
    started = start_grpc_server(tmp_path_factory.mktemp(prefix) / "data", **options)
    try:
        yield started
    finally:
        started.server.stop()


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code()


def write_ca_signed_certificate(directory: Path, host: str = "localhost") -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signs for `host` and 127.0.0.1: (ca.crt, tls.crt, tls.key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apiserver test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "ca.crt", directory / "tls.crt", directory / "tls.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    paths[2].chmod(0o600)
    return paths
