"""A body that repeats a key: 400 with fieldValidation=Strict, a Warning with Warn, and never silently.

As kube-apiserver: Strict answers `strict decoding error: duplicate field "<path>"`; Warn (the
default) keeps the last value and says so in a `Warning` header; Ignore keeps the last value.
"""

from __future__ import annotations

import pytest
import requests
from cloudflare_support import new_account, raw
from core_support import assert_status
from influxdb_support import native_keys, new_org

JSON = "application/json"
YAML = "application/yaml"

DUP_JSON = (
    b'{"apiVersion":"secret.grafana.app/v1beta1","kind":"SecureValue",'
    b'"metadata":{"name":"NAME","labels":{"team":"a","team":"b"}},'
    b'"spec":{"description":"first","value":"dup-v","description":"second"}}'
)
DUP_YAML = b"""apiVersion: secret.grafana.app/v1beta1
kind: SecureValue
metadata:
  name: NAME
  labels: {team: a, team: b}
spec:
  description: first
  value: dup-v
  description: second
"""
PATHS = ['duplicate field "metadata.labels.team"', 'duplicate field "spec.description"']


def _create(server, body: bytes, media: str, name: str, validation: str | None):
    params = {"fieldValidation": validation} if validation else {}
    return server.session.post(
        server.sv_url(), data=body.replace(b"NAME", name.encode()), headers={"Content-Type": media}, params=params
    )


@pytest.mark.parametrize("media, body", [(JSON, DUP_JSON), (YAML, DUP_YAML)], ids=["json", "yaml"])
def test_strict_refuses_a_repeated_key_and_creates_nothing(shared_server, media, body):
    name = f"strict-{media.split('/')[1]}"
    response = _create(shared_server, body, media, name, "Strict")
    assert_status(response, 400, "BadRequest", "strict decoding error: " + ", ".join(PATHS))
    assert shared_server.session.get(shared_server.sv_url(name=name)).status_code == 404


@pytest.mark.parametrize("media, body", [(JSON, DUP_JSON), (YAML, DUP_YAML)], ids=["json", "yaml"])
def test_warn_keeps_the_last_value_and_says_so(shared_server, media, body):
    name = f"warn-{media.split('/')[1]}"
    for validation in ("Warn", None):  # Warn is the default
        response = _create(shared_server, body, media, name + ("-default" if validation is None else ""), validation)
        assert response.status_code == 201, response.text
        warning = response.headers["Warning"]
        assert all(path in warning.replace('\\"', '"') for path in PATHS), warning
        assert response.json()["spec"]["description"] == "second"
        assert response.json()["metadata"]["labels"] == {"team": "b"}


def test_ignore_keeps_the_last_value_without_a_warning(shared_server):
    response = _create(shared_server, DUP_JSON, JSON, "ignored", "Ignore")
    assert response.status_code == 201 and "Warning" not in response.headers
    assert response.json()["spec"]["description"] == "second"


def test_patches_with_repeated_keys(shared_server):
    created = _create(shared_server, DUP_JSON.replace(b',"description":"second"', b""), JSON, "patched", None)
    assert created.status_code == 201, created.text
    url = shared_server.sv_url(name="patched")
    merge = b'{"spec":{"description":"x","description":"y"}}'
    refused = shared_server.session.patch(
        url, data=merge, headers={"Content-Type": "application/merge-patch+json"}, params={"fieldValidation": "Strict"}
    )
    assert_status(refused, 400, "BadRequest", 'strict decoding error: duplicate field "spec.description"')
    apply = (
        b"apiVersion: secret.grafana.app/v1beta1\nkind: SecureValue\nmetadata: {name: patched}\n"
        b"spec:\n  description: x\n  description: y\n"
    )
    refused = shared_server.session.patch(
        url,
        data=apply,
        headers={"Content-Type": "application/apply-patch+yaml"},
        params={"fieldValidation": "Strict", "fieldManager": "t"},
    )
    assert_status(refused, 400, "BadRequest", 'strict decoding error: duplicate field "spec.description"')
    assert shared_server.session.get(url).json()["spec"]["description"] == "first"

    warned = shared_server.session.patch(url, data=merge, headers={"Content-Type": "application/merge-patch+json"})
    assert warned.status_code == 200 and "spec.description" in warned.headers["Warning"]
    assert warned.json()["spec"]["description"] == "y"


def test_other_bodies_refuse_a_repeated_key(shared_server):
    response = shared_server.session.post(
        f"{shared_server.url}/apis/auth.apiserver.local/v1/tokens",
        data=b'{"namespaces":["default"],"role":"viewer","role":"admin"}',
        headers={"Content-Type": JSON},
    )
    assert_status(response, 400, "BadRequest", 'strict decoding error: duplicate field "role"')


def test_the_influxdb_facade_refuses_a_repeated_key_and_stores_nothing(shared_server):
    """influxd (Go) would keep the last value; a secrets server refuses to pick one of two values."""
    namespace, org_id = new_org(shared_server, "dupkeys")
    url = f"{shared_server.url}/api/v2/orgs/{org_id}/secrets"
    headers = {"Authorization": f"Token {shared_server.admin_token}"}
    patched = requests.patch(url, data=b'{"db-password":"first","db-password":"second"}', headers=headers, timeout=20)
    assert patched.status_code == 400, patched.text
    assert patched.json() == {"code": "invalid", "message": 'failed to unmarshal json: duplicate key "db-password"'}
    assert native_keys(shared_server, namespace) == {}

    assert requests.patch(url, data=b'{"kept":"v"}', headers=headers, timeout=20).status_code == 204
    deleted = requests.post(
        f"{url}/delete", data=b'{"secrets":["kept"],"Secrets":["other"]}', headers=headers, timeout=20
    )
    assert deleted.status_code == 400 and deleted.json()["message"].endswith('duplicate key "Secrets"'), deleted.text
    assert set(native_keys(shared_server, namespace)) == {"kept"}


def test_the_cloudflare_facade_refuses_a_repeated_field_and_stores_nothing(shared_server):
    namespace, account_id = new_account(shared_server)
    stores = f"/accounts/{account_id}/secrets_store/stores"
    store_id = raw(shared_server, "POST", stores, json={"name": "dup"}).json()["result"]["id"]
    body = b'[{"name":"DUP","value":"first","value":"second","scopes":["workers"]}]'
    created = raw(shared_server, "POST", f"{stores}/{store_id}/secrets", data=body)
    assert created.status_code == 400, created.text
    assert created.json()["errors"] == [{"code": 1001, "message": 'invalid_json_body: duplicate field "[0].value"'}]
    assert shared_server.session.get(shared_server.sv_url(namespace)).json()["items"] == []
