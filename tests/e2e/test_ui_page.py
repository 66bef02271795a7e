"""The Secrets page in a real Chromium (Debian's, driven by Playwright) against a real server.

One server and one browser for the module; each test gets a fresh browser context (its own
cookies) and works in its own namespace. Every response the browser receives, the DOM and the
browser's storage are searched for the values typed into the page.
"""

from __future__ import annotations

import http.server
import threading

import pytest
import requests
from harness import GROUP_PATH, Server, secure_value
from identities_support import call, create_token, revoke_token
from playwright.sync_api import Page, expect, sync_playwright
from ui_support import launch_chromium, screenshot

VALUES = {
    "password": "pw-value-5d0b7c1e",
    "multiline": "-----BEGIN KEY-----\nmulti-line-91c2aa\n-----END KEY-----",
    "file": "file-value-0f6a2d77",
    "replaced": "replaced-value-7e3b90",
    "influx": "influx-value-44ab12",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("ui") / "data", env={"APISERVER_AUTH_FAILURE_LIMIT": "1000"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


class Recorder:
    """Every response body the page receives, for the search for known values."""

    def __init__(self, page: Page) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        page.on("response", self._record)

    def _record(self, response) -> None:
        if "watch=1" in response.url:
            return  # a stream that never ends; its events are searched through the DOM and a list afterwards
        try:
            self.bodies.append((response.url, response.body()))
        except Exception:  # noqa: BLE001 - a redirect or an aborted request has no body
            pass


@pytest.fixture
def open_page(browser, server):
    contexts = []

    def make(color_scheme: str = "light", width: int = 1280, height: int = 800) -> tuple[Page, Recorder]:
        context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=color_scheme)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(5000)
        recorder = Recorder(page)
        page.goto(server.url + "/ui/")
        return page, recorder

    yield make
    for context in contexts:
        context.close()


def namespace(server: Server, name: str) -> str:
    server.create_namespace(name)
    return name


def sign_in(page: Page, token: str, ns: str | None = None) -> None:
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    if ns:
        page.get_by_label("Namespace").select_option(ns)
        expect(page.locator("#namespace-ids")).to_contain_text("InfluxDB org ID")


def decrypt(server: Server, ns: str, name: str) -> str:
    token, _ = create_token(server, serviceIdentity="synthetic-monitoring", namespaces=[ns])
    response = call("POST", f"{server.sv_url(ns, name)}/decrypt", token)
    assert response.status_code == 200, response.text
    return response.json()["value"]


def get(server: Server, ns: str, name: str) -> dict:
    response = server.session.get(server.sv_url(ns, name))
    assert response.status_code == 200, response.text
    return response.json()


def fill_add_form(page: Page, name: str, description: str = "from the page") -> None:
    page.get_by_role("button", name="Add secret").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description").fill(description)


def save(page: Page) -> None:
    page.get_by_role("button", name="Save").click()


def row(page: Page, name: str):
    return page.locator(f'#secret-rows tr[data-name="{name}"]')


def test_sign_in_with_a_wrong_then_a_good_token(open_page, server):
    page, _ = open_page()
    expect(page.get_by_label("Token")).to_be_focused()
    screenshot(page, "sign-in")
    page.get_by_label("Token").fill("sas_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").filter(has_text="not valid")).to_be_visible()
    expect(page.get_by_label("Token")).to_have_value("")
    sign_in(page, server.admin_token)
    expect(page.get_by_label("Namespace")).to_have_value("default")
    expect(page.locator("#namespace-ids")).to_have_text(
        "InfluxDB org ID 0000000000000001 · Cloudflare account ID "
        + server.session.get(server.url + "/api/v1/namespaces/default").json()["metadata"]["annotations"][
            "compat.apiserver.local/cloudflare-account-id"
        ]
    )
    assert server.admin_token not in page.url and server.admin_token not in page.content()
    # The session survives a reload: the cookie, not the token, signs the page in.
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_add_with_each_kind_of_value_input(open_page, server, tmp_path):
    ns = namespace(server, "ui-add")
    page, _ = open_page()
    sign_in(page, server.admin_token, ns)
    expect(page.get_by_text("no secrets in this namespace yet")).to_be_visible()
    screenshot(page, "empty")

    # 1. The password field, with a known and a custom decrypter and labels.
    fill_add_form(page, "api-password")
    expect(page.get_by_label("Value", exact=True)).to_have_attribute("type", "password")
    page.get_by_label("Value", exact=True).fill(VALUES["password"])
    page.get_by_label("synthetic-monitoring").check()
    page.get_by_label("Custom decrypter").fill("my-service")
    page.get_by_role("button", name="Add decrypter").click()
    page.get_by_label("Labels").fill("team=sre\nenv=prod")
    expect(page.get_by_text("cannot be read back once saved")).to_be_visible()
    expect(page.locator("#sv-description-count")).to_have_text("13 / 25")
    screenshot(page, "add-form")
    save(page)
    expect(row(page, "api-password")).to_be_visible()
    created = get(server, ns, "api-password")
    assert created["spec"]["decrypters"] == ["synthetic-monitoring", "my-service"]
    assert created["metadata"]["labels"] == {"team": "sre", "env": "prod"}
    assert decrypt(server, ns, "api-password") == VALUES["password"]

    # 2. Multi-line, with a generated name.
    page.get_by_role("button", name="Add secret").click()
    expect(page.get_by_label("Value", exact=True)).to_have_value("")  # cleared after the write
    page.get_by_label("Generate the name from this prefix").check()
    page.get_by_label("Name prefix").fill("tls-key-")
    page.get_by_label("Description").fill("TLS key")
    page.get_by_label("Multi-line").check()
    page.get_by_label("Value", exact=True).fill(VALUES["multiline"])
    page.get_by_label("synthetic-monitoring").check()
    save(page)
    generated = page.locator("#secret-rows tr[data-name^='tls-key-']")
    expect(generated).to_have_count(1)
    name = generated.get_attribute("data-name")
    assert decrypt(server, ns, name) == VALUES["multiline"]

    # 3. A file.
    key_file = tmp_path / "service.key"
    key_file.write_text(VALUES["file"])
    fill_add_form(page, "from-file", "Key file")
    page.get_by_label("Value from file").set_input_files(str(key_file))
    expect(page.get_by_text("service.key")).to_be_visible()
    page.get_by_label("synthetic-monitoring").check()
    save(page)
    expect(row(page, "from-file")).to_be_visible()
    assert decrypt(server, ns, "from-file") == VALUES["file"]
    expect(row(page, "api-password").locator(".badge", has_text="my-service")).to_be_visible()
    screenshot(page, "list-after-add")


