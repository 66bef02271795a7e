"""Cloudflare's error dialect through the official SDK: the documented exception, status and code, sent once.

The SDK retries 409s (and 408, 429, 5xx) twice by default; a final error must carry
`x-should-retry: false`, so each failing call below must reach the server exactly once.
"""

from __future__ import annotations

import asyncio

import cloudflare
import pytest
from cloudflare_support import error_of, new_account, raw, sdk


@pytest.fixture
def account(shared_server):
    """(client, recorded, account id, store id) of a fresh account with one store holding `TAKEN`."""
    _, account_id = new_account(shared_server)
    client, recorded = sdk(shared_server)
    store = client.secrets_store.stores.create(account_id=account_id, name="errors")
    client.secrets_store.stores.secrets.create(
        store.id, account_id=account_id, body=[{"name": "TAKEN", "value": "taken-value", "scopes": ["workers"]}]
    )
    recorded.take()
    return client, recorded, account_id, store.id


def fails_once(recorded, exc_class, call, status: int, code: int, message: str | None = None):
    with pytest.raises(exc_class) as raised:
        call()
    got = error_of(raised.value)
    assert got[:2] == (status, code), got
    if message is not None:
        assert got[2] == message
    assert raised.value.response.headers.get("x-should-retry") == "false"
    assert len(recorded.take()) == 1, "a final error must not be retried"
    return raised.value


def test_duplicate_name_is_a_409_sent_once(account):
    client, recorded, account_id, store_id = account
    secrets = client.secrets_store.stores.secrets
    fails_once(
        recorded,
        cloudflare.ConflictError,
        lambda: secrets.create(
            store_id, account_id=account_id, body=[{"name": "TAKEN", "value": "v", "scopes": ["workers"]}]
        ),
        409,
        1004,
        "secret_name_already_exists",
    )
    taken = next(iter(secrets.list(store_id, account_id=account_id)))
    recorded.take()
    fails_once(
        recorded,
        cloudflare.ConflictError,
        lambda: secrets.duplicate(taken.id, account_id=account_id, store_id=store_id, name="TAKEN", scopes=["workers"]),
        409,
        1004,
    )
    # A batch with one taken name writes nothing.
    fails_once(
        recorded,
        cloudflare.ConflictError,
        lambda: secrets.create(
            store_id,
            account_id=account_id,
            body=[
                {"name": "NEW_ONE", "value": "v", "scopes": ["workers"]},
                {"name": "TAKEN", "value": "v", "scopes": ["workers"]},
            ],
        ),
        409,
        1004,
    )
    assert [s.name for s in secrets.list(store_id, account_id=account_id)] == ["TAKEN"]


def test_non_empty_store_delete_is_a_409_unless_forced(account):
    client, recorded, account_id, store_id = account
    stores = client.secrets_store.stores
    fails_once(
        recorded,
        cloudflare.ConflictError,
        lambda: stores.delete(store_id, account_id=account_id),
        409,
        1004,
        "store_not_empty",
    )
    fails_once(
        recorded,
        cloudflare.ConflictError,
        lambda: stores.delete(store_id, account_id=account_id, force=False),
        409,
        1004,
    )
    assert stores.delete(store_id, account_id=account_id, force=True) is None
    assert list(stores.list(account_id=account_id)) == []
    assert client.secrets_store.quota.get(account_id=account_id).secrets.usage == 0


def test_second_store_exceeds_the_limit(account):
    client, recorded, account_id, _ = account
    fails_once(
        recorded,
        cloudflare.BadRequestError,
        lambda: client.secrets_store.stores.create(account_id=account_id, name="second"),
        400,
        1003,
        "maximum_stores_exceeded",
    )
    assert len(list(client.secrets_store.stores.list(account_id=account_id))) == 1


def test_unknown_ids_are_404(account):
    client, recorded, account_id, store_id = account
    secrets = client.secrets_store.stores.secrets
    unknown = "0" * 32
    fails_once(
        recorded,
        cloudflare.NotFoundError,
        lambda: secrets.get(unknown, account_id=account_id, store_id=store_id),
        404,
        1002,
        "secret_not_found",
    )
    fails_once(
        recorded,
        cloudflare.NotFoundError,
        lambda: client.secrets_store.stores.get(unknown, account_id=account_id),
        404,
        1002,
        "store_not_found",
    )
    fails_once(recorded, cloudflare.NotFoundError, lambda: secrets.list(unknown, account_id=account_id), 404, 1002)
    fails_once(
        recorded,
        cloudflare.NotFoundError,
        lambda: secrets.delete(unknown, account_id=account_id, store_id=store_id),
        404,
        1002,
    )
    fails_once(
        recorded,
        cloudflare.NotFoundError,
        lambda: secrets.edit(unknown, account_id=account_id, store_id=store_id, comment="x"),
        404,
        1002,
    )
    # A bulk delete naming one unknown id deletes nothing.
    taken = next(iter(secrets.list(store_id, account_id=account_id)))
    recorded.take()
    fails_once(
        recorded,
        cloudflare.NotFoundError,
        lambda: secrets.bulk_delete(store_id, account_id=account_id, extra_body={"ids": [taken.id, unknown]}),
        404,
        1002,
    )
    assert secrets.get(taken.id, account_id=account_id, store_id=store_id).name == "TAKEN"


