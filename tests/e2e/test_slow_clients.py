"""Slow and greedy clients over raw sockets: header and body deadlines, connections per address and in total.

The server runs with short deadlines and small limits; every answer is quick, in the dialect of the
surface the request was for, and the connection is closed instead of held.
"""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
from harness import ADMIN_TOKEN, Server

HEADER_TIMEOUT, BODY_TIMEOUT, PER_ADDRESS, TOTAL = 1.0, 2.0, 4, 6
NATIVE = "/apis/secret.grafana.app/v1beta1/namespaces/default/securevalues"
INFLUX = "/api/v2/orgs/0000000000000001/secrets"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = Server(
        tmp_path_factory.mktemp("slow") / "data",
        [
            "--header-timeout-seconds",
            str(HEADER_TIMEOUT),
            "--body-timeout-seconds",
            str(BODY_TIMEOUT),
            "--max-connections-per-address",
            str(PER_ADDRESS),
            "--max-connections",
            str(TOTAL),
        ],
    )
    server.start()
    namespace = server.session.get(f"{server.url}/api/v1/namespaces/default").json()
    server.account = namespace["metadata"]["annotations"]["compat.apiserver.local/cloudflare-account-id"]  # type: ignore[attr-defined]
    server.session.close()  # its pooled connection would count against the limits
    yield server
    server.stop()


