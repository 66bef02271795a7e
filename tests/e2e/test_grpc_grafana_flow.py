"""The whole Grafana flow on the wire: authlib's token exchange, then the decrypt with X-Access-Token.

Requests are built byte for byte as grafana/authlib's `TokenExchangeClient` sends them
(`authn/token_exchange.go`: the headers of `withHeaders`, the body Go's json.Marshal makes of a
`TokenExchangeRequest`) and decoded as it decodes them; the decrypt is what Grafana's
`GRPCDecryptClient` sends: the exchanged token as `X-Access-Token`, the calling service's name as
`X-Grafana-Service-Identity-Name`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import grpc
import jwt
import pytest
import requests
from grpc_support import AUDIENCE, DECRYPT, GrpcServer, Issuer, code_of, served, start_grpc_server
from harness import free_port
from identities_support import audit_records, create_token

EXCHANGE = "/v1/sign-access-token"
ROTATE = "/apis/auth.apiserver.local/v1/signingkeys/rotate"


def authlib_headers(token: str) -> dict[str, str]:
    """Exactly the headers of authlib's `TokenExchangeClient.withHeaders`."""
    return {
        "Authorization": "Bearer " + token,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "authlib-client",
        "X-Org-ID": "0",
        "X-Realms": '[{"type": "system", "identifier": "system"}]',
    }


def authlib_body(namespace: str, expires_in: int | None = None, **more) -> bytes:
    """json.Marshal of authlib's TokenExchangeRequest: compact, omitempty fields left out."""
    body: dict = {"namespace": namespace, "audiences": [AUDIENCE]}
    if expires_in is not None:
        body["expiresIn"] = expires_in
    body.update(more)
    return json.dumps(body, separators=(",", ":")).encode()


def exchange(g: GrpcServer, token: str, namespace: str = "default", **kwargs) -> requests.Response:
    return requests.post(
        g.server.url + EXCHANGE, data=authlib_body(namespace, **kwargs), headers=authlib_headers(token), timeout=20
    )