def test_a_26_character_description_is_shown_next_to_its_field_and_nothing_is_lost(open_page, server):
    ns = namespace(server, "ui-invalid")
    page, _ = open_page()
    sign_in(page, server.admin_token, ns)
    fill_add_form(page, "too-long", "x" * 26)
    expect(page.locator("#sv-description-count")).to_have_text("26 / 25")
    page.get_by_label("Value", exact=True).fill("v-invalid")
    page.get_by_label("k6-cloud").check()
    save(page)
    error = page.locator("#err-spec-description")
    expect(error).to_contain_text("25")
    expect(page.get_by_label("Description")).to_have_attribute(
        "aria-describedby", "sv-description-count err-spec-description"
    )
    expect(page.get_by_label("Name", exact=True)).to_have_value("too-long")
    expect(page.get_by_label("Description")).to_have_value("x" * 26)
    expect(page.get_by_label("Value", exact=True)).to_have_value("v-invalid")
    expect(page.get_by_label("k6-cloud")).to_be_checked()
    screenshot(page, "validation-error")
    page.get_by_label("Description").fill("x" * 25)
    save(page)
    expect(row(page, "too-long")).to_be_visible()


def test_edit_keeps_or_replaces_the_value_and_reports_a_conflict(open_page, server):
    ns = namespace(server, "ui-edit")
    body = secure_value("db", value=VALUES["password"], decrypters=["synthetic-monitoring"], labels={"a": "1"})
    assert server.session.post(server.sv_url(ns), json=body).status_code == 201
    page, _ = open_page()
    sign_in(page, server.admin_token, ns)

    page.get_by_role("button", name="Edit db").click()
    expect(page.get_by_label("Name", exact=True)).to_be_disabled()
    expect(page.get_by_label("New value")).to_have_value("")  # never pre-filled
    expect(page.get_by_text("scripts and services that read it")).to_be_visible()
    page.get_by_label("Description").fill("kept value")
    save(page)
    expect(row(page, "db")).to_contain_text("kept value")
    assert get(server, ns, "db")["status"]["version"] == 2
    assert decrypt(server, ns, "db") == VALUES["password"]

    page.get_by_role("button", name="Edit db").click()
    page.get_by_label("New value").fill(VALUES["replaced"])
    save(page)
    expect(row(page, "db").locator("td[data-label=Version]")).to_have_text("3")
    assert decrypt(server, ns, "db") == VALUES["replaced"]

    # Someone else changes it while the form is open: the page says so and never overwrites.
    page.get_by_role("button", name="Edit db").click()
    page.get_by_label("Description").fill("mine")
    current = get(server, ns, "db")
    current["spec"]["description"] = "theirs"
    assert server.session.put(server.sv_url(ns, "db"), json=current).status_code == 200
    save(page)
    expect(page.get_by_text("Someone else changed this secret")).to_be_visible()
    screenshot(page, "conflict")
    assert get(server, ns, "db")["spec"]["description"] == "theirs"
    page.get_by_role("button", name="Reload the current version").click()
    expect(page.get_by_label("Description")).to_have_value("theirs")
    page.get_by_label("Description").fill("mine after all")
    save(page)
    expect(row(page, "db")).to_contain_text("mine after all")
    assert decrypt(server, ns, "db") == VALUES["replaced"]


