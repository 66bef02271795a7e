"""One body limit, `--max-body-bytes` (or APISERVER_MAX_BODY_BYTES, or the config file), on every surface.

Each surface answers a body over the limit with 413 in its own dialect, naming the configured
number: Kubernetes Status, InfluxDB `{code, message}`, Cloudflare's envelope, the token
exchange's `{error, status}`, the page's sign-in, and gRPC's RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import grpc
import pytest
import requests
from harness import free_port

from apiserver.grpc.generated.decryptv1beta1 import decrypt_pb2, decrypt_pb2_grpc

LIMIT = 2000
TOO_BIG = b'{"a":"' + b"x" * (LIMIT * 2) + b'"}'


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    from harness import Server

    grpc_port = free_port()
    server = Server(
        tmp_path_factory.mktemp("limits") / "data", ["--max-body-bytes", str(LIMIT), "--grpc-port", str(grpc_port)]
    )
    server.start()
    server.grpc_port = grpc_port  # type: ignore[attr-defined]
    yield server
    server.stop()


def _post(server, path: str, body: bytes = TOO_BIG, method: str = "POST", **headers: str) -> requests.Response:
    headers = {"Content-Type": "application/json", **headers}
    return server.session.request(method, server.url + path, data=body, headers=headers, timeout=30)


def test_native_413_is_a_status_naming_the_configured_limit(limited):
    for method, path in (
        ("POST", "/apis/secret.grafana.app/v1beta1/namespaces/default/securevalues"),
        ("POST", "/api/v1/namespaces"),
        ("POST", "/apis/auth.apiserver.local/v1/tokens"),
    ):
        response = _post(limited, path, method=method)
        assert response.status_code == 413, (path, response.text)
        body = response.json()
        assert (body["kind"], body["reason"], body["code"]) == ("Status", "RequestEntityTooLarge", 413)
        assert body["message"] == f"Request entity too large: limit is {LIMIT}"


def test_a_chunked_body_without_length_is_cut_at_the_limit_too(limited):
    def chunks():
        for _ in range(10):
            yield b" " * 1000

    response = limited.session.post(
        limited.sv_url(), data=chunks(), headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == 413
    assert response.json()["message"] == f"Request entity too large: limit is {LIMIT}"


def test_influxdb_413_is_request_too_large(limited):
    response = _post(limited, "/api/v2/orgs/0000000000000001/secrets", method="PATCH")
    assert response.status_code == 413, response.text
    assert response.headers["X-Platform-Error-Code"] == "request too large"
    assert response.json() == {"code": "request too large", "message": f"Request entity too large: limit is {LIMIT}"}


def _stores_path(server) -> str:
    namespace = server.session.get(f"{server.url}/api/v1/namespaces/default").json()
    account = namespace["metadata"]["annotations"]["compat.apiserver.local/cloudflare-account-id"]
    return f"/client/v4/accounts/{account}/secrets_store/stores"


def test_cloudflare_413_is_an_envelope(limited):
    response = _post(limited, _stores_path(limited))
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["success"] is False and body["result"] is None
    assert body["errors"] == [{"code": 1001, "message": f"request_body_too_large: limit is {LIMIT} bytes"}]


def test_token_exchange_and_page_sign_in_413(limited):
    exchange = _post(limited, "/v1/sign-access-token")
    assert exchange.status_code == 413, exchange.text
    assert exchange.json() == {"error": f"Request entity too large: limit is {LIMIT}", "status": "error"}

    sign_in = requests.post(f"{limited.url}/ui/api/session", data=TOO_BIG, headers={"Content-Type": "application/json"})
    assert sign_in.status_code == 413, sign_in.text
    assert str(LIMIT) in sign_in.text


def test_grpc_message_over_the_limit_is_resource_exhausted(limited):
    stub = decrypt_pb2_grpc.SecureValueDecrypterStub(grpc.insecure_channel(f"127.0.0.1:{limited.grpc_port}"))
    request = decrypt_pb2.SecureValueDecryptRequest(namespace="default", names=["n" * (LIMIT * 2)])
    with pytest.raises(grpc.RpcError) as caught:
        stub.DecryptSecureValues(request, metadata=[("authorization", f"Bearer {limited.admin_token}")], timeout=20)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(LIMIT) in (caught.value.details() or "")


def test_the_limit_comes_from_the_environment_or_the_config_file(server_factory, tmp_path):
    by_env = server_factory(env={"APISERVER_MAX_BODY_BYTES": "1500"})
    response = _post(by_env, "/apis/secret.grafana.app/v1beta1/namespaces/default/securevalues")
    assert response.status_code == 413 and response.json()["message"] == "Request entity too large: limit is 1500"

    config = tmp_path / "config.yaml"
    config.write_text("max_body_bytes: 1700\n")
    by_file = server_factory("--config", str(config))
    response = _post(by_file, _stores_path(by_file))
    assert response.status_code == 413
    assert response.json()["errors"][0]["message"] == "request_body_too_large: limit is 1700 bytes"

    # Below the limit, the same body is decoded (and refused for what it says, not for its size).
    roomy = server_factory("--max-body-bytes", "100000")
    response = _post(roomy, "/apis/secret.grafana.app/v1beta1/namespaces/default/securevalues")
    assert response.status_code != 413
