"""Rules checked inside a transaction see what earlier transactions of the same batch wrote.

Concurrent commits share one batch (group commit); a strategy that looked at the committed
state only would miss a write pending beside it and let both through.
"""

from __future__ import annotations

import asyncio

import pytest

from apiserver.resources.keeper import KEEPERS
from apiserver.resources.secretstore import SECRET_STORES, STORE_LABEL, SecretStoreStrategy, StoreNotEmpty
from apiserver.resources.securevalue import SECURE_VALUES
from apiserver.store.txn import Txn

STORE_ID = "a" * 32


def _body(resource_type, name: str, namespace: str = "default", **extra) -> dict:
    return {
        "apiVersion": resource_type.api_version,
        "kind": resource_type.kind,
        "metadata": {"name": name, "namespace": namespace, **extra},
    }


async def test_a_store_delete_sees_a_secret_bound_to_it_in_the_same_batch(components):
    store = components.store
    await store.commit(
        lambda txn: txn.create(SECRET_STORES.resource, "default", STORE_ID, _body(SECRET_STORES, STORE_ID))
    )
    strategy = SecretStoreStrategy(store)
    secret = _body(SECURE_VALUES, "bound", labels={STORE_LABEL: STORE_ID})

    def add_secret(txn: Txn) -> None:
        txn.create(SECURE_VALUES.resource, "default", "bound", secret)

    def delete_store(txn: Txn) -> None:
        current = txn.get(SECRET_STORES.resource, "default", STORE_ID)
        assert current is not None
        strategy.check_delete(txn, current.body)
        txn.delete(SECRET_STORES.resource, "default", STORE_ID, expected_revision=current.revision)

    # Both are queued before the writer runs, so they share one batch: the delete comes second.
    added, deleted = await asyncio.gather(store.commit(add_secret), store.commit(delete_store), return_exceptions=True)
    assert added is None
    assert isinstance(deleted, StoreNotEmpty)
    assert store.get(SECRET_STORES.resource, "default", STORE_ID) is not None


async def test_a_second_store_pending_in_the_batch_counts_against_the_limit(components):
    store = components.store
    strategy = SecretStoreStrategy(store, max_per_namespace=1)

    def create_store(name: str):
        def transaction(txn: Txn) -> None:
            obj = _body(SECRET_STORES, name)
            strategy.check_in_transaction(txn, obj, None)
            txn.create(SECRET_STORES.resource, "default", name, obj)

        return transaction

    first, second = await asyncio.gather(
        store.commit(create_store("b" * 32)), store.commit(create_store("c" * 32)), return_exceptions=True
    )
    assert first is None
    assert isinstance(second, Exception) and type(second).__name__ == "StoreLimitExceeded"
    assert store.count(SECRET_STORES.resource, "default") == 1


async def test_keeper_activation_sees_a_keeper_created_in_the_same_batch(components):
    """The activation's transaction lists keepers through its txn, so a keeper pending beside it is seen."""
    store = components.store
    keeper = {**_body(KEEPERS, "pending-keeper"), "spec": {"description": "k"}, "status": {"active": False}}

    def add_keeper(txn: Txn) -> None:
        txn.create(KEEPERS.resource, "default", "pending-keeper", keeper)

    def active_names(txn: Txn) -> list[str]:
        return [s.name for s in txn.iter_current(KEEPERS.resource, "default")]

    _, seen = await asyncio.gather(store.commit(add_keeper), store.commit(active_names))
    assert seen == ["pending-keeper"]


async def test_store_read_is_a_read_only_view(components):
    store = components.store
    assert store.read(lambda txn: txn.get("namespaces", "", "default")) is not None
    with pytest.raises(RuntimeError):
        store.read(lambda txn: txn.create("namespaces", "", "sneaky", {"metadata": {"name": "sneaky"}}))
    assert store.get("namespaces", "", "sneaky") is None
