"""The Cloudflare Secrets Store facade driven by the official `cloudflare` SDK (5.x), method by method.

Every SDK method of the reference's section 3.6, with the requests each one really sent.
"""

from __future__ import annotations

import re

import cloudflare
import pytest
from cloudflare_support import new_account, raw, sdk
from harness import files_containing

HEX32 = re.compile(r"[0-9a-f]{32}")
RFC3339_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def store_path(account: str, store: str = "") -> str:
    return f"/client/v4/accounts/{account}/secrets_store/stores" + (f"/{store}" if store else "")


def test_accounts_list_finds_each_namespace_by_its_account_id(shared_server):
    namespace, account = new_account(shared_server)
    client, recorded = sdk(shared_server)
    accounts = {a.id: a for a in client.accounts.list()}
    assert accounts[account].name == namespace and accounts[account].type == "standard"
    assert HEX32.fullmatch(account)
    # Auto-pagination stops on the first empty page.
    assert recorded.take() == ["GET /client/v4/accounts", "GET /client/v4/accounts?page=2"]
    assert client.accounts.get(account_id=account).name == namespace


def test_store_create_list_get_delete(shared_server):
    _, account = new_account(shared_server)
    client, recorded = sdk(shared_server)
    stores = client.secrets_store.stores
    assert client.secrets_store.quota.get(account_id=account).secrets.quota == 100

    created = stores.create(account_id=account, name="default_secrets_store")
    assert HEX32.fullmatch(created.id) and created.name == "default_secrets_store"
    assert created.account_id == account and created.created == created.modified
    assert [s.id for s in stores.list(account_id=account)] == [created.id]
    assert stores.get(created.id, account_id=account).name == "default_secrets_store"
    assert stores.delete(created.id, account_id=account) is None
    assert list(stores.list(account_id=account)) == []
    assert recorded.take() == [
        f"GET /client/v4/accounts/{account}/secrets_store/quota",
        f"POST {store_path(account)}",
        f"GET {store_path(account)}",
        f"GET {store_path(account)}?page=2",
        f"GET {store_path(account, created.id)}",
        f"DELETE {store_path(account, created.id)}",
        f"GET {store_path(account)}",
    ]


