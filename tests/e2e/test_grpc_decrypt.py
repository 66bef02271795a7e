"""Grafana's SecureValueDecrypter over gRPC, with grpcio stubs generated from the proto, in both packages."""

from __future__ import annotations

import concurrent.futures
import time

import grpc
import pytest
from grpc_support import DECRYPT, PACKAGES, GrpcServer, code_of, served, start_grpc_server
from identities_support import audit_records, create_token


@pytest.fixture(scope="module")
def g(tmp_path_factory) -> GrpcServer:
    # Many bad tokens on purpose: the failure limit is tested on a server of its own.
    yield from served(tmp_path_factory, "grpc", failure_limit=1000)


def bearer(token: str) -> tuple:
    return (("authorization", f"Bearer {token}"),)


def access(token: str) -> tuple:
    return (("x-access-token", token),)


@pytest.mark.parametrize("package", PACKAGES)
def test_an_allowed_identity_decrypts_with_an_access_token(g, package):
    assert g.decrypt(["db"], package=package, metadata=access(g.issuer.token())) == {"db": "db-pässword"}
    es256 = g.issuer.token(alg="ES256")
    assert g.decrypt(["db"], package=package, metadata=access(es256)) == {"db": "db-pässword"}


@pytest.mark.parametrize("package", PACKAGES)
def test_our_own_service_token_works_as_a_bearer(g, package):
    assert g.decrypt(["db"], package=package, metadata=bearer(g.service_token)) == {"db": "db-pässword"}


@pytest.mark.parametrize("package", PACKAGES)
def test_per_name_results_missing_duplicate_empty_and_forbidden(g, package):
    token = g.issuer.token()
    results = g.decrypt(["db", "db", "", "missing", "other"], package=package, metadata=access(token))
    # Duplicates answered once, the empty name dropped (as Grafana's client does before it calls).
    assert results == {"db": "db-pässword", "missing": ("error", "not found"), "other": ("error", "not authorized")}


@pytest.mark.parametrize("package", PACKAGES)
def test_refusals_by_identity_and_permission(g, package):
    def one(**claims):
        return g.decrypt(["db"], package=package, metadata=access(g.issuer.token(**claims)))["db"]

    assert one(serviceIdentity="svc-b") == ("error", "not authorized")  # wrong identity
    assert one(serviceIdentity=None) == ("error", "not authorized")  # no identity
    assert one(serviceIdentity=["svc-a", "svc-b"]) == ("error", "not authorized")  # more than one
    assert one(permissions=[]) == ("error", "not authorized")  # missing permission
    assert one(permissions=["secret.grafana.app/securevalues:*"]) == ("error", "not authorized")  # wildcard verb
    assert one(permissions=["secret.grafana.app/*:decrypt"]) == ("error", "not authorized")
    assert one(permissions=["secret.grafana.app/securevalues/db:decrypt"]) == "db-pässword"  # this name
    assert one(permissions=["secret.grafana.app/securevalues/other:decrypt"]) == ("error", "not authorized")
    # A forbidden caller learns nothing about existence: a missing name looks the same.
    results = g.decrypt(["db", "missing"], package=package, metadata=access(g.issuer.token(permissions=[])))
    assert results == {"db": ("error", "not authorized"), "missing": ("error", "not authorized")}