def test_delete_one_and_several(open_page, server):
    ns = namespace(server, "ui-delete")
    for name in ("one", "two", "three", "four"):
        assert server.session.post(server.sv_url(ns), json=secure_value(name)).status_code == 201
    page, _ = open_page()
    sign_in(page, server.admin_token, ns)
    page.get_by_role("button", name="Delete one").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete secret one?")
    page.get_by_role("button", name="Cancel").click()
    expect(row(page, "one")).to_be_visible()
    page.get_by_role("button", name="Delete one").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(row(page, "one")).to_have_count(0)

    page.get_by_label("Select two").check()
    page.get_by_label("Select four").check()
    page.get_by_role("button", name="Delete selected (2)").click()
    expect(dialog).to_contain_text("Delete 2 secrets?")
    expect(dialog.locator("li")).to_have_text(["four", "two"])
    screenshot(page, "bulk-delete")
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator("#secret-rows tr")).to_have_count(1)
    names = [i["metadata"]["name"] for i in server.session.get(server.sv_url(ns)).json()["items"]]
    assert names == ["three"]


def test_a_viewer_sees_the_list_without_write_controls(open_page, server):
    ns = namespace(server, "ui-viewer")
    assert server.session.post(server.sv_url(ns), json=secure_value("seen")).status_code == 201
    token, _ = create_token(server, role="viewer", namespaces=[ns], subject="user:vera")
    page, _ = open_page()
    sign_in(page, token)
    expect(page.get_by_label("Namespace")).to_have_value(ns)
    expect(page.locator("#subject")).to_have_text("user:vera")
    expect(row(page, "seen")).to_be_visible()
    for control in ("Add secret", "Edit seen", "Delete seen", "Delete selected"):
        expect(page.get_by_role("button", name=control)).to_have_count(0)
    expect(page.get_by_label("Select seen")).to_have_count(0)
    page.get_by_role("tab", name="Keepers").click()
    expect(page.locator("#keeper-rows tr")).to_have_count(1)
    expect(page.get_by_role("button", name="Activate")).to_have_count(0)
    screenshot(page, "viewer")


