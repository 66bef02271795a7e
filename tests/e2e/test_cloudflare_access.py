"""Cloudflare facade: authentication, permissions, and the same secrets seen by the native API and decrypt."""

from __future__ import annotations

import cloudflare
import pytest
import requests
from cloudflare_support import cli_token, error_of, new_account, raw, sdk

AUTH_ERROR = {
    "success": False,
    "errors": [{"code": 10000, "message": "Authentication error"}],
    "messages": [],
    "result": None,
}
STORE_LABEL = "cloudflare.compat.apiserver.local/store-id"


def test_bad_or_missing_credentials_are_403_code_10000(shared_server):
    _, account = new_account(shared_server)
    client, recorded = sdk(shared_server, token="sas_not-a-real-token")
    with pytest.raises(cloudflare.PermissionDeniedError) as raised:
        client.secrets_store.quota.get(account_id=account)
    assert error_of(raised.value) == (403, 10000, "Authentication error")
    assert raised.value.response.headers["x-should-retry"] == "false" and len(recorded.take()) == 1
    anonymous = requests.get(f"{shared_server.url}/client/v4/accounts/{account}/secrets_store/stores", timeout=10)
    assert (anonymous.status_code, anonymous.json()) == (403, AUTH_ERROR)


def test_legacy_email_and_key_headers(shared_server):
    _, account = new_account(shared_server)
    client, recorded = sdk(shared_server, api_email="admin@example.com", api_key=shared_server.admin_token)
    assert client.secrets_store.quota.get(account_id=account).secrets.usage == 0
    bad, _ = sdk(shared_server, api_email="admin@example.com", api_key="144c9defac04969c7bfad8efaa8ea194")
    with pytest.raises(cloudflare.PermissionDeniedError):
        bad.secrets_store.quota.get(account_id=account)


def test_reads_need_read_and_writes_need_write_permission(shared_server):
    namespace, account = new_account(shared_server)
    _, other_account = new_account(shared_server)
    admin, _ = sdk(shared_server)
    store = admin.secrets_store.stores.create(account_id=account, name="perms")
    secret = list(
        admin.secrets_store.stores.secrets.create(
            store.id, account_id=account, body=[{"name": "READ_ME", "value": "perm-value", "scopes": ["workers"]}]
        )
    )[0]

    viewer, recorded = sdk(shared_server, token=cli_token(shared_server, namespace, "viewer"))
    # The accounts a token can see are its namespaces.
    assert [a.id for a in viewer.accounts.list()] == [account]
    assert [s.id for s in viewer.secrets_store.stores.list(account_id=account)] == [store.id]
    assert viewer.secrets_store.stores.secrets.get(secret.id, account_id=account, store_id=store.id).name == "READ_ME"
    assert viewer.secrets_store.quota.get(account_id=account).secrets.usage == 1
    recorded.take()
    writes = [
        lambda: viewer.secrets_store.stores.secrets.create(
            store.id, account_id=account, body=[{"name": "NO", "value": "v", "scopes": ["workers"]}]
        ),
        lambda: viewer.secrets_store.stores.secrets.edit(
            secret.id, account_id=account, store_id=store.id, value="changed"
        ),
        lambda: viewer.secrets_store.stores.secrets.delete(secret.id, account_id=account, store_id=store.id),
        lambda: viewer.secrets_store.stores.secrets.duplicate(
            secret.id, account_id=account, store_id=store.id, name="COPY", scopes=["workers"]
        ),
        lambda: viewer.secrets_store.stores.delete(store.id, account_id=account, force=True),
        # Another namespace's account is not this token's, not even for reading.
        lambda: viewer.secrets_store.stores.list(account_id=other_account),
    ]
    for call in writes:
        with pytest.raises(cloudflare.PermissionDeniedError) as raised:
            call()
        assert error_of(raised.value) == (403, 10000, "Authentication error")
        assert len(recorded.take()) == 1

    editor, _ = sdk(shared_server, token=cli_token(shared_server, namespace, "editor"))
    copy = editor.secrets_store.stores.secrets.duplicate(
        secret.id, account_id=account, store_id=store.id, name="EDITOR_COPY", scopes=["workers"]
    )
    assert editor.secrets_store.stores.secrets.delete(copy.id, account_id=account, store_id=store.id) is None
    # An unknown account answers as a forbidden one: no existence oracle.
    missing = raw(shared_server, "GET", f"/accounts/{'f' * 32}/secrets_store/stores")
    assert (missing.status_code, missing.json()) == (403, AUTH_ERROR)


