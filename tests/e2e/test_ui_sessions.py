"""The page's sessions over real HTTP: sign-in, the cookie, CSRF, idle timeout, revocation, restarts."""

from __future__ import annotations

import time

import requests
from harness import ADMIN_TOKEN, files_containing, secure_value
from identities_support import create_token, revoke_token
from pg import postgres  # noqa: F401  (session fixture)
from test_postgres_replicas import start_replicas
from ui_support import COOKIE, SESSION_PATH, page_headers, sign_in


def _set_cookie(response: requests.Response) -> str:
    return response.headers["Set-Cookie"]


def test_sign_in_sets_an_httponly_strict_cookie_and_never_echoes_the_token(server):
    response = requests.post(server.url + SESSION_PATH, json={"token": ADMIN_TOKEN}, timeout=10)
    assert response.status_code == 201, response.text
    cookie = _set_cookie(response)
    assert cookie.startswith(f"{COOKIE}=sess_")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    assert ADMIN_TOKEN not in response.text
    body = response.json()
    assert body["subject"] == "user:admin" and len(body["csrfToken"]) == 64
    assert body["idleTimeoutSeconds"] == 1800
    [default] = body["namespaces"]
    assert default["name"] == "default"
    assert default["influxdbOrgId"] == "0000000000000001" and len(default["cloudflareAccountId"]) == 32
    assert default["allowed"]["create"] and default["allowed"]["activateKeepers"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_cookie_authenticates_the_native_api_and_the_session_route(server):
    browser, info = sign_in(server)
    assert browser.get(server.sv_url()).status_code == 200
    again = browser.get(server.url + SESSION_PATH)
    assert again.status_code == 200 and again.json()["csrfToken"] == info["csrfToken"]
    # The facades keep to their tokens: the cookie is not a credential there.
    assert browser.get(server.url + "/api/v2/orgs").status_code == 401


def test_a_wrong_token_is_refused_clearly_and_counts_toward_the_rate_limit(server_factory):
    server = server_factory(env={"APISERVER_AUTH_FAILURE_LIMIT": "3"})
    for _ in range(4):
        response = requests.post(server.url + SESSION_PATH, json={"token": "sas_wrong"}, timeout=10)
        assert response.status_code == 401
        assert response.json()["message"] == "This token is not valid: it is unknown, expired or revoked."
        assert "Set-Cookie" not in response.headers and "sas_wrong" not in response.text
    limited = requests.post(server.url + SESSION_PATH, json={"token": ADMIN_TOKEN}, timeout=10)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    # The same limiter guards tokens on the API: this address is slowed down there too.
    assert server.session.get(server.sv_url()).status_code == 429


def test_sign_in_wants_a_json_body_with_a_token(server):
    cases = [
        ("application/x-www-form-urlencoded", b"token=" + ADMIN_TOKEN.encode()),
        ("text/plain", b'{"token": "%s"}' % ADMIN_TOKEN.encode()),
        ("application/json", b"{}"),
        ("application/json", b'["x"]'),
        ("application/json", b"{"),
    ]
    for content_type, data in cases:
        response = requests.post(
            server.url + SESSION_PATH, data=data, headers={"Content-Type": content_type}, timeout=10
        )
        assert response.status_code in (400, 415), response.text
        assert "Set-Cookie" not in response.headers


def test_cookie_writes_need_the_csrf_token_and_the_own_origin(server):
    browser, info = sign_in(server)
    url = server.sv_url()
    no_token = browser.post(url, json=secure_value("csrf-a"), headers={"Origin": server.url})
    assert no_token.status_code == 403 and "anti-forgery" in no_token.json()["message"]
    wrong = browser.post(url, json=secure_value("csrf-b"), headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    other_origin = browser.post(
        url, json=secure_value("csrf-c"), headers={**page_headers(server, info), "Origin": "http://evil.example"}
    )
    assert other_origin.status_code == 403 and "Origin" in other_origin.json()["message"]
    cross_site = browser.post(
        url, json=secure_value("csrf-d"), headers={**page_headers(server, info), "Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.status_code == 403
    names = [i["metadata"]["name"] for i in server.session.get(url).json()["items"]]
    assert names == []
    ok = browser.post(url, json=secure_value("csrf-ok"), headers=page_headers(server, info))
    assert ok.status_code == 201, ok.text
    # Sign-out is a write too.
    assert browser.delete(server.url + SESSION_PATH).status_code == 403
    assert browser.get(url).status_code == 200


def test_a_cross_origin_form_post_with_the_cookie_is_refused(server):
    browser, _ = sign_in(server)
    form = browser.post(
        server.sv_url(),
        data={"metadata": "x"},
        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert form.status_code == 403
    assert server.session.get(server.sv_url()).json()["items"] == []


def test_sign_out_ends_the_session_everywhere(server):
    browser, info = sign_in(server)
    cookie = browser.cookies[COOKIE]
    out = browser.delete(server.url + SESSION_PATH, headers=page_headers(server, info))
    assert out.status_code == 204
    assert f"{COOKIE}=" in _set_cookie(out)  # the cookie is cleared in the browser
    replay = requests.get(server.sv_url(), cookies={COOKIE: cookie}, timeout=10)
    assert replay.status_code == 401 and replay.json()["message"] == "your session has ended; please sign in again"


def test_revoking_the_token_ends_its_sessions_at_once(server):
    token, token_id = create_token(server, role="editor", subject="user:alice")
    browser, info = sign_in(server, token)
    assert info["subject"] == "user:alice"
    assert browser.get(server.sv_url()).status_code == 200
    revoke_token(server, token_id)
    assert browser.get(server.sv_url()).status_code == 401
    assert browser.get(server.url + SESSION_PATH).status_code == 401


def test_a_session_ends_after_the_idle_time_and_activity_keeps_it(server_factory):
    server = server_factory("--ui-session-idle-seconds", "1.5")
    active, _ = sign_in(server)
    idle, _ = sign_in(server)
    for _ in range(8):  # 2.4 s of activity, refreshed every 0.15 s at most
        assert active.get(server.sv_url()).status_code == 200
        time.sleep(0.3)
    assert active.get(server.sv_url()).status_code == 200
    assert idle.get(server.sv_url()).status_code == 401


def test_sessions_survive_a_restart_and_are_stored_hashed(server):
    token, _ = create_token(server, role="viewer")
    browser, _ = sign_in(server, token)
    cookie = browser.cookies[COOKIE]
    server.restart()
    assert browser.get(server.sv_url()).status_code == 200
    assert browser.get(server.url + SESSION_PATH).json()["namespaces"][0]["allowed"]["create"] is False
    server.stop()
    assert files_containing(server.data_dir, cookie.encode()) == []
    assert files_containing(server.data_dir, token.encode()) == []
    server.start()


def test_a_changed_bootstrap_token_ends_its_sessions(server):
    browser, _ = sign_in(server)
    server.admin_token = "sas_another-admin-token-0000000000"
    server.session.headers["Authorization"] = f"Bearer {server.admin_token}"
    server.restart()
    assert browser.get(server.sv_url()).status_code == 401


def test_the_cookie_is_secure_under_tls(server_factory):
    server = server_factory("--tls-self-signed", scheme="https")
    response = requests.post(server.url + SESSION_PATH, json={"token": ADMIN_TOKEN}, timeout=10, verify=False)
    assert response.status_code == 201
    assert "Secure" in _set_cookie(response)


def test_browsers_are_sent_to_the_page_and_api_clients_see_no_change(server):
    page = requests.get(server.url + "/", headers={"Accept": "text/html"}, allow_redirects=False, timeout=10)
    assert page.status_code == 302 and page.headers["Location"] == "/ui/"
    assert requests.get(server.url + "/", timeout=10).status_code == 401
    assert server.session.get(server.url + "/").status_code == 404
    index = requests.get(server.url + "/ui/", timeout=10)
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
    csp = index.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert index.headers["X-Content-Type-Options"] == "nosniff"
    assert index.headers["Referrer-Policy"] == "no-referrer"
    assert requests.get(server.url + "/ui", allow_redirects=False, timeout=10).headers["Location"] == "/ui/"
    assert requests.get(server.url + "/ui/static/nothing.js", timeout=10).status_code == 401


def test_a_session_made_on_one_replica_works_on_the_other(postgres, tmp_path):
    a, b = start_replicas(tmp_path, postgres.fresh_url("ui_sessions"))
    try:
        browser, info = sign_in(a)
        cookie = browser.cookies[COOKIE]
        created = browser.post(b.sv_url(), json=secure_value("via-b"), headers=page_headers(b, info))
        assert created.status_code == 201, created.text
        assert browser.delete(b.url + SESSION_PATH, headers=page_headers(b, info)).status_code == 204
        # Signed out on b: a refuses the cookie at once.
        assert requests.get(a.sv_url(), cookies={COOKIE: cookie}, timeout=10).status_code == 401
    finally:
        a.stop()
        b.stop()


def test_the_pages_watch_renewals_do_not_keep_a_session_alive(server_factory):
    server = server_factory("--ui-session-idle-seconds", "1.5")
    browser, _ = sign_in(server)
    watch = server.sv_url() + "?watch=1&timeoutSeconds=1"
    started = time.monotonic()
    assert browser.get(watch).status_code == 200  # ends after a second, unused
    assert browser.get(watch).status_code == 200  # still within the idle time
    assert time.monotonic() - started >= 1.6
    assert browser.get(server.sv_url()).status_code == 401