def test_envelope_timestamps_and_ids_on_the_wire(shared_server):
    _, account = new_account(shared_server)
    client, _ = sdk(shared_server)
    store = client.secrets_store.stores.create(account_id=account, name="wire")
    response = client.secrets_store.stores.secrets.with_raw_response.create(
        store.id, account_id=account, body=[{"name": "WIRE", "value": "wire-value-1", "scopes": ["workers"]}]
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    body = response.http_response.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    secret = body["result"][0]
    assert HEX32.fullmatch(secret["id"]) and secret["store_id"] == store.id and secret["status"] == "active"
    assert RFC3339_Z.fullmatch(secret["created"]) and RFC3339_Z.fullmatch(secret["modified"])
    assert "value" not in secret and "wire-value-1" not in response.http_response.text
    deleted = raw(
        shared_server, "DELETE", f"/accounts/{account}/secrets_store/stores/{store.id}/secrets/{secret['id']}"
    )
    assert deleted.status_code == 202
    assert deleted.json() == {"success": True, "errors": [], "messages": [], "result": None}
    gone = raw(shared_server, "DELETE", f"/accounts/{account}/secrets_store/stores/{store.id}")
    assert gone.status_code == 200 and gone.json()["result"] is None


def test_secret_methods_end_to_end(shared_server):
    namespace, account = new_account(shared_server)
    client, recorded = sdk(shared_server)
    stores = client.secrets_store.stores
    store = stores.create(account_id=account, name="main")
    secrets = stores.secrets
    path = f"/client/v4/accounts/{account}/secrets_store/stores/{store.id}/secrets"
    recorded.take()

    page = secrets.create(
        store.id,
        account_id=account,
        body=[
            {
                "name": "MY_API_KEY",
                "value": "api-token-secret-123",
                "scopes": ["workers"],
                "comment": "the key of the billing API, rotated monthly",
            },
            {"name": "OTHER", "value": "other-secret-456", "scopes": ["ai_gateway"]},
        ],
    )
    created = {s.name: s for s in page}
    assert set(created) == {"MY_API_KEY", "OTHER"}
    key = created["MY_API_KEY"]
    assert key.scopes == ["workers"] and key.comment == "the key of the billing API, rotated monthly"

    listed = list(
        secrets.list(
            store.id, account_id=account, scopes=["workers"], search="api", order="name", direction="asc", per_page=1
        )
    )
    assert [s.id for s in listed] == [key.id]
    assert secrets.get(key.id, account_id=account, store_id=store.id).name == "MY_API_KEY"

    edited = secrets.edit(
        key.id,
        account_id=account,
        store_id=store.id,
        value="api-token-secret-789",
        comment="rotated",
        scopes=["workers", "ai_gateway"],
    )
    assert (edited.id, edited.name, edited.comment) == (key.id, "MY_API_KEY", "rotated")
    assert edited.scopes == ["workers", "ai_gateway"] and edited.modified >= key.modified

    copy = secrets.duplicate(key.id, account_id=account, store_id=store.id, name="MY_API_KEY_COPY", scopes=["workers"])
    assert copy.id != key.id and copy.name == "MY_API_KEY_COPY" and copy.scopes == ["workers"]

    assert secrets.delete(created["OTHER"].id, account_id=account, store_id=store.id) is None
    assert secrets.bulk_delete(store.id, account_id=account, extra_body={"ids": [key.id, copy.id]}) is None
    assert list(secrets.list(store.id, account_id=account)) == []
    assert client.secrets_store.quota.get(account_id=account).secrets.usage == 0

    assert recorded.take() == [
        f"POST {path}",
        f"GET {path}?direction=asc&order=name&per_page=1&scopes=workers&search=api",
        f"GET {path}?direction=asc&order=name&per_page=1&scopes=workers&search=api&page=2",
        f"GET {path}/{key.id}",
        f"PATCH {path}/{key.id}",
        f"POST {path}/{key.id}/duplicate",
        f"DELETE {path}/{created['OTHER'].id}",
        f"DELETE {path}",
        f"GET {path}",
        f"GET /client/v4/accounts/{account}/secrets_store/quota",
    ]
    # The values went in, and never came out: not in answers, logs or the database in plaintext.
    for value in (b"api-token-secret-123", b"api-token-secret-789", b"other-secret-456"):
        assert files_containing(shared_server.data_dir, value) == []
        assert value.decode() not in shared_server.log()


def test_auto_pagination_with_per_page_one(shared_server):
    _, account = new_account(shared_server)
    client, recorded = sdk(shared_server)
    store = client.secrets_store.stores.create(account_id=account, name="paged")
    names = ["A_FIRST", "B_SECOND", "C_THIRD"]
    client.secrets_store.stores.secrets.create(
        store.id, account_id=account, body=[{"name": n, "value": f"v-{n}", "scopes": ["workers"]} for n in names]
    )
    recorded.take()
    pages = client.secrets_store.stores.secrets.list(store.id, account_id=account, per_page=1, order="name")
    assert [s.name for s in pages] == names
    sent = recorded.take()
    assert len(sent) == 4 and sent[0].endswith("?order=name&per_page=1") and sent[-1].endswith("&page=4")
    descending = client.secrets_store.stores.secrets.list(
        store.id, account_id=account, per_page=2, order="name", direction="desc"
    )
    assert [s.name for s in descending] == names[::-1]


def test_list_queries_and_result_info(shared_server):
    _, account = new_account(shared_server)
    client, _ = sdk(shared_server)
    store = client.secrets_store.stores.create(account_id=account, name="filters")
    client.secrets_store.stores.secrets.create(
        store.id,
        account_id=account,
        body=[
            {"name": "DB_PASSWORD", "value": "p1", "scopes": ["workers", "ai_gateway"], "comment": "Postgres"},
            {"name": "GATEWAY_KEY", "value": "p2", "scopes": ["ai_gateway"], "comment": "for the db proxy"},
            {"name": "PLAIN", "value": "p3", "scopes": ["workers"]},
        ],
    )
    path = f"/accounts/{account}/secrets_store/stores/{store.id}/secrets"

    def names(query: str) -> tuple[list[str], dict]:
        body = raw(shared_server, "GET", f"{path}?{query}").json()
        return [s["name"] for s in body["result"]], body["result_info"]

    assert names("search=db&order=name") == (
        ["DB_PASSWORD", "GATEWAY_KEY"],
        {"page": 1, "per_page": 20, "count": 2, "total_count": 2},
    )
    assert names("scopes=workers&scopes=ai_gateway")[0] == ["DB_PASSWORD"]
    assert names("scopes=ai_gateway&order=name&direction=desc")[0] == ["GATEWAY_KEY", "DB_PASSWORD"]
    assert names("order=comment")[0] == ["PLAIN", "DB_PASSWORD", "GATEWAY_KEY"]
    assert names("order=nonsense&per_page=2&page=2") == (
        ["PLAIN"],
        {"page": 2, "per_page": 2, "count": 1, "total_count": 3},
    )
    assert names("page=9&per_page=500") == ([], {"page": 9, "per_page": 100, "count": 0, "total_count": 3})


def test_legacy_array_body_and_store_pagination(server_factory):
    server = server_factory("--cloudflare-max-stores", "3")
    _, account = new_account(server)
    response = raw(
        server, "POST", f"/accounts/{account}/secrets_store/stores", json=[{"name": "first"}, {"name": "second"}]
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert isinstance(result, list) and [s["name"] for s in result] == ["first", "second"]
    client, recorded = sdk(server)
    client.secrets_store.stores.create(account_id=account, name="third")
    recorded.take()
    listed = list(client.secrets_store.stores.list(account_id=account, per_page=1, order="name"))
    assert [s.name for s in listed] == ["first", "second", "third"] and len(recorded.take()) == 4
    # The same secret name in two stores: two secrets, each found in its own store.
    a, b = (s["id"] for s in result)
    for store_id, value in ((a, "value-in-a"), (b, "value-in-b")):
        client.secrets_store.stores.secrets.create(
            store_id, account_id=account, body=[{"name": "SHARED", "value": value, "scopes": ["workers"]}]
        )
    in_a = list(client.secrets_store.stores.secrets.list(a, account_id=account))
    in_b = list(client.secrets_store.stores.secrets.list(b, account_id=account))
    assert [s.name for s in in_a] == [s.name for s in in_b] == ["SHARED"] and in_a[0].id != in_b[0].id
    with pytest.raises(cloudflare.NotFoundError):
        client.secrets_store.stores.secrets.get(in_a[0].id, account_id=account, store_id=b)


def test_cloudflare_value_limit_is_64_kib(shared_server):
    _, account = new_account(shared_server)
    client, recorded = sdk(shared_server)
    store = client.secrets_store.stores.create(account_id=account, name="big")
    big = "x" * 65536  # more than the native limit (24576), exactly Cloudflare's
    created = list(
        client.secrets_store.stores.secrets.create(
            store.id, account_id=account, body=[{"name": "BIG", "value": big, "scopes": ["workers"]}]
        )
    )
    assert created[0].name == "BIG"
    recorded.take()
    with pytest.raises(cloudflare.BadRequestError) as raised:
        client.secrets_store.stores.secrets.edit(created[0].id, account_id=account, store_id=store.id, value=big + "y")
    assert raised.value.body["errors"][0] == {"code": 1001, "message": "secret_value_too_long"}
    assert len(recorded.take()) == 1
    assert big[:1000] not in str(raised.value.body)
