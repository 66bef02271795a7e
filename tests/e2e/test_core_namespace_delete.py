"""Deleting a namespace considers every kind stored in it: a namespace that still holds anything
(secure values, keepers, Cloudflare secrets stores) is refused with 409 naming what remains, and
nothing comes back when a namespace of the same name is created again."""

from __future__ import annotations

from cloudflare_support import new_account, sdk
from core_support import assert_status
from harness import secure_value


def ns_url(server, name: str) -> str:
    return f"{server.url}/api/v1/namespaces/{name}"


def test_a_namespace_holding_only_a_cloudflare_store_is_not_deleted(server):
    namespace, account = new_account(server)
    client, _ = sdk(server)
    store = client.secrets_store.stores.create(account_id=account, name="orphan-to-be")

    refused = server.session.delete(ns_url(server, namespace))
    body = assert_status(refused, 409, "Conflict")
    assert f'secretstores "{store.id}"' in body["message"], body["message"]
    assert server.session.get(ns_url(server, namespace)).status_code == 200
    assert [s.id for s in client.secrets_store.stores.list(account_id=account)] == [store.id]

    # Once the store is gone (through its own API), the namespace goes, and a namespace created
    # again under the same name (so the same account id) starts empty.
    client.secrets_store.stores.delete(store.id, account_id=account)
    assert server.session.delete(ns_url(server, namespace)).status_code == 200
    server.create_namespace(namespace)
    assert list(client.secrets_store.stores.list(account_id=account)) == []


def test_the_refusal_names_every_kind_and_object_that_remains(server):
    server.create_namespace("full")
    for name in ("alpha", "beta"):
        assert server.session.post(server.sv_url("full"), json=secure_value(name)).status_code == 201
    keeper = {
        "metadata": {"name": "k"},
        "spec": {"description": "d", "gcp": {"projectID": "p", "credentialsFile": "f"}},
    }
    assert server.session.post(server.keeper_url("full"), json=keeper).status_code == 201

    body = assert_status(server.session.delete(ns_url(server, "full")), 409, "Conflict")
    assert body["message"] == (
        'Operation cannot be fulfilled on namespaces "full": the namespace still holds '
        'keepers "k"; securevalues "alpha", "beta"; delete them first'
    )

    for name in ("alpha", "beta"):
        assert server.session.delete(server.sv_url("full", name)).status_code == 200
    body = assert_status(server.session.delete(ns_url(server, "full")), 409, "Conflict")
    assert body["message"].endswith('the namespace still holds keepers "k"; delete them first')
    assert server.session.delete(server.keeper_url("full", "k")).status_code == 200
    assert server.session.delete(ns_url(server, "full")).status_code == 200

    server.create_namespace("full")
    assert server.session.get(server.sv_url("full")).json()["items"] == []
    assert server.session.get(server.keeper_url("full")).json()["items"] == []


def test_a_long_list_of_remaining_objects_is_cut_short(server):
    server.create_namespace("many")
    for index in range(7):
        assert server.session.post(server.sv_url("many"), json=secure_value(f"v{index}")).status_code == 201
    body = assert_status(server.session.delete(ns_url(server, "many")), 409, "Conflict")
    assert body["message"].endswith(
        'the namespace still holds securevalues "v0", "v1", "v2" and 4 more; delete them first'
    ), body["message"]