@pytest.mark.parametrize("package", PACKAGES)
def test_bad_tokens_are_unauthenticated(g, package):
    issuer = g.issuer
    bad = {
        "expired": issuer.token(exp=1_000_000, iat=999_000, nbf=999_000),
        "not yet valid": issuer.token(nbf=4_000_000_000, exp=4_000_000_600),
        "expired beyond the leeway": issuer.token(exp=int(time.time()) - 40),
        "exp not a number": issuer.token(exp="tomorrow"),
        "wrong audience": issuer.token(aud=["grafana.app"]),
        "no audience": issuer.token(aud=None),
        "wrong typ": issuer.token(typ="jwt"),
        "unknown kid": issuer.token(kid="nobody-knows"),
        "bad signature": issuer.token()[:-6] + "AAAAAA",
        "alg none": issuer.unsigned(),
        "HS256 with the public key": issuer.hs256_with_public_key(),
        "ES256 header on an RSA key": issuer.token(alg="ES256", kid=issuer.rsa_kid),
        "not a JWT": "garbage",
    }
    for what, token in bad.items():
        code = code_of(lambda t=token: g.decrypt(["db"], package=package, metadata=access(t)))
        assert code == grpc.StatusCode.UNAUTHENTICATED, what
    assert code_of(lambda: g.decrypt(["db"], package=package)) == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(lambda: g.decrypt(["db"], package=package, metadata=bearer("sas_nope"))) == (
        grpc.StatusCode.UNAUTHENTICATED
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_namespace_rules(g, package):
    token = g.issuer.token(namespace="org-2")
    call = lambda: g.decrypt(["db"], package=package, metadata=access(token))  # noqa: E731
    assert code_of(call) == grpc.StatusCode.PERMISSION_DENIED
    everywhere = g.issuer.token(namespace="*")
    assert g.decrypt(["db"], package=package, metadata=access(everywhere)) == {"db": "db-pässword"}
    empty = lambda: g.decrypt(["db"], package=package, namespace="", metadata=access(everywhere))  # noqa: E731
    assert code_of(empty) == grpc.StatusCode.INVALID_ARGUMENT
    other = lambda: g.decrypt(["db"], package=package, namespace="org-2", metadata=bearer(g.service_token))  # noqa: E731
    assert code_of(other) == grpc.StatusCode.PERMISSION_DENIED


def test_64_concurrent_calls_all_answer(g):
    channel = grpc.insecure_channel(g.address)
    token = g.issuer.token()

    def one(i: int):
        package = "decryptv1" if i % 2 else "decryptv1beta1"
        return g.decrypt(["db", "by-name"], package=package, metadata=access(token), channel=channel)

    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        results = list(pool.map(one, range(64)))
    assert all(r == {"db": "db-pässword", "by-name": "named"} for r in results)


def test_an_audit_record_per_name_with_the_claimed_service_name(g):
    metadata = (*access(g.issuer.token()), ("x-grafana-service-identity-name", "grafana-audit-test"))
    g.decrypt(["db", "missing", "other"], metadata=metadata)
    records = [r for r in audit_records(g.server.data_dir) if r.get("serviceIdentityName") == "grafana-audit-test"]
    assert sorted((r["name"], r["outcome"]) for r in records) == [
        ("db", "success"),
        ("missing", "denied"),
        ("other", "denied"),
    ]
    assert all(r["operation"] == "decrypt" and r["serviceIdentity"] == "svc-a" for r in records)
    log = (g.server.data_dir / "audit.log").read_bytes()
    assert "db-pässword".encode() not in log and g.service_token.encode() not in log
    assert "db-pässword".encode() not in g.server.log().encode()


def test_failed_authentications_are_rate_limited(tmp_path):
    limited = start_grpc_server(tmp_path / "data", failure_limit=3)
    try:
        codes = [code_of(lambda: limited.decrypt(["db"], metadata=bearer("sas_wrong"))) for _ in range(6)]
        assert codes[:3] == [grpc.StatusCode.UNAUTHENTICATED] * 3
        assert codes[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        limited.server.stop()


def test_per_name_permissions_of_our_own_tokens_hold_over_grpc(g):
    narrow, _ = create_token(
        g.server, serviceIdentity="svc-a", decryptPermissions=["secret.grafana.app/securevalues/by-name:decrypt"]
    )
    got = g.decrypt(["db", "by-name"], metadata=bearer(narrow))
    assert got == {"db": ("error", "not authorized"), "by-name": "named"}
    full, _ = create_token(g.server, serviceIdentity="svc-a", decryptPermissions=[DECRYPT])
    assert g.decrypt(["db", "by-name"], metadata=bearer(full)) == {"db": "db-pässword", "by-name": "named"}
    user, _ = create_token(g.server, role="admin")  # no service identity: users never decrypt
    assert g.decrypt(["db"], metadata=bearer(user)) == {"db": ("error", "not authorized")}


def test_a_message_that_is_not_the_methods_is_invalid_argument(g):
    token = g.issuer.token()
    with grpc.insecure_channel(g.address) as channel:
        for package in PACKAGES:
            method = channel.unary_unary(f"/{package}.SecureValueDecrypter/DecryptSecureValues")
            # garbage, a namespace that is not UTF-8, a name cut short: never grpcio's INTERNAL
            for raw in (b"\xff\xff\xff\xff", b"\x0a\x02\xff\xfe", b"\x12\x05ab"):
                with pytest.raises(grpc.RpcError) as caught:
                    method(raw, metadata=access(token), timeout=10)
                assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raw
    assert "Traceback" not in g.server.log()