def test_validation_errors_are_400_code_1001(account):
    client, recorded, account_id, store_id = account
    secrets = client.secrets_store.stores.secrets
    taken = next(iter(secrets.list(store_id, account_id=account_id)))
    recorded.take()
    cases = [
        (
            lambda: secrets.create(
                store_id, account_id=account_id, body=[{"name": "has space", "value": "v", "scopes": ["workers"]}]
            ),
            "secret_name_invalid",
        ),
        (
            lambda: secrets.create(store_id, account_id=account_id, body=[{"name": "N", "value": "v", "scopes": []}]),
            "secret_scopes_empty",
        ),
        (
            lambda: secrets.create(
                store_id, account_id=account_id, body=[{"name": "N", "value": "v", "scopes": ["kitchen"]}]
            ),
            "secret_scopes_invalid",
        ),
        (
            lambda: secrets.duplicate(taken.id, account_id=account_id, store_id=store_id, name="COPY", scopes=[]),
            "secret_scopes_empty",
        ),
        (lambda: secrets.edit(taken.id, account_id=account_id, store_id=store_id, scopes=[]), "secret_scopes_empty"),
        (
            lambda: secrets.create(
                store_id, account_id=account_id, body=[{"name": "N", "value": "", "scopes": ["dex"]}]
            ),
            "secret_value_invalid",
        ),
        (
            lambda: secrets.create(
                store_id,
                account_id=account_id,
                body=[{"name": "N", "value": "v", "scopes": ["dex"], "comment": "c" * 300_000}],
            ),
            "secret_comment_too_long",
        ),
        (lambda: client.secrets_store.stores.create(account_id=account_id, name=""), "store_name_invalid"),
        (lambda: secrets.bulk_delete(store_id, account_id=account_id), "ids_required"),
        (lambda: secrets.list(store_id, account_id=account_id, per_page="many"), "invalid_per_page"),
    ]
    for call, message in cases:
        fails_once(recorded, cloudflare.BadRequestError, call, 400, 1001, message)
    # The body-less bulk delete (what the generated method sends) deleted nothing.
    assert [s.name for s in secrets.list(store_id, account_id=account_id)] == ["TAKEN"]


def test_bad_json_and_wrong_shapes_are_invalid_json_body(shared_server, account):
    _, _, account_id, store_id = account
    base = f"/accounts/{account_id}/secrets_store/stores"
    cases = [
        ("POST", base, b"{not json"),
        ("POST", base, b'"a string"'),
        ("POST", f"{base}/{store_id}/secrets", b'{"name": "OBJECT_NOT_ARRAY", "value": "v", "scopes": ["workers"]}'),
        ("POST", f"{base}/{store_id}/secrets", b"[]"),
        ("POST", f"{base}/{store_id}/secrets", b""),
    ]
    for method, path, body in cases:
        response = raw(shared_server, method, path, data=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (path, body, response.text)
        assert response.json() == {
            "success": False,
            "errors": [{"code": 1001, "message": "invalid_json_body"}],
            "messages": [],
            "result": None,
        }
        assert response.headers["x-should-retry"] == "false"


def test_unknown_routes_and_methods_speak_cloudflare(shared_server, account):
    _, _, account_id, _ = account
    missing = raw(shared_server, "GET", f"/accounts/{account_id}/secrets_store/nothing-here")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == 7003
    wrong = raw(shared_server, "PUT", f"/accounts/{account_id}/secrets_store/stores")
    assert wrong.status_code == 405 and wrong.json()["errors"][0]["code"] == 7001
    assert wrong.headers["x-should-retry"] == "false"


def test_secrets_quota(server_factory):
    server = server_factory("--cloudflare-secrets-quota", "2")
    _, account_id = new_account(server)
    client, recorded = sdk(server)
    store = client.secrets_store.stores.create(account_id=account_id, name="small")
    secrets = client.secrets_store.stores.secrets
    first = list(
        secrets.create(store.id, account_id=account_id, body=[{"name": "ONE", "value": "1", "scopes": ["workers"]}])
    )[0]
    recorded.take()
    fails_once(
        recorded,
        cloudflare.BadRequestError,
        lambda: secrets.create(
            store.id,
            account_id=account_id,
            body=[
                {"name": "TWO", "value": "2", "scopes": ["workers"]},
                {"name": "THREE", "value": "3", "scopes": ["workers"]},
            ],
        ),
        400,
        1003,
        "maximum_secrets_exceeded",
    )
    secrets.duplicate(first.id, account_id=account_id, store_id=store.id, name="TWO", scopes=["workers"])
    recorded.take()
    fails_once(
        recorded,
        cloudflare.BadRequestError,
        lambda: secrets.duplicate(first.id, account_id=account_id, store_id=store.id, name="THREE", scopes=["workers"]),
        400,
        1003,
    )
    quota = client.secrets_store.quota.get(account_id=account_id).secrets
    assert (quota.quota, quota.usage) == (2, 2)


async def test_limits_hold_under_concurrent_creates(server_factory):
    server = server_factory("--cloudflare-secrets-quota", "3")
    _, account_id = new_account(server)
    async with cloudflare.AsyncCloudflare(
        api_token=server.admin_token, base_url=f"{server.url}/client/v4", max_retries=0
    ) as client:
        stores = await asyncio.gather(
            *(client.secrets_store.stores.create(account_id=account_id, name=f"s{i}") for i in range(6)),
            return_exceptions=True,
        )
        made = [s for s in stores if not isinstance(s, Exception)]
        refused = [error_of(e) for e in stores if isinstance(e, cloudflare.APIStatusError)]
        assert len(made) == 1 and refused == [(400, 1003, "maximum_stores_exceeded")] * 5
        store_id = made[0].id
        secrets = await asyncio.gather(
            *(
                client.secrets_store.stores.secrets.create(
                    store_id, account_id=account_id, body=[{"name": f"N{i}", "value": "v", "scopes": ["workers"]}]
                )
                for i in range(8)
            ),
            return_exceptions=True,
        )
        assert sum(not isinstance(s, Exception) for s in secrets) == 3
        quota = await client.secrets_store.quota.get(account_id=account_id)
        assert (quota.secrets.quota, quota.secrets.usage) == (3, 3)