def test_sdk_secret_is_native_and_decrypts_for_workers(shared_server):
    namespace, account = new_account(shared_server)
    client, _ = sdk(shared_server)
    store = client.secrets_store.stores.create(account_id=account, name="native")
    comment = "Stripe live key for the checkout worker, owned by payments"
    secret = list(
        client.secrets_store.stores.secrets.create(
            store.id,
            account_id=account,
            body=[{"name": "STRIPE_KEY", "value": "sk_live_first", "scopes": ["workers"], "comment": comment}],
        )
    )[0]

    listed = shared_server.session.get(
        shared_server.sv_url(namespace), params={"labelSelector": f"{STORE_LABEL}={store.id}"}
    ).json()["items"]
    assert len(listed) == 1
    native = listed[0]
    assert native["metadata"]["uid"].replace("-", "") == secret.id
    assert native["spec"]["decrypters"] == ["workers"]
    assert native["metadata"]["annotations"]["cloudflare.compat.apiserver.local/comment"] == comment
    assert native["metadata"]["annotations"]["compat.apiserver.local/key"] == f"STRIPE_KEY@{store.id}"
    description = native["spec"]["description"]
    assert len(description) <= 25 and description.startswith("Stripe live key") and description.endswith("…")
    assert "value" not in native["spec"]
    name = native["metadata"]["name"]

    workers = cli_token(shared_server, namespace, "viewer", service_identity="workers")
    decrypt = f"{shared_server.sv_url(namespace, name)}/decrypt"

    def decrypted(token: str) -> requests.Response:
        return requests.post(decrypt, headers={"Authorization": f"Bearer {token}"}, json={}, timeout=10)

    assert decrypted(workers).json() == {"value": "sk_live_first"}
    gateway = cli_token(shared_server, namespace, "viewer", service_identity="ai_gateway")
    assert decrypted(gateway).status_code == 403  # not in the scopes

    # Edits through the facade reach the same value: a new value, then a new scope.
    client.secrets_store.stores.secrets.edit(
        secret.id, account_id=account, store_id=store.id, value="sk_live_second", scopes=["workers", "ai_gateway"]
    )
    assert decrypted(workers).json() == {"value": "sk_live_second"}
    assert decrypted(gateway).json() == {"value": "sk_live_second"}

    # A duplicate holds the same value, copied inside the server.
    copy = client.secrets_store.stores.secrets.duplicate(
        secret.id, account_id=account, store_id=store.id, name="STRIPE_KEY_OLD", scopes=["workers"]
    )
    copy_name = next(
        item["metadata"]["name"]
        for item in shared_server.session.get(shared_server.sv_url(namespace)).json()["items"]
        if item["metadata"]["uid"].replace("-", "") == copy.id
    )
    copied = requests.post(
        f"{shared_server.sv_url(namespace, copy_name)}/decrypt",
        headers={"Authorization": f"Bearer {workers}"},
        json={},
        timeout=10,
    )
    assert copied.json() == {"value": "sk_live_second"}


def test_natively_added_decrypters_survive_a_scope_edit(shared_server):
    namespace, account = new_account(shared_server)
    client, _ = sdk(shared_server)
    store = client.secrets_store.stores.create(account_id=account, name="mixed")
    secret = list(
        client.secrets_store.stores.secrets.create(
            store.id, account_id=account, body=[{"name": "MIXED", "value": "mixed-value", "scopes": ["workers"]}]
        )
    )[0]
    item = shared_server.session.get(shared_server.sv_url(namespace)).json()["items"][0]
    patched = shared_server.session.patch(
        shared_server.sv_url(namespace, item["metadata"]["name"]),
        json={"spec": {"decrypters": ["workers", "synthetic-monitoring"]}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    # Cloudflare shows only its scopes, and a scope edit keeps the other decrypters.
    shown = client.secrets_store.stores.secrets.get(secret.id, account_id=account, store_id=store.id)
    assert shown.scopes == ["workers"]
    client.secrets_store.stores.secrets.edit(secret.id, account_id=account, store_id=store.id, scopes=["dex"])
    after = shared_server.session.get(shared_server.sv_url(namespace, item["metadata"]["name"])).json()
    assert after["spec"]["decrypters"] == ["synthetic-monitoring", "dex"]
