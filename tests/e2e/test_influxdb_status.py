"""Every row of the reference's status summary (influxdb-secrets.md §1.11), byte for byte, over raw HTTP.

Also the order of influxd's checks, the routes real clients use (the influx CLI 2.1–2.6 delete
path, percent-encoded keys, trailing slashes), the org endpoints and the public endpoints.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from influxdb_support import native_keys, new_org, token

JSON = "application/json; charset=utf-8"


@pytest.fixture(scope="module")
def org(shared_server):
    """(namespace, org ID, secrets URL) of an org of this module."""
    namespace, org_id = new_org(shared_server)
    return namespace, org_id, f"{shared_server.url}/api/v2/orgs/{org_id}/secrets"


def call(
    server, method: str, url: str, token_value: str | None = None, body: bytes | None = None, scheme: str = "Token"
) -> requests.Response:
    headers = {"Authorization": f"{scheme} {token_value or server.admin_token}"} if scheme else {}
    return requests.request(method, url, headers=headers, data=body, timeout=20)


def assert_error(response: requests.Response, status: int, code: str, message: str, *, pretty: bool = True) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == JSON
    assert response.headers["X-Platform-Error-Code"] == code
    expected = (
        f'{{\n\t"code": "{code}",\n\t"message": "{message}"\n}}'
        if pretty
        else f'{{"code":"{code}","message":"{message}"}}'
    )
    assert response.text == expected


def assert_no_content(response: requests.Response) -> None:
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert "Content-Type" not in response.headers


def test_get_ok_is_influxds_exact_body(shared_server, org):
    namespace, org_id, url = org
    assert_no_content(call(shared_server, "PATCH", url, body=b'{"world":"2","hello":"1"}'))
    response = call(shared_server, "GET", url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON
    assert (response.headers["X-Influxdb-Build"], response.headers["X-Influxdb-Version"]) == ("OSS", "v2.7.12")
    assert response.text == (
        f'{{\n\t"links": {{\n\t\t"org": "/api/v2/orgs/{org_id}",\n\t\t"self": '
        f'"/api/v2/orgs/{org_id}/secrets"\n\t}},\n\t"secrets": [\n\t\t"hello",\n\t\t"world"\n\t]\n}}'
    )
    upper = call(shared_server, "GET", url.replace(org_id, org_id.upper()))
    assert upper.json()["links"]["org"] == f"/api/v2/orgs/{org_id}"  # IDs come back lower case
    assert_no_content(call(shared_server, "POST", f"{url}/delete", body=b'{"secrets":["hello","world"]}'))
    assert call(shared_server, "GET", url).json()["secrets"] == []  # never null


def test_writes_and_deletes_are_204_also_for_absent_keys(shared_server, org):
    namespace, org_id, url = org
    assert_no_content(call(shared_server, "PATCH", url, body=b'{"x":"1","y":"2","z":"3","w":"4"}'))
    assert_no_content(call(shared_server, "PATCH", url, body=b"{}"))
    assert_no_content(call(shared_server, "PATCH", url, body=b"null"))
    assert_no_content(call(shared_server, "DELETE", f"{url}/x"))
    assert_no_content(call(shared_server, "DELETE", f"{url}/x"))  # absent now: still 204
    assert_no_content(call(shared_server, "POST", f"{url}/delete", body=b'{"secrets":["y","absent"]}'))
    assert_no_content(call(shared_server, "POST", f"{url}/delete", body=b"{}"))
    # influx CLI 2.1–2.6 POST to an unexpanded `{delete}` template; real servers 405, the facade deletes.
    assert_no_content(call(shared_server, "POST", f"{url}/%7Bdelete%7D", body=b'{"secrets":["z"]}'))
    assert_no_content(call(shared_server, "POST", f"{url}/{{delete}}", body=b'{"secrets":["w"]}'))
    assert call(shared_server, "GET", url).json()["secrets"] == []


def test_keys_in_paths_are_percent_decoded_properly(shared_server, org):
    namespace, org_id, url = org
    keys = {"a/b": "%2F", "50% off": "%25", "with space": "%20", "ü🔑": "%C3%BC%F0%9F%94%91", "x:y@z": "%3A"}
    body = "{" + ",".join(f'"{k}":"v"' for k in keys) + "}"
    assert_no_content(call(shared_server, "PATCH", url, body=body.encode()))
    encoded = {
        "a/b": "a%2Fb",
        "50% off": "50%25%20off",
        "with space": "with%20space",
        "ü🔑": "%C3%BC%F0%9F%94%91",
        "x:y@z": "x%3Ay%40z",
    }
    for key, segment in encoded.items():
        assert_no_content(call(shared_server, "DELETE", f"{url}/{segment}"))
        assert key not in call(shared_server, "GET", url).json()["secrets"]
    assert native_keys(shared_server, namespace) == {}
    assert call(shared_server, "GET", f"{url}/").status_code == 200  # a trailing slash is stripped


@pytest.mark.parametrize(
    "header",
    [None, "Basic YWRtaW46YWRtaW4=", "Token not-a-token", "Bearer not-a-token", "Token ", "Token"],
    ids=["none", "basic", "token", "bearer", "empty", "bare"],
)
def test_no_bad_or_unknown_token_is_401_compact(shared_server, org, header):
    namespace, org_id, url = org
    response = requests.get(url, headers={"Authorization": header} if header else {}, timeout=20)
    assert_error(response, 401, "unauthorized", "unauthorized access", pretty=False)
    # Credentials are checked first, before the org ID.
    bad = requests.get(
        f"{shared_server.url}/api/v2/orgs/123/secrets", headers={"Authorization": header or ""}, timeout=20
    )
    assert bad.status_code == 401


def test_bearer_scheme_works_like_token(shared_server, org):
    namespace, org_id, url = org
    assert call(shared_server, "GET", url, scheme="Bearer").status_code == 200
    assert call(shared_server, "GET", url, scheme="tOkEn").status_code == 200  # the scheme is case-insensitive


def test_inactive_credentials_are_refused(shared_server, org):
    """The reference's `user inactive` 403 cannot happen here: identities are tokens, without a user status.

    A revoked token is what comes closest; it is refused at the edge like an unknown token.
    """
    namespace, org_id, url = org
    revoked = token(shared_server, namespace, "--role", "editor")
    assert call(shared_server, "GET", url, revoked).status_code == 200
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "apiserver",
            "token",
            "revoke",
            "--server",
            shared_server.url,
            "--token",
            shared_server.admin_token,
            revoked,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert_error(call(shared_server, "GET", url, revoked), 401, "unauthorized", "unauthorized access", pretty=False)


@pytest.mark.parametrize(
    "org_id,message",
    [
        ("123", "corrupt ID provided: id must have a length of 16 bytes"),
        ("00000000000000001", "corrupt ID provided: id must have a length of 16 bytes"),
        ("zzzzzzzzzzzzzzzz", "corrupt ID provided: invalid ID"),
        ("0x00000000000001", "corrupt ID provided: invalid ID"),
        ("0000000000000000", "corrupt ID provided: invalid ID"),
    ],
    ids=["short", "long", "not-hex", "0x", "zero"],
)
def test_bad_org_ids_are_400(shared_server, org_id, message):
    for method in ("GET", "PATCH", "PUT"):  # checked before the route and the body
        response = call(shared_server, method, f"{shared_server.url}/api/v2/orgs/{org_id}/secrets", body=b"x")
        assert_error(response, 400, "invalid", message)


def test_missing_or_unreadable_orgs_are_404(shared_server, org):
    namespace, org_id, url = org
    missing = call(shared_server, "PATCH", f"{shared_server.url}/api/v2/orgs/00000000deadbeef/secrets", body=b"x")
    assert_error(missing, 404, "not found", "404 page not found")
    elsewhere = token(shared_server, namespace, "--role", "admin")  # an admin of another namespace only
    for method in ("GET", "PUT"):  # before the route's 405
        response = call(shared_server, method, f"{shared_server.url}/api/v2/orgs/0000000000000001/secrets", elsewhere)
        assert_error(response, 404, "not found", "404 page not found")


@pytest.mark.parametrize(
    "body,message",
    [
        (b"", "EOF"),
        (b"{", "unexpected EOF"),
        (b"xyz", "invalid character 'x' looking for beginning of value"),
        (b'["a"]', "json: cannot unmarshal array into Go value of type map[string]string"),
        (b'"a"', "json: cannot unmarshal string into Go value of type map[string]string"),
        (b'{"ok":"1","n":2}', "json: cannot unmarshal number into Go value of type string"),
        (b'{"ok":"1","b":true}', "json: cannot unmarshal bool into Go value of type string"),
        (b'{"ok":"1","o":{}}', "json: cannot unmarshal object into Go value of type string"),
        (b'{"ok":"1","a":[]}', "json: cannot unmarshal array into Go value of type string"),
    ],
    ids=["empty", "cut", "garbage", "array", "string", "number", "bool", "object", "array-value"],
)
def test_bad_patch_bodies_are_400_and_write_nothing(shared_server, org, body, message):
    namespace, org_id, url = org
    before = native_keys(shared_server, namespace)
    assert_error(call(shared_server, "PATCH", url, body=body), 400, "invalid", f"failed to unmarshal json: {message}")
    assert native_keys(shared_server, namespace) == before
    assert "ok" not in call(shared_server, "GET", url).json()["secrets"]


def test_bad_delete_bodies_are_400(shared_server, org):
    namespace, org_id, url = org
    assert_error(
        call(shared_server, "POST", f"{url}/delete", body=b""), 400, "invalid", "failed to unmarshal json: EOF"
    )
    assert_error(
        call(shared_server, "POST", f"{url}/delete", body=b'{"secrets":"a"}'),
        400,
        "invalid",
        "failed to unmarshal json: json: cannot unmarshal string into Go struct field "
        "secretsDeleteBody.secrets of type []string",
    )


def test_null_is_stored_as_an_empty_value_and_listed(shared_server, org):
    namespace, org_id, url = org
    assert_no_content(call(shared_server, "PATCH", url, body=b'{"nothing":null,"blank":""}'))
    assert {"nothing", "blank"} <= set(call(shared_server, "GET", url).json()["secrets"])
    assert {"nothing", "blank"} <= set(native_keys(shared_server, namespace))
    assert_no_content(call(shared_server, "POST", f"{url}/delete", body=b'{"secrets":["nothing","blank"]}'))


def test_missing_secrets_permissions_are_401(shared_server, org):
    namespace, org_id, url = org
    viewer = token(shared_server, namespace, "--role", "viewer")
    write = f"write:orgs/{org_id}/secrets is unauthorized"
    assert call(shared_server, "GET", url, viewer).status_code == 200
    assert_error(call(shared_server, "PATCH", url, viewer, b'{"k":"v"}'), 401, "unauthorized", write)
    assert_error(call(shared_server, "DELETE", f"{url}/k", viewer), 401, "unauthorized", write)
    assert_error(call(shared_server, "POST", f"{url}/delete", viewer, b'{"secrets":["k"]}'), 401, "unauthorized", write)
    # A bad body is reported before the missing permission, as influxd does.
    assert call(shared_server, "PATCH", url, viewer, b"{").status_code == 400
    delete_only = token(shared_server, namespace, "--permission", "secret.securevalues:delete")
    assert_error(
        call(shared_server, "GET", url, delete_only), 401, "unauthorized", f"read:orgs/{org_id}/secrets is unauthorized"
    )


@pytest.mark.parametrize(
    "method,suffix",
    [
        ("PUT", ""),
        ("POST", ""),
        ("DELETE", ""),
        ("GET", "/k"),
        ("PATCH", "/k"),
        ("POST", "/k"),
        ("PUT", "/k"),
        ("GET", "/delete"),
    ],
)
def test_unsupported_methods_are_bare_405(shared_server, org, method, suffix):
    namespace, org_id, url = org
    response = call(shared_server, method, url + suffix, body=b"{}")
    assert response.status_code == 405
    assert response.content == b""
    assert "Content-Type" not in response.headers


def test_unknown_deeper_paths_are_go_text_404(shared_server, org):
    namespace, org_id, url = org
    for method in ("GET", "DELETE"):
        response = call(shared_server, method, f"{url}/a/b")
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.text == "404 page not found\n"


def test_org_endpoints(shared_server, org):
    namespace, org_id, url = org
    orgs = f"{shared_server.url}/api/v2/orgs"
    found = call(shared_server, "GET", f"{orgs}?org={namespace}").json()
    assert found["links"] == {"self": "/api/v2/orgs"}
    assert [(o["id"], o["name"]) for o in found["orgs"]] == [(org_id, namespace)]
    assert call(shared_server, "GET", f"{orgs}?orgID={org_id}").json()["orgs"][0]["name"] == namespace
    assert len(call(shared_server, "GET", f"{orgs}?limit=1").json()["orgs"]) == 1
    assert (
        call(shared_server, "GET", f"{orgs}?limit=1&offset=1").json()["orgs"]
        != call(shared_server, "GET", f"{orgs}?limit=1").json()["orgs"]
    )
    assert_error(
        call(shared_server, "GET", f"{orgs}?org=nope"), 404, "not found", 'organization name \\"nope\\" not found'
    )
    assert_error(call(shared_server, "GET", f"{orgs}?limit=0"), 400, "invalid", "limit must be between 1 and 100")
    assert_error(call(shared_server, "GET", f"{orgs}/123"), 400, "invalid", "id must have a length of 16 bytes")
    assert_error(call(shared_server, "GET", f"{orgs}/00000000deadbeef"), 404, "not found", "organization not found")
    assert call(shared_server, "GET", f"{orgs}/{org_id}").json()["name"] == namespace
    viewer = token(shared_server, namespace, "--role", "viewer")
    assert call(shared_server, "GET", f"{orgs}?org=default", viewer).json()["orgs"] == []  # not its org
    assert [o["name"] for o in call(shared_server, "GET", orgs, viewer).json()["orgs"]] == [namespace]


def test_public_endpoints_need_no_credentials(shared_server):
    ping = requests.get(f"{shared_server.url}/ping", timeout=20)
    assert ping.status_code == 204
    assert (ping.headers["X-Influxdb-Build"], ping.headers["X-Influxdb-Version"]) == ("OSS", "v2.7.12")
    assert requests.head(f"{shared_server.url}/ping", timeout=20).status_code == 204
    health = requests.get(f"{shared_server.url}/health", timeout=20)
    assert health.status_code == 200 and health.text.endswith("}\n")
    assert health.json()["status"] == "pass"
    ready = requests.get(f"{shared_server.url}/ready", timeout=20)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    # The rest of the InfluxDB API needs credentials.
    assert requests.get(f"{shared_server.url}/api/v2/orgs", timeout=20).status_code == 401


def test_a_patch_is_all_or_nothing(shared_server, org):
    namespace, org_id, url = org
    before = native_keys(shared_server, namespace)
    # A key is kept in an annotation, and annotations are capped at 256 KiB: this one cannot be stored.
    body = b'{"fine":"1","' + b"k" * 300_000 + b'":"2"}'
    response = call(shared_server, "PATCH", url, body=body)
    assert response.status_code == 422, response.text[:300]
    assert response.json()["code"] == "unprocessable entity"
    assert native_keys(shared_server, namespace) == before
    assert "fine" not in call(shared_server, "GET", url).json()["secrets"]


def test_a_native_name_equal_to_a_derived_name_does_not_collide(shared_server, org):
    from apiserver.services.facade_values import name_for_key

    namespace, org_id, url = org
    taken = name_for_key("Collide")
    created = shared_server.session.post(
        shared_server.sv_url(namespace),
        json={
            "apiVersion": "secret.grafana.app/v1beta1",
            "kind": "SecureValue",
            "metadata": {"name": taken},
            "spec": {"description": "native", "value": "n"},
        },
    )
    assert created.status_code == 201, created.text
    assert_no_content(call(shared_server, "PATCH", url, body=b'{"Collide":"c"}'))
    native = native_keys(shared_server, namespace)
    assert native[taken]["metadata"]["name"] == taken and native["Collide"]["metadata"]["name"] != taken
    assert_no_content(
        call(shared_server, "POST", f"{url}/delete", body=f'{{"secrets":["Collide","{taken}"]}}'.encode())
    )
    assert not {"Collide", taken} & set(native_keys(shared_server, namespace))


def test_keys_are_written_with_gos_html_safe_escapes(shared_server, org):
    namespace, org_id, url = org
    assert_no_content(call(shared_server, "PATCH", url, body=b'{"a<b&c>":"v"}'))
    response = call(shared_server, "GET", url)
    assert '"a\\u003cb\\u0026c\\u003e"' in response.text
    assert "a<b&c>" in response.json()["secrets"]
    assert_no_content(call(shared_server, "DELETE", f"{url}/a%3Cb%26c%3E"))


def test_concurrent_upserts_of_one_new_key_make_one_value(shared_server):
    from concurrent.futures import ThreadPoolExecutor

    namespace, org_id = new_org(shared_server)
    url = f"{shared_server.url}/api/v2/orgs/{org_id}/secrets"
    bodies = [f'{{"shared":"value {i}","own-{i}":"x"}}'.encode() for i in range(12)]
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda body: call(shared_server, "PATCH", url, body=body).status_code, bodies))
    assert statuses == [204] * 12
    native = native_keys(shared_server, namespace)
    assert sorted(native) == sorted(["shared"] + [f"own-{i}" for i in range(12)])
    assert native["shared"]["status"]["version"] >= 1


def test_cors_preflight(shared_server, org):
    namespace, org_id, url = org
    preflight = requests.options(url, headers={"Origin": "https://ui.example"}, timeout=20)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    assert "PATCH" in preflight.headers["Access-Control-Allow-Methods"]
    assert requests.options(url, timeout=20).status_code == 405
