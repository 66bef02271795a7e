"""The InfluxDB facade driven by the official `influxdb-client` package, over real HTTP."""

from __future__ import annotations

import pytest
from harness import files_containing, secure_value
from influxdb_client import OrganizationsApi
from influxdb_client.domain.secret_keys import SecretKeys
from influxdb_client.rest import ApiException
from influxdb_client.service.secrets_service import SecretsService
from influxdb_support import KEY_ANNOTATION, client, native_keys, new_org, token

ODD_KEYS = ["SNOWFLAKE_PASS", "path/to key %41 ü 🔑", "Case", "case", ""]


@pytest.fixture(scope="module")
def influx(shared_server):
    with client(shared_server) as c:
        yield c


def secrets_of(service: SecretsService, org_id: str) -> list[str]:
    return service.get_orgs_id_secrets(org_id=org_id).secrets


def test_ping_version_build_health_ready(shared_server, influx):
    assert influx.ping() is True
    assert influx.version() == "v2.7.12"
    assert influx.build() == "OSS"
    assert influx.health().status == "pass"
    assert influx.ready().status == "ready"


def test_find_organizations_by_name(shared_server, influx):
    name, org_id = new_org(shared_server)
    orgs = OrganizationsApi(influx).find_organizations(org=name)
    assert [(o.id, o.name) for o in orgs] == [(org_id, name)]
    assert OrganizationsApi(influx).find_organizations(org="default")[0].id == "0000000000000001"
    assert OrganizationsApi(influx).find_organization(org_id).name == name
    with pytest.raises(ApiException) as raised:
        OrganizationsApi(influx).find_organizations(org="no-such-org")
    assert (raised.value.status, raised.value.message) == (404, 'organization name "no-such-org" not found')


def test_patch_list_delete_one_and_many(shared_server, influx):
    namespace, org_id = new_org(shared_server)
    service = SecretsService(influx.api_client)
    assert secrets_of(service, org_id) == []
    service.patch_orgs_id_secrets(org_id=org_id, request_body={"b": "1", "a": "2", "c": "3", "d": "4"})
    assert secrets_of(service, org_id) == ["a", "b", "c", "d"]
    service.delete_orgs_id_secrets_id(org_id=org_id, secret_id="b")
    service.delete_orgs_id_secrets_id(org_id=org_id, secret_id="never-existed")  # 204 as well
    assert secrets_of(service, org_id) == ["a", "c", "d"]
    service.post_orgs_id_secrets(org_id=org_id, secret_keys=SecretKeys(secrets=["a", "c", "absent"]))
    assert secrets_of(service, org_id) == ["d"]
    assert list(native_keys(shared_server, namespace)) == ["d"]


def test_odd_keys_round_trip_and_show_natively(shared_server, influx):
    namespace, org_id = new_org(shared_server)
    service = SecretsService(influx.api_client)
    service.patch_orgs_id_secrets(org_id=org_id, request_body={key: f"value of {key}" for key in ODD_KEYS})
    assert secrets_of(service, org_id) == sorted(ODD_KEYS, key=lambda k: k.encode())
    native = native_keys(shared_server, namespace)
    assert sorted(native) == sorted(ODD_KEYS)
    names = {native[key]["metadata"]["name"] for key in ODD_KEYS}
    assert len(names) == len(ODD_KEYS)  # "Case" and "case" are two values
    for key in ODD_KEYS:
        item = native[key]
        assert item["metadata"]["annotations"][KEY_ANNOTATION] == key
        assert item["spec"]["decrypters"] == ["influxdb"]
        assert item["spec"]["description"] == "InfluxDB org secret"
        assert "value" not in item["spec"]
        got = shared_server.session.get(shared_server.sv_url(namespace, item["metadata"]["name"])).json()
        assert got["metadata"]["annotations"][KEY_ANNOTATION] == key
    for key in ODD_KEYS[:-1]:  # the client cannot address the empty key in a path
        service.delete_orgs_id_secrets_id(org_id=org_id, secret_id=key)
    assert secrets_of(service, org_id) == [""]
    service.post_orgs_id_secrets(org_id=org_id, secret_keys=SecretKeys(secrets=[""]))
    assert secrets_of(service, org_id) == []
    assert native_keys(shared_server, namespace) == {}


def test_upsert_makes_a_new_version_of_the_same_value(shared_server, influx):
    namespace, org_id = new_org(shared_server)
    service = SecretsService(influx.api_client)
    service.patch_orgs_id_secrets(org_id=org_id, request_body={"token": "first-influx-value"})
    before = native_keys(shared_server, namespace)["token"]
    service.patch_orgs_id_secrets(org_id=org_id, request_body={"token": "second-influx-value"})
    after = native_keys(shared_server, namespace)["token"]
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["name"] == before["metadata"]["name"]
    assert (before["status"]["version"], after["status"]["version"]) == (1, 2)


