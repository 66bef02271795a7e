"""Keepers, their rules, activation, and their relation to secure values."""

from __future__ import annotations

import asyncio

import pytest
from core_support import assert_status, causes, state
from harness import secure_value

KP = "Keeper.secret.grafana.app"
PROVIDERS = {
    "aws": {"region": "eu-west-1", "assumeRole": {"assumeRoleArn": "arn:aws:iam::1:role/x", "externalID": "e"}},
    "azure": {"keyVaultName": "kv", "tenantID": "t", "clientID": "c", "clientSecret": {"valueFromEnv": "AZ"}},
    "gcp": {"projectID": "p", "credentialsFile": "/etc/gcp.json"},
    "hashiCorpVault": {"address": "https://vault:8200", "token": {"secureValueName": "vault-token"}},
}


def keeper(name: str | None, provider: str = "gcp", description: str = "a keeper", **extra) -> dict:
    body = {
        "apiVersion": "secret.grafana.app/v1beta1",
        "kind": "Keeper",
        "metadata": {},
        "spec": {"description": description, provider: PROVIDERS[provider], **extra},
    }
    if name:
        body["metadata"]["name"] = name
    return body


@pytest.fixture(scope="module")
def srv(shared_server):
    return shared_server


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_each_provider_shape_is_accepted_and_starts_inactive(srv, provider):
    body = keeper(f"kp-{provider.lower()}", provider)
    body["status"] = {"active": True}  # server-set: ignored
    response = srv.session.post(srv.keeper_url(), json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == {"active": False} and created["spec"][provider] == PROVIDERS[provider]
    assert created["kind"] == "Keeper"


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            keeper("system"),
            [("metadata.name", "FieldValueForbidden", "Forbidden: the keeper name `system` is reserved")],
        ),
        (
            {"metadata": {"name": "none"}, "spec": {"description": "d"}},
            [("spec", "FieldValueRequired", "Required value: at least one `keeper` must be present")],
        ),
        (
            keeper("two", "gcp", hashiCorpVault=PROVIDERS["hashiCorpVault"]),
            [
                (
                    "spec",
                    "FieldValueInvalid",
                    'Invalid value: "gcp, hashiCorpVault": only one `keeper` can be present at a time but found more',
                )
            ],
        ),
        (
            {"metadata": {"name": "no-description"}, "spec": {"gcp": PROVIDERS["gcp"]}},
            [("spec.description", "FieldValueRequired", "Required value")],
        ),
        (
            {"metadata": {"name": "aws-empty"}, "spec": {"description": "d", "aws": {}}},
            [
                ("spec.aws.region", "FieldValueRequired", "Required value: region must be present"),
                ("spec.aws", "FieldValueRequired", "Required value: `assumeRole` must be present"),
            ],
        ),
        (
            {"metadata": {"name": "aws-role"}, "spec": {"description": "d", "aws": {"region": "r", "assumeRole": {}}}},
            [
                (
                    "spec.aws.assumeRole.assumeRoleArn",
                    "FieldValueRequired",
                    "Required value: arn of the role to assume must be present",
                ),
                ("spec.aws.assumeRole.externalID", "FieldValueRequired", "Required value: externalID must be present"),
            ],
        ),
        (
            {
                "metadata": {"name": "aws-arn"},
                "spec": {
                    "description": "d",
                    "aws": {"region": "eu-west-1", "assumeRole": {"assumeRoleArn": "role/x", "externalID": "e"}},
                },
            },
            [
                (
                    "spec.aws.assumeRole.assumeRoleArn",
                    "FieldValueInvalid",
                    'Invalid value: "role/x": must be the ARN of an IAM role: arn:PARTITION:iam::ACCOUNT:role/NAME',
                )
            ],
        ),
    ],
)
def test_keeper_rules(srv, body, expected):
    before = state(srv)
    response = assert_status(srv.session.post(srv.keeper_url(), json=body), 422, "Invalid")
    assert causes(response) == expected
    assert response["details"]["kind"] == "Keeper"
    assert state(srv) == before