def test_a_value_created_through_the_influxdb_api_appears_without_reload(open_page, server):
    ns = namespace(server, "org-7")
    page, _ = open_page()
    sign_in(page, server.admin_token, ns)
    expect(page.locator("#namespace-ids")).to_contain_text("InfluxDB org ID 0000000000000007")
    expect(page.get_by_text("no secrets in this namespace yet")).to_be_visible()
    response = requests.patch(
        f"{server.url}/api/v2/orgs/0000000000000007/secrets",
        json={"SNOWFLAKE_PASS": VALUES["influx"]},
        headers={"Authorization": f"Token {server.admin_token}"},
        timeout=10,
    )
    assert response.status_code == 204, response.text
    created = page.locator("#secret-rows tr")
    expect(created).to_have_count(1)
    expect(created.locator("td[data-label='API key']")).to_have_text("SNOWFLAKE_PASS")
    expect(created.locator(".badge", has_text="influxdb")).to_be_visible()
    page.get_by_label("Filter secrets").fill("snowflake")
    expect(created).to_have_count(1)
    page.get_by_label("Filter secrets").fill("nothing-like-it")
    expect(page.get_by_text("No secret matches the filter.")).to_be_visible()
    page.get_by_label("Filter secrets").fill("")
    requests.delete(
        f"{server.url}/api/v2/orgs/0000000000000007/secrets/SNOWFLAKE_PASS",
        headers={"Authorization": f"Token {server.admin_token}"},
        timeout=10,
    )
    expect(created).to_have_count(0)


def test_label_selector_sorting_and_paging(open_page, server):
    ns = namespace(server, "ui-paging")
    for i in range(105):
        body = secure_value(f"v-{i:03d}", labels={"team": "a" if i % 2 else "b"})
        assert server.session.post(server.sv_url(ns), json=body).status_code == 201
    page, _ = open_page()
    sign_in(page, server.admin_token, ns)
    rows = page.locator("#secret-rows tr")
    expect(rows).to_have_count(100)
    expect(page.locator("#count")).to_contain_text("more available")
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(105)
    page.get_by_label("Sort by").select_option("created")
    expect(rows.first).to_have_attribute("data-name", "v-104")
    page.get_by_label("Label selector").fill("team=a")
    page.get_by_label("Label selector").press("Enter")
    expect(rows).to_have_count(52)
    page.get_by_label("Label selector").fill("team in (")
    page.get_by_label("Label selector").press("Enter")
    expect(page.locator("#label-selector-error")).not_to_be_empty()


def test_keeper_activation(open_page, server):
    ns = namespace(server, "ui-keepers")
    keeper = {
        "apiVersion": "secret.grafana.app/v1beta1",
        "kind": "Keeper",
        "metadata": {"name": "vault"},
        "spec": {
            "description": "HashiCorp Vault",
            "hashiCorpVault": {"address": "https://vault.example.com:8200", "token": {"valueFrom": "x"}},
        },
    }
    created = server.session.post(server.keeper_url(ns), json=keeper)
    if created.status_code != 201:
        keeper["spec"]["hashiCorpVault"]["token"] = {"secureValueName": "vault-token"}
        created = server.session.post(server.keeper_url(ns), json=keeper)
    assert created.status_code == 201, created.text
    page, _ = open_page()
    sign_in(page, server.admin_token, ns)
    page.get_by_role("tab", name="Keepers").click()
    expect(page.locator('#keeper-rows tr[data-name="system"]')).to_contain_text("Active")
    page.get_by_role("button", name="Activate vault").click()
    expect(page.locator('#keeper-rows tr[data-name="vault"]')).to_contain_text("Active")
    expect(page.get_by_role("status")).to_contain_text("vault is now active")
    screenshot(page, "keepers")
    active = [
        k["metadata"]["name"]
        for k in server.session.get(server.keeper_url(ns)).json()["items"]
        if k["status"].get("active")
    ]
    assert active == ["vault"]
    page.get_by_role("button", name="Activate system").click()
    expect(page.locator('#keeper-rows tr[data-name="system"]')).to_contain_text("Active")