def test_native_values_are_keys_by_name(shared_server, influx):
    namespace, org_id = new_org(shared_server)
    created = shared_server.session.post(
        shared_server.sv_url(namespace),
        json=secure_value("native-one", description="made natively", decrypters=["grafana"]),
    )
    assert created.status_code == 201, created.text
    service = SecretsService(influx.api_client)
    assert secrets_of(service, org_id) == ["native-one"]
    service.patch_orgs_id_secrets(org_id=org_id, request_body={"native-one": "updated through influx"})
    item = shared_server.session.get(shared_server.sv_url(namespace, "native-one")).json()
    assert item["status"]["version"] == 2
    assert item["spec"]["description"] == "made natively"  # kept: only the value changed
    assert item["spec"]["decrypters"] == ["grafana", "influxdb"]
    assert KEY_ANNOTATION not in (item["metadata"].get("annotations") or {})
    service.delete_orgs_id_secrets_id(org_id=org_id, secret_id="native-one")
    assert shared_server.session.get(shared_server.sv_url(namespace, "native-one")).status_code == 404


def test_errors_raise_api_exception_with_influxdbs_status_and_message(shared_server, influx):
    namespace, org_id = new_org(shared_server)
    service = SecretsService(influx.api_client)
    cases = [
        (
            lambda: service.get_orgs_id_secrets(org_id="123"),
            400,
            "corrupt ID provided: id must have a length of 16 bytes",
        ),
        (lambda: service.get_orgs_id_secrets(org_id="zzzzzzzzzzzzzzzz"), 400, "corrupt ID provided: invalid ID"),
        (lambda: service.get_orgs_id_secrets(org_id="0000000000000000"), 400, "corrupt ID provided: invalid ID"),
        (lambda: service.get_orgs_id_secrets(org_id="00000000deadbeef"), 404, "404 page not found"),
        (
            lambda: service.patch_orgs_id_secrets(org_id=org_id, request_body={"k": 5}),
            400,
            "failed to unmarshal json: json: cannot unmarshal number into Go value of type string",
        ),
    ]
    service.patch_orgs_id_secrets(org_id=org_id, request_body={})  # this client version sends `{}`: a no-op
    for call, status, message in cases:
        with pytest.raises(ApiException) as raised:
            call()
        assert (raised.value.status, raised.value.message) == (status, message)
    with client(shared_server, "not-a-token") as stranger:
        with pytest.raises(ApiException) as raised:
            SecretsService(stranger.api_client).get_orgs_id_secrets(org_id=org_id)
        assert (raised.value.status, raised.value.message) == (401, "unauthorized access")
    viewer = token(shared_server, namespace, "--role", "viewer")
    with client(shared_server, viewer) as as_viewer:
        viewer_service = SecretsService(as_viewer.api_client)
        assert viewer_service.get_orgs_id_secrets(org_id=org_id).secrets == []
        with pytest.raises(ApiException) as raised:
            viewer_service.patch_orgs_id_secrets(org_id=org_id, request_body={"k": "v"})
        assert (raised.value.status, raised.value.message) == (401, f"write:orgs/{org_id}/secrets is unauthorized")
        with pytest.raises(ApiException) as raised:
            viewer_service.get_orgs_id_secrets(org_id="0000000000000001")  # not its namespace
        assert (raised.value.status, raised.value.message) == (404, "404 page not found")
    assert native_keys(shared_server, namespace) == {}  # nothing of the refused writes was stored


def test_values_decrypt_for_the_influxdb_identity_and_stay_encrypted(server):
    namespace, org_id = new_org(server)
    with client(server) as influx:
        SecretsService(influx.api_client).patch_orgs_id_secrets(
            org_id=org_id, request_body={"SNOWFLAKE_PASS": "snowflake-plaintext-42", "EMPTY": ""}
        )
    names = {key: item["metadata"]["name"] for key, item in native_keys(server, namespace).items()}
    pipeline = token(server, namespace, "--role", "viewer", "--service-identity", "influxdb")
    other = token(server, namespace, "--role", "viewer", "--service-identity", "someone-else")

    def decrypt(token_value: str, name: str):
        return server.session.post(
            f"{server.sv_url(namespace, name)}/decrypt", headers={"Authorization": f"Bearer {token_value}"}
        )

    answer = decrypt(pipeline, names["SNOWFLAKE_PASS"])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"value": "snowflake-plaintext-42"}
    assert decrypt(pipeline, names["EMPTY"]).json() == {"value": ""}
    assert decrypt(other, names["SNOWFLAKE_PASS"]).status_code == 403
    server.stop()
    assert files_containing(server.data_dir, b"snowflake-plaintext-42") == []
    assert "snowflake-plaintext-42" not in server.log()