def test_activation_and_the_system_keeper(srv):
    srv.create_namespace("keepers-act")
    url = srv.keeper_url("keepers-act")
    for name in ("first", "second"):
        assert srv.session.post(url, json=keeper(name)).status_code == 201
    assert srv.session.post(srv.sv_url("keepers-act"), json=secure_value("before")).status_code == 201

    response = srv.session.post(f"{url}/first/activate")
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["name"] == "first" and response.json()["status"]["active"] is True
    activated = srv.session.post(f"{url}/second/activate").json()
    assert activated["status"] == {"active": True}
    active = {i["metadata"]["name"]: i["status"]["active"] for i in srv.session.get(url).json()["items"]}
    assert active == {"first": False, "second": True}

    # While a keeper of a type that cannot store values is active, no new value can be created.
    before = state(srv)
    refused = assert_status(srv.session.post(srv.sv_url("keepers-act"), json=secure_value("during")), 422, "Invalid")
    assert causes(refused) == [
        (
            "spec",
            "FieldValueForbidden",
            "Forbidden: the active keeper 'second' is of type 'gcp', which cannot store values yet; "
            "activate the system keeper or an aws keeper to create secure values",
        )
    ]
    assert state(srv) == before
    # Existing values keep their keeper and can still be updated.
    updated = srv.session.put(srv.sv_url("keepers-act", "before"), json=secure_value("before", value="new"))
    assert updated.status_code == 200 and updated.json()["status"]["keeper"] == "system"

    system = srv.session.post(f"{url}/system/activate")
    assert system.status_code == 200
    assert system.json()["metadata"]["name"] == "system" and system.json()["status"]["active"] is True
    assert all(not i["status"]["active"] for i in srv.session.get(url).json()["items"])
    created = srv.session.post(srv.sv_url("keepers-act"), json=secure_value("after"))
    assert created.status_code == 201 and created.json()["status"]["keeper"] == "system"

    everywhere = srv.session.get(f"{srv.url}/apis/secret.grafana.app/v1beta1/keepers").json()
    assert everywhere["kind"] == "KeeperList" and everywhere["apiVersion"] == "secret.grafana.app/v1beta1"
    assert {("keepers-act", "first"), ("keepers-act", "second")} <= {
        (i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]
    }

    assert_status(
        srv.session.post(f"{url}/missing/activate"), 404, "NotFound", 'keepers.secret.grafana.app "missing" not found'
    )
    assert_status(
        srv.session.post(f"{srv.keeper_url('no-such-ns')}/system/activate"),
        404,
        "NotFound",
        'namespaces "no-such-ns" not found',
    )


def test_updating_a_keeper_keeps_its_activation(srv):
    srv.create_namespace("keepers-upd")
    url = srv.keeper_url("keepers-upd")
    srv.session.post(url, json=keeper("k"))
    srv.session.post(f"{url}/k/activate")
    body = keeper("k", description="renamed")
    body["status"] = {"active": False}
    updated = srv.session.put(f"{url}/k", json=body)
    assert updated.status_code == 200, updated.text
    assert updated.json()["status"] == {"active": True} and updated.json()["spec"]["description"] == "renamed"
    assert srv.session.post(f"{url}/system/activate").status_code == 200


def _rewrite(data_dir, namespace: str, name: str, change) -> None:
    """Service layer: change a stored value as a later issue's external keepers will (status.keeper, spec.ref)."""
    import copy

    from harness import ADMIN_TOKEN

    from apiserver.app import build_components
    from apiserver.config import Settings

    async def run() -> None:
        components = build_components(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN))
        await components.store.open()
        try:

            def write(txn):
                current = txn.get("securevalues", namespace, name)
                body = copy.deepcopy(current.body)
                change(body)
                txn.update(
                    "securevalues",
                    namespace,
                    name,
                    body,
                    expected_revision=current.revision,
                    index_key=current.index_key,
                )

            await components.store.commit(write)
        finally:
            await components.store.close()

    asyncio.run(run())


