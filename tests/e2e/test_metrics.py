"""`GET /metrics`: the named series move as requests are made, and only permitted callers read them."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from grpc_support import start_grpc_server
from harness import Server, secure_value
from identities_support import call, create_token
from kms_support import kms_plugin  # noqa: F401  (a fixture)
from prometheus_client.parser import text_string_to_metric_families

SECRET = "metrics-secret-value-Zq81"


def scrape(server, token: str | None = None) -> tuple[dict[tuple[str, tuple], float], str]:
    """Every sample of /metrics by (name, sorted labels), and the raw text."""
    response = call("GET", f"{server.url}/metrics", token or server.admin_token)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    return samples, response.text


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def request_total(samples, verb: str, resource: str, code: str, surface: str = "native") -> float:
    return value(samples, "apiserver_request_total", verb=verb, resource=resource, code=code, surface=surface)


@pytest.fixture(scope="module")
def grpc_server(tmp_path_factory):
    started = start_grpc_server(tmp_path_factory.mktemp("metrics") / "data")
    yield started
    started.server.stop()


def test_the_named_series_move_as_requests_are_made(grpc_server):
    server = grpc_server.server
    before, _ = scrape(server)
    body = secure_value("metered", value=SECRET, decrypters=["svc-a"])
    created = server.session.post(server.sv_url(), json=body)
    assert created.status_code == 201, created.text
    rv = created.json()["metadata"]["resourceVersion"]
    assert server.session.get(server.sv_url(name="metered")).status_code == 200
    assert server.session.get(server.sv_url(name="no-such-value")).status_code == 404
    decrypted = call("POST", f"{server.sv_url(name='metered')}/decrypt", grpc_server.service_token)
    assert decrypted.json() == {"value": SECRET}
    assert call("POST", f"{server.sv_url(name='db')}/decrypt", create_token(server, role="viewer")[0]).status_code
    # A watch from before the create: the ADDED event is sent, then the watch times out.
    params = {"watch": "1", "resourceVersion": str(int(rv) - 1), "timeoutSeconds": "1"}
    with server.session.get(server.sv_url(), params=params, stream=True, timeout=15) as watch:
        assert b'"metered"' in b"".join(watch.iter_lines())  # to the end: a request is counted when it ends
    assert grpc_server.decrypt(["metered"], metadata=[("authorization", f"Bearer {grpc_server.service_token}")]) == {
        "metered": SECRET
    }
    after, text = scrape(server)

    def moved(name: str, by: float = 1, **labels) -> None:
        delta = value(after, name, **labels) - value(before, name, **labels)
        assert delta >= by, f"{name}{labels} moved by {delta}"

    moved("apiserver_request_total", verb="POST", resource="securevalues", code="201", surface="native")
    moved("apiserver_request_total", verb="GET", resource="securevalues", code="200", surface="native")
    moved("apiserver_request_total", verb="GET", resource="securevalues", code="404", surface="native")
    moved("apiserver_request_total", verb="POST", resource="securevalues/decrypt", code="200", surface="native")
    moved("apiserver_request_total", verb="WATCH", resource="securevalues", code="200", surface="native")
    moved(
        "apiserver_request_total",
        verb="DecryptSecureValues",
        resource="securevalues/decrypt",
        code="OK",
        surface="grpc",
    )
    moved("apiserver_request_duration_seconds_count", verb="GET", resource="securevalues", surface="native", by=2)
    moved(
        "apiserver_request_duration_seconds_count",
        verb="DecryptSecureValues",
        resource="securevalues/decrypt",
        surface="grpc",
    )
    assert (
        "apiserver_request_duration_seconds_count",
        (("resource", "securevalues"), ("surface", "native"), ("verb", "WATCH")),
    ) not in after
    moved("apiserver_secret_decrypt_total", outcome="success", decrypter="svc-a", by=2)  # REST and gRPC
    moved("apiserver_secret_decrypt_total", outcome="not_authorized", decrypter="none")
    moved("apiserver_watch_events_total", resource="securevalues")
    moved("apiserver_storage_commit_batch_size_count")
    moved("apiserver_storage_commit_duration_seconds_count")
    assert value(after, "apiserver_storage_objects", resource="securevalues") >= 4
    hits = value(after, "apiserver_envelope_dek_cache_total", result="hit")
    hits -= value(before, "apiserver_envelope_dek_cache_total", result="hit")
    assert hits >= 2
    assert "apiserver_audit_failures_total 0.0" in text
    # Counts only: no value, no name, no token.
    for secret in (SECRET, "metered", grpc_server.service_token, server.admin_token, "no-such-value"):
        assert secret not in text


def test_registered_watchers_are_counted_while_they_watch(grpc_server):
    server = grpc_server.server
    open_watch = threading.Event()
    done = threading.Event()

    def watch() -> None:
        params = {"watch": "1", "timeoutSeconds": "30"}
        with server.session.get(server.sv_url(namespace="default"), params=params, stream=True, timeout=40) as r:
            open_watch.set()
            for _ in r.iter_lines():
                if done.is_set():
                    return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    assert open_watch.wait(10)
    samples, _ = scrape(server)
    assert value(samples, "apiserver_registered_watchers", resource="securevalues") >= 1
    done.set()
    server.session.post(server.sv_url(), json=secure_value("wake-the-watcher"))  # an event ends its loop
    thread.join(10)


def test_unmatched_paths_and_odd_methods_add_no_labels_of_their_own(grpc_server):
    server = grpc_server.server
    assert server.session.get(f"{server.url}/no/such/path-xyz").status_code == 404
    assert server.session.request("FROB", f"{server.url}/no/such/path-xyz").status_code in (400, 404, 405)
    samples, text = scrape(server)
    assert "path-xyz" not in text and "FROB" not in text
    assert request_total(samples, "GET", "", "404", "other") >= 1


def test_metrics_need_the_admin_token_or_the_metrics_permission(grpc_server):
    server = grpc_server.server
    anonymous = requests.get(f"{server.url}/metrics", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["reason"] == "Unauthorized"
    viewer, _ = create_token(server, role="viewer", namespaces=["*"])
    refused = call("GET", f"{server.url}/metrics", viewer)
    assert refused.status_code == 403
    assert "apiserver.metrics:read" in refused.json()["message"]
    namespace_admin, _ = create_token(server, role="admin", namespaces=["default"])
    assert call("GET", f"{server.url}/metrics", namespace_admin).status_code == 403
    scraper, _ = create_token(server, namespaces=["*"], permissions=[{"action": "apiserver.metrics:read"}])
    scrape(server, scraper)
    # The permission reads metrics and nothing else.
    assert call("GET", server.sv_url(), scraper).status_code == 403


def test_metrics_anonymous_opens_metrics_and_nothing_else(server_factory):
    server = server_factory("--metrics-anonymous")
    response = requests.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert "apiserver_request_total" in response.text
    assert requests.get(server.sv_url(), timeout=10).status_code == 401


def test_requests_refused_for_want_of_an_audit_record_are_counted(server_factory, tmp_path):
    target = tmp_path / "audit-target"
    target.mkdir()  # a directory: no record can be written there
    server = Server(tmp_path / "data", ["--audit-log", str(target)])
    server.start(ready_path="/livez")
    try:
        assert server.session.post(server.sv_url(), json=secure_value("unaudited")).status_code == 503
        samples, _ = scrape(server)
        assert value(samples, "apiserver_audit_failures_total") >= 1
        assert request_total(samples, "POST", "securevalues", "503") == 1
    finally:
        server.stop()


def test_kms_plugin_calls_are_timed_by_method_and_code(server_factory, kms_plugin):
    server = server_factory("--kms-socket", str(kms_plugin.socket), "--kms-status-seconds", "0.3")
    assert server.session.post(server.sv_url(), json=secure_value("kms-metered", value=SECRET)).status_code == 201
    samples, text = scrape(server)
    name = "apiserver_envelope_encryption_kms_operations_latency_seconds_count"
    assert value(samples, name, method_name="Encrypt", grpc_status_code="OK") >= 1  # the new data key, wrapped
    assert value(samples, name, method_name="Status", grpc_status_code="OK") >= 1
    kms_plugin.stop()
    deadline = time.monotonic() + 15
    while True:  # the Status poll meets the stopped plugin
        samples, _ = scrape(server)
        failed = [k for k in samples if k[0] == name and ("grpc_status_code", "OK") not in k[1]]
        if failed:
            break
        assert time.monotonic() < deadline, "no failed KMS call was counted"
        time.sleep(0.2)
    assert SECRET not in text