def _connect(server, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10, source_address=(source, 0))


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read until the server closes the connection: (status, headers, body)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _request(method: str, path: str, extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n{extra}".encode()


def _cloudflare(server) -> str:
    return f"/client/v4/accounts/{server.account}/secrets_store/stores"


def test_headers_never_finished_get_408_and_the_connection_closes(srv):
    sock = _connect(srv)
    started = time.monotonic()
    sock.sendall(_request("GET", NATIVE))  # and never the blank line that ends the headers
    status, headers, body = _response(sock)
    elapsed = time.monotonic() - started
    assert status == 408 and headers["connection"] == "close"
    assert json.loads(body)["reason"] == "Timeout" and json.loads(body)["code"] == 408
    assert HEADER_TIMEOUT - 0.2 < elapsed < HEADER_TIMEOUT + 2


@pytest.mark.parametrize("surface", ["influxdb", "cloudflare", "no request line"])
def test_headers_never_finished_get_408_in_the_dialect_of_the_request_line(srv, surface):
    sent = {
        "influxdb": _request("GET", INFLUX + "?x=1"),
        "cloudflare": _request("GET", _cloudflare(srv)),
        "no request line": b"GET /api/v2/orgs/0000000000000001/sec",  # the surface cannot be known yet
    }[surface]
    sock = _connect(srv)
    sock.sendall(sent)
    status, headers, body = _response(sock)
    assert status == 408 and headers["connection"] == "close"
    assert headers["content-length"] == str(len(body)) and headers["content-type"].startswith("application/json")
    decoded = json.loads(body)
    message = f"the request headers were not received within {HEADER_TIMEOUT:g} seconds"
    if surface == "influxdb":
        assert decoded == {"code": "invalid", "message": message}
        assert headers["x-platform-error-code"] == "invalid"
    elif surface == "cloudflare":
        assert decoded["success"] is False and decoded["errors"] == [{"code": 1000, "message": "request_timeout"}]
    else:
        assert (decoded["kind"], decoded["reason"], decoded["message"]) == ("Status", "Timeout", message)


def test_headers_trickled_a_byte_at_a_time_are_cut_at_the_deadline(srv):
    sock = _connect(srv)
    started = time.monotonic()
    with pytest.raises((BrokenPipeError, ConnectionResetError)):
        for byte in _request("GET", NATIVE) + b"X-Padding: " + b"a" * 1000:
            sock.sendall(bytes([byte]))
            time.sleep(0.05)
            assert time.monotonic() - started < HEADER_TIMEOUT + 3, "the trickle was never cut"
    assert time.monotonic() - started < HEADER_TIMEOUT + 3


@pytest.mark.parametrize("surface", ["native", "influxdb", "cloudflare"])
def test_a_body_trickled_a_byte_at_a_time_gets_408_in_its_dialect(srv, surface):
    method, path = {"native": ("POST", NATIVE), "influxdb": ("PATCH", INFLUX), "cloudflare": ("POST", "")}[surface]
    path = path or _cloudflare(srv)
    sock = _connect(srv)
    sock.sendall(_request(method, path, "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"))
    started = answered = time.monotonic()
    try:
        for _ in range(200):
            sock.sendall(b" ")
            time.sleep(0.05)
            sock.settimeout(0.001)
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    answered = time.monotonic()
                    break
            except (TimeoutError, BlockingIOError):
                pass
            finally:
                sock.settimeout(10)
    except (BrokenPipeError, ConnectionResetError):
        answered = time.monotonic()
    status, headers, body = _response(sock)  # and the server closes the connection soon after
    assert status == 408 and answered - started < BODY_TIMEOUT + 1.5
    assert time.monotonic() - answered < 5
    decoded = json.loads(body)
    if surface == "native":
        assert (decoded["kind"], decoded["reason"]) == ("Status", "Timeout")
        assert decoded["message"] == f"the request body was not received within {BODY_TIMEOUT:g} seconds"
    elif surface == "influxdb":
        assert decoded["code"] == "invalid" and "within 2 seconds" in decoded["message"]
    else:
        assert decoded["success"] is False and decoded["errors"] == [{"code": 1000, "message": "request_timeout"}]


def _keep_alive(server, source: str) -> http.client.HTTPConnection:
    """A connection that made one request and stays open (keep-alive)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10, source_address=(source, 0))
    conn.request("GET", "/livez")
    response = conn.getresponse()
    assert response.status == 200
    response.read()
    return conn


@pytest.mark.parametrize("surface", ["native", "influxdb", "cloudflare"])
def test_connections_beyond_the_limit_per_address_get_429(srv, surface):
    held = [_keep_alive(srv, "127.0.0.2") for _ in range(PER_ADDRESS)]
    try:
        path = {"native": NATIVE, "influxdb": INFLUX, "cloudflare": _cloudflare(srv)}[surface]
        sock = _connect(srv, "127.0.0.2")
        sock.sendall(_request("GET", path, "\r\n"))
        status, headers, body = _response(sock)
        assert status == 429 and headers["retry-after"] == "1"
        decoded = json.loads(body)
        if surface == "native":
            assert (decoded["reason"], decoded["message"]) == (
                "TooManyRequests",
                f"too many open connections from this address (at most {PER_ADDRESS})",
            )
        elif surface == "influxdb":
            assert decoded["code"] == "too many requests"
        else:
            assert decoded["errors"][0]["code"] == 971
        # Another address is not affected.
        other = _keep_alive(srv, "127.0.0.3")
        other.close()
    finally:
        for conn in held:
            conn.close()
    time.sleep(0.2)
    _keep_alive(srv, "127.0.0.2").close()  # released connections count no more


def test_connections_beyond_the_total_get_503(srv):
    held = [_keep_alive(srv, "127.0.0.4") for _ in range(PER_ADDRESS)]
    held += [_keep_alive(srv, "127.0.0.5") for _ in range(TOTAL - PER_ADDRESS)]
    try:
        sock = _connect(srv, "127.0.0.6")
        sock.sendall(_request("GET", INFLUX, "\r\n"))
        status, headers, body = _response(sock)
        assert status == 503 and headers["retry-after"] == "1"
        assert json.loads(body)["code"] == "unavailable"
        sock = _connect(srv, "127.0.0.6")
        sock.sendall(_request("GET", NATIVE, "\r\n"))
        status, _, body = _response(sock)
        assert status == 503 and json.loads(body)["reason"] == "ServiceUnavailable"
    finally:
        for conn in held:
            conn.close()
    time.sleep(0.2)
    _keep_alive(srv, "127.0.0.6").close()