def _use_keeper(keeper_name: str, ref: str | None = None):
    def change(body: dict) -> None:
        body["status"]["keeper"] = keeper_name
        if ref is not None:
            body["spec"]["ref"] = ref

    return change


def test_a_keeper_in_use_cannot_be_deleted(server):
    assert server.session.post(server.keeper_url(), json=keeper("vault-1", "hashiCorpVault")).status_code == 201
    assert server.session.post(server.sv_url(), json=secure_value("uses-vault")).status_code == 201
    server.stop()
    _rewrite(server.data_dir, "default", "uses-vault", _use_keeper("vault-1"))
    server.start()
    assert server.session.get(server.sv_url(name="uses-vault")).json()["status"]["keeper"] == "vault-1"
    before = state(server)
    assert_status(
        server.session.delete(server.keeper_url(name="vault-1")),
        409,
        "Conflict",
        'Operation cannot be fulfilled on keepers.secret.grafana.app "vault-1": the keeper is used by '
        'securevalues "uses-vault" and cannot be deleted',
    )
    assert state(server) == before
    assert server.session.delete(server.sv_url(name="uses-vault")).status_code == 200
    deleted = server.session.delete(server.keeper_url(name="vault-1"))
    assert deleted.status_code == 200 and deleted.json()["status"] == "Success"
    assert deleted.json()["details"]["kind"] == "keepers"


def test_a_value_stored_by_reference_keeps_its_ref(server):
    """ref/value switching the other way round: a value kept by reference in an external keeper."""
    assert server.session.post(server.keeper_url(), json=keeper("vault-2", "hashiCorpVault")).status_code == 201
    assert server.session.post(server.sv_url(), json=secure_value("by-ref")).status_code == 201
    server.stop()
    _rewrite(server.data_dir, "default", "by-ref", _use_keeper("vault-2", ref="secret/data/app"))
    server.start()
    before = state(server)
    to_value = assert_status(
        server.session.put(server.sv_url(name="by-ref"), json=secure_value("by-ref", value="v")), 422, "Invalid"
    )
    assert causes(to_value) == [
        ("spec", "FieldValueForbidden", "Forbidden: cannot set `value` when `ref` was already previously set")
    ]
    dropped = assert_status(
        server.session.put(server.sv_url(name="by-ref"), json=secure_value("by-ref", value=None)), 422, "Invalid"
    )
    assert causes(dropped) == [
        ("spec.ref", "FieldValueRequired", "Required value: a value stored by reference keeps its `ref`")
    ]
    assert state(server) == before
    moved = server.session.put(
        server.sv_url(name="by-ref"), json=secure_value("by-ref", value=None, ref="secret/data/other")
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["spec"]["ref"] == "secret/data/other" and moved.json()["status"]["version"] == 2
    assert moved.json()["status"]["keeper"] == "vault-2"


def test_activating_a_keeper_while_a_value_is_being_created_is_caught_at_commit(tmp_path):
    """Service layer: the keeper a new value was prepared for must still be active when it commits."""
    from harness import ADMIN_TOKEN

    from apiserver.app import SYSTEM, build_components
    from apiserver.config import Settings
    from apiserver.machinery.context import RequestContext
    from apiserver.machinery.errors import ApiError

    async def run() -> ApiError:
        components = build_components(Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN))
        await components.store.open()
        try:
            ctx = RequestContext(SYSTEM)
            await components.namespaces.create(ctx, "", {"metadata": {"name": "default"}})
            await components.keepers.create(ctx, "default", keeper("vault-2", "hashiCorpVault"))
            prepared = await components.secure_values.prepare_create(ctx, "default", secure_value("racing"))
            assert prepared.obj["status"]["keeper"] == "system"
            await components.keeper_service.activate(ctx, "default", "vault-2")
            with pytest.raises(ApiError) as refused:
                await components.secure_values.commit(ctx, [prepared])
            assert components.store.get("securevalues", "default", "racing") is None
            return refused.value
        finally:
            await components.store.close()

    error = asyncio.run(run())
    assert (error.code, error.reason) == (409, "Conflict")
    assert "active keeper changed" in error.message