def test_sign_out_and_a_revoked_token_end_the_session(open_page, server):
    token, token_id = create_token(server, role="editor")
    page, _ = open_page()
    sign_in(page, token)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()

    sign_in(page, token)
    revoke_token(server, token_id)
    page.get_by_role("tab", name="Keepers").click()  # the page's next request
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator("#sign-in-error")).to_have_text("your session has ended; please sign in again")
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_user_text_is_shown_as_text(open_page, server):
    ns = namespace(server, "ui-xss")
    probe = "<img src=x onerror=alert(1)>"
    body = secure_value("xss", description=probe[:25], labels={"team": "sre"})
    body["metadata"]["annotations"] = {"compat.apiserver.local/key": "<script>alert(2)</script>"}
    assert server.session.post(server.sv_url(ns), json=body).status_code == 201, body
    page, _ = open_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, server.admin_token, ns)
    expect(row(page, "xss").locator("td[data-label=Description]")).to_have_text(probe[:25])
    expect(row(page, "xss").locator("td[data-label='API key']")).to_have_text("<script>alert(2)</script>")
    assert page.locator("#secret-rows img").count() == 0 and page.locator("#secret-rows script").count() == 0
    assert dialogs == []


class _EvilSite(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):  # noqa: N802 - http.server's naming
        form = (
            f'<form id="f" method="POST" action="{self.target}">'
            '<input name="metadata" value="x"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(form)

    def log_message(self, *args):
        pass


def test_a_form_posted_from_another_origin_is_refused(open_page, server):
    ns = namespace(server, "ui-csrf")
    page, _ = open_page()
    sign_in(page, server.admin_token, ns)
    _EvilSite.target = server.sv_url(ns)
    evil = http.server.HTTPServer(("127.0.0.1", 0), _EvilSite)
    thread = threading.Thread(target=evil.serve_forever, daemon=True)
    thread.start()
    try:
        with page.expect_response(lambda r: r.url == server.sv_url(ns) and r.request.method == "POST") as answer:
            page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        assert answer.value.status in (401, 403)
    finally:
        evil.shutdown()
    assert server.session.get(server.sv_url(ns)).json()["items"] == []


def test_values_never_reach_the_browser(open_page, server):
    """Type values into every kind of input, then search everything the browser holds or received."""
    ns = namespace(server, "ui-search")
    page, recorder = open_page()
    sign_in(page, server.admin_token, ns)
    known = {"typed": "search-typed-a81f3c", "multi": "search-multi-19be44", "edit": "search-edit-c7d210"}
    fill_add_form(page, "searched")
    page.get_by_label("Value", exact=True).fill(known["typed"])
    page.get_by_label("synthetic-monitoring").check()
    save(page)
    expect(row(page, "searched")).to_be_visible()
    fill_add_form(page, "searched-multi")
    page.get_by_label("Multi-line").check()
    page.get_by_label("Value", exact=True).fill(known["multi"])
    save(page)
    expect(row(page, "searched-multi")).to_be_visible()
    page.get_by_role("button", name="Edit searched", exact=True).click()
    page.get_by_label("New value").fill(known["edit"])
    save(page)
    expect(row(page, "searched").locator("td[data-label=Version]")).to_have_text("2")
    page.get_by_role("button", name="Edit searched", exact=True).click()  # the form open again: nothing pre-filled
    found = []
    html = page.content()
    inputs = page.evaluate("() => [...document.querySelectorAll('input, textarea')].map(e => e.value).join('\\n')")
    storage = page.evaluate(
        "async () => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie,"
        " (await (indexedDB.databases ? indexedDB.databases() : Promise.resolve([]))).map(d => d.name),"
        " await caches.keys()])"
    )
    cookies = str(page.context.cookies())
    assert recorder.bodies, "no response was recorded"
    for value in [*known.values(), server.admin_token]:
        for where, text in (("DOM", html), ("inputs", inputs), ("storage", storage), ("cookies", cookies)):
            if value in text:
                found.append((value, where))
        for url, body in recorder.bodies:
            if value.encode() in body:
                found.append((value, url))
    assert found == []
    assert decrypt(server, ns, "searched") == known["edit"]


def test_wide_narrow_and_dark_layouts(open_page, server):
    ns = namespace(server, "org-42")
    rows = [
        ("grafana-cloud-api", "Grafana Cloud API key", ["k6-cloud", "synthetic-monitoring"], {"team": "sre"}),
        ("payments-db", "Payments database", ["provisioning.grafana.app"], {"team": "payments", "env": "prod"}),
        ("web-tls-key", "TLS key for web", ["synthetic-monitoring"], {"team": "web"}),
    ]
    for name, description, decrypters, labels in rows:
        body = secure_value(name, description=description, decrypters=decrypters, labels=labels)
        assert server.session.post(server.sv_url(ns), json=body).status_code == 201
    response = requests.patch(
        f"{server.url}/api/v2/orgs/{42:016x}/secrets",
        json={"SNOWFLAKE_PASS": VALUES["influx"]},
        headers={"Authorization": f"Token {server.admin_token}"},
        timeout=10,
    )
    assert response.status_code == 204, response.text
    wide, _ = open_page()
    sign_in(wide, server.admin_token, ns)
    expect(wide.locator("#secret-rows tr")).to_have_count(4)
    screenshot(wide, "list")
    assert wide.evaluate("() => document.documentElement.scrollWidth") <= 1280
    phone, _ = open_page(width=390, height=844)
    sign_in(phone, server.admin_token, ns)
    expect(row(phone, "payments-db")).to_be_visible()
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot(phone, "list-390px")
    phone.get_by_role("button", name="Add secret").click()
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot(phone, "add-form-390px")
    dark, _ = open_page(color_scheme="dark")
    sign_in(dark, server.admin_token, ns)
    expect(row(dark, "payments-db")).to_be_visible()
    background = dark.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 20, 24)"
    screenshot(dark, "list-dark")