def exchanged(g: GrpcServer, token: str, namespace: str = "default", **kwargs) -> str:
    """authlib's success path: HTTP 200, then `data.token` of `{"data": {"token"}, "status", "error"}`."""
    response = exchange(g, token, namespace, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "success" and not body.get("error")
    return body["data"]["token"]


def grafana_decrypt(g: GrpcServer, access_token: str, names, *, service: str = "provisioning", **kwargs):
    metadata = (("x-access-token", access_token), ("x-grafana-service-identity-name", service))
    return g.decrypt(names, metadata=metadata, **kwargs)


@pytest.fixture(scope="module")
def g(tmp_path_factory) -> GrpcServer:
    yield from served(tmp_path_factory, "grafana-flow")


def test_a_stock_grafana_exchanges_its_token_and_decrypts(g):
    token = exchanged(g, g.service_token)
    header = jwt.get_unverified_header(token)
    # authlib parses access tokens with ES256 only (authn/verifier.go tokenSignAlgs).
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
    jwks = requests.get(g.server.url + "/.well-known/jwks.json", timeout=10).json()
    published = {k["kid"]: k for k in jwks["keys"]}
    assert header["kid"] in published and "d" not in published[header["kid"]]
    key = jwt.PyJWK(published[header["kid"]], "ES256").key
    claims = jwt.decode(token, key, algorithms=["ES256"], audience=AUDIENCE)
    assert claims["namespace"] == "default" and claims["serviceIdentity"] == "svc-a"
    assert claims["permissions"] == [DECRYPT] and claims["aud"] == [AUDIENCE]
    assert claims["exp"] - claims["iat"] == 600  # Grafana's default lifetime; authlib caches until exp-15s
    assert claims["nbf"] <= time.time() + 1 and claims["jti"] and claims["iss"] and claims["sub"]

    # Grafana's client de-duplicates and drops empty names before it calls.
    assert grafana_decrypt(g, token, ["db", "by-name", "missing", "other"]) == {
        "db": "db-pässword",
        "by-name": "named",
        "missing": ("error", "not found"),
        "other": ("error", "not authorized"),
    }
    assert grafana_decrypt(g, token, ["db"], package="decryptv1") == {"db": "db-pässword"}
    records = [r for r in audit_records(g.server.data_dir) if r.get("serviceIdentityName") == "provisioning"]
    assert {(r["name"], r["outcome"]) for r in records} >= {("db", "success"), ("other", "denied")}
    assert all(r["serviceIdentity"] == "svc-a" for r in records)
    assert token.encode() not in (g.server.data_dir / "audit.log").read_bytes()


def test_the_exchange_takes_every_field_authlib_may_send(g):
    short = exchanged(g, g.service_token, expires_in=120, restrictedDelegatedPermissions=["dashboards:read"])
    claims = jwt.decode(short, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120
    assert claims["delegatedPermissions"] == []  # a narrowing of nothing is nothing
    capped = jwt.decode(exchanged(g, g.service_token, expires_in=86400), options={"verify_signature": False})
    assert capped["exp"] - capped["iat"] == 3600
    assert grafana_decrypt(g, short, ["db"]) == {"db": "db-pässword"}


def test_the_exchange_never_gives_more_than_the_token_has(g):
    def refused(response: requests.Response, status: int) -> None:
        assert response.status_code == status, response.text
        body = response.json()  # authlib reports `error` of a non-200 answer
        assert body["error"] and "data" not in body

    refused(exchange(g, "sas_not-a-token"), 401)
    refused(exchange(g, g.service_token, namespace="org-2"), 403)  # another namespace
    refused(exchange(g, g.service_token, namespace="*"), 403)  # all namespaces, from a one-namespace token
    user_token, _ = create_token(g.server, role="admin")  # no service identity: nothing to decrypt as
    refused(exchange(g, user_token), 403)
    bad = requests.post(
        g.server.url + EXCHANGE,
        data=json.dumps({"namespace": "default", "audiences": ["grafana.app"]}),
        headers=authlib_headers(g.service_token),
        timeout=20,
    )
    refused(bad, 403)  # we sign for the secrets audience only
    for body in (b"not json", b"[]", b'{"namespace":"default"}', b'{"audiences":["secret.grafana.app"]}'):
        refused(requests.post(g.server.url + EXCHANGE, data=body, headers=authlib_headers(g.service_token)), 400)
    refused(exchange(g, g.service_token, subjectToken="eyJ.x.y"), 400)  # on-behalf-of is not offered

    # Permissions are the token's own: one for a single name gives an access token for that name only.
    narrow, _ = create_token(
        g.server, serviceIdentity="svc-a", decryptPermissions=["secret.grafana.app/securevalues/by-name:decrypt"]
    )
    access = exchanged(g, narrow)
    assert jwt.decode(access, options={"verify_signature": False})["permissions"] == [
        "secret.grafana.app/securevalues/by-name:decrypt"
    ]
    assert grafana_decrypt(g, access, ["db", "by-name"]) == {"db": ("error", "not authorized"), "by-name": "named"}
    # A token for every namespace may ask for "*", and its access token then works in each.
    everywhere, _ = create_token(g.server, serviceIdentity="svc-a", namespaces=["*"], role="viewer")
    star = exchanged(g, everywhere, namespace="*")
    assert jwt.decode(star, options={"verify_signature": False})["namespace"] == "*"
    assert grafana_decrypt(g, star, ["db"]) == {"db": "db-pässword"}


def test_an_access_token_never_outlives_its_service_token(g):
    brief, _ = create_token(g.server, serviceIdentity="svc-a", role="viewer", expiresIn="60s")
    claims = jwt.decode(exchanged(g, brief), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 60


def test_rotating_the_signing_key_keeps_old_tokens_valid(g):
    before = exchanged(g, g.service_token)
    old_kid = jwt.get_unverified_header(before)["kid"]
    assert requests.post(g.server.url + ROTATE, headers=authlib_headers(g.service_token), timeout=20).status_code == 403
    done = subprocess.run(
        [sys.executable, "-m", "apiserver", "keys", "rotate-signing-key", "--server", g.server.url]
        + ["--token", g.server.admin_token],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    new_kid = done.stdout.split()[3]
    assert done.stdout.startswith(f"new signing key {new_kid} (ES256)") and new_kid != old_kid

    after = exchanged(g, g.service_token, expires_in=300)  # a new lifetime: not authlib's cached token
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    published = {k["kid"] for k in requests.get(g.server.url + "/.well-known/jwks.json", timeout=10).json()["keys"]}
    assert {old_kid, new_kid} <= published  # the old key stays until its tokens have expired
    listed = {k["kid"]: k for k in g.server.session.get(g.server.url + ROTATE.rsplit("/", 1)[0]).json()["items"]}
    assert listed[old_kid]["retired"] is not None and listed[new_kid]["retired"] is None
    assert grafana_decrypt(g, before, ["db"]) == {"db": "db-pässword"}
    assert grafana_decrypt(g, after, ["db"]) == {"db": "db-pässword"}
    # The keys are in the store, not in memory: a restart signs with the new key and trusts both.
    g.server.restart()
    assert grafana_decrypt(g, before, ["db"]) == {"db": "db-pässword"}
    later = exchanged(g, g.service_token, expires_in=200)
    assert jwt.get_unverified_header(later)["kid"] == new_kid


def test_external_issuers_given_by_grafana_jwks(tmp_path):
    """Two issuers (keys generated here), each in its own --grafana-jwks file, RS256 and ES256 alike."""
    first, second = Issuer(rsa_kid="cloud-rsa", ec_kid="cloud-ec"), Issuer(rsa_kid="other-rsa", ec_kid="other-ec")
    second_file = second.write_jwks(tmp_path / "second-jwks.json")
    g = start_grpc_server(tmp_path / "data", "--grafana-jwks", str(second_file))
    try:
        for issuer in (g.issuer, second):
            for alg in ("RS256", "ES256"):
                assert grafana_decrypt(g, issuer.token(alg=alg), ["db"]) == {"db": "db-pässword"}
        stranger = first.token(alg="ES256")  # a well-formed token of an issuer nobody trusts
        assert code_of(lambda: grafana_decrypt(g, stranger, ["db"])) == grpc.StatusCode.UNAUTHENTICATED
        # Our own keys stay trusted beside the operator's.
        assert grafana_decrypt(g, exchanged(g, g.service_token), ["db"]) == {"db": "db-pässword"}
    finally:
        g.server.stop()


def test_an_unreadable_jwks_file_stops_the_start(tmp_path):
    broken = tmp_path / "broken-jwks.json"
    broken.write_text('{"keys": "nope"}')
    done = subprocess.run(
        [sys.executable, "-m", "apiserver", "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d")]
        + ["--grpc-port", str(free_port()), "--grafana-jwks", str(broken)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and str(broken) in done.stderr and "Traceback" not in done.stderr