def test_a_write_the_server_refuses_is_shown_as_a_message(open_page, server):
    ns = namespace(server, "ui-refused")
    for name in ("mine", "theirs"):
        assert server.session.post(server.sv_url(ns), json=secure_value(name)).status_code == 201
    permissions = [
        {"action": "secret.securevalues:read", "scope": "secret.securevalues:*"},
        {"action": "secret.securevalues:write", "scope": "secret.securevalues:uid:mine"},
    ]
    token, _ = create_token(server, namespaces=[ns], permissions=permissions)
    page, _ = open_page()
    sign_in(page, token)
    page.get_by_role("button", name="Edit theirs").click()
    page.get_by_label("Description").fill("not mine to change")
    save(page)
    expect(page.locator("#form-error")).to_contain_text("Not allowed:")
    expect(page.get_by_label("Description")).to_have_value("not mine to change")
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Edit mine").click()
    page.get_by_label("Description").fill("mine to change")
    save(page)
    expect(row(page, "mine")).to_contain_text("mine to change")
    assert get(server, ns, "theirs")["spec"]["description"] == "a test value"


def test_every_control_is_reachable_by_keyboard(open_page, server):
    page, _ = open_page()
    expect(page.get_by_label("Token")).to_be_focused()  # once the page has started, the Token field has the focus
    page.keyboard.type(server.admin_token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    reached = set()
    for _ in range(20):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("() => document.activeElement.id || document.activeElement.textContent"))
    assert {"namespace", "sign-out", "tab-secrets", "filter", "label-selector", "sort", "add-secret"} <= reached
    page.get_by_role("button", name="Add secret").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
