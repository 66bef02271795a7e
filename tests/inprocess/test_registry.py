"""The generic registry's write paths, called directly over a real Store on a real SQLite file.

Create, update (PUT), patch, server-side apply (create-or-update with no check-then-create race),
delete, the recomputation of an unconditional update that lost a race, and authorization in every
`prepare_*` (allowed and denied, a refusal audited), without an HTTP server in between.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from apiserver.app import SYSTEM
from apiserver.machinery.audit import NullAuditor
from apiserver.machinery.context import Principal, RequestContext
from apiserver.machinery.errors import AlreadyExists, BadRequest, Conflict, Forbidden, Invalid, NotFound
from apiserver.machinery.patch import apply_merge_patch
from apiserver.resources.securevalue import SECURE_VALUES
from apiserver.services.tokens import TokenRequest

NS = "default"
VALUE = "in-process-secret-value-7f3a"


class RecordingAuditor(NullAuditor):
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str, str]] = []

    def record(self, ctx, operation, resource, namespace, name, outcome, reason=""):
        self.records.append((operation, name, outcome, reason))
        return super().record(ctx, operation, resource, namespace, name, outcome, reason)


@pytest.fixture
def registry(components):
    registry = components.secure_values
    registry.auditor = RecordingAuditor()
    return registry


def manifest(name: str, description: str = "in-process test", value: str | None = VALUE) -> dict[str, Any]:
    spec: dict[str, Any] = {"description": description}
    if value is not None:
        spec["value"] = value
    return {"apiVersion": SECURE_VALUES.api_version, "kind": "SecureValue", "metadata": {"name": name}, "spec": spec}


def system() -> RequestContext:
    return RequestContext(SYSTEM)


async def caller(components, role: str) -> RequestContext:
    record, _ = await components.tokens.create(TokenRequest(namespaces=[NS], role=role))
    return RequestContext(Principal(subject=record.subject, token_id=record.id))


def applier() -> RequestContext:
    ctx = system()
    ctx.field_manager = "in-process-applier"
    return ctx


async def stored_value(components, obj: dict[str, Any]) -> bytes:
    return (await components.payload.reveal(obj)).reveal()


# -- create ---------------------------------------------------------------------------------------


async def test_create_stores_the_object_without_its_value_and_the_value_encrypted(components, registry):
    created = await registry.create(system(), NS, manifest("db-password"))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    assert created["status"]["version"] == 1 and "value" not in created["spec"]
    stored = components.store.get(SECURE_VALUES.resource, NS, "db-password")
    assert stored is not None and VALUE not in stored.raw.decode()
    assert await stored_value(components, stored.body) == VALUE.encode()
    assert registry.auditor.records[-1] == ("create", "db-password", "success", "")


async def test_a_duplicate_create_is_already_exists_and_changes_nothing(components, registry):
    first = await registry.create(system(), NS, manifest("dup"))
    with pytest.raises(AlreadyExists):
        await registry.create(system(), NS, manifest("dup", value="another-value"))
    stored = components.store.get(SECURE_VALUES.resource, NS, "dup")
    assert stored is not None and stored.revision == int(first["metadata"]["resourceVersion"])
    assert await stored_value(components, stored.body) == VALUE.encode()


async def test_validation_is_pure_and_a_matching_legacy_keeper_is_not_stored(registry):
    obj = manifest("legacy")
    obj["spec"]["keeper"] = "system"
    strategy = registry.strategy
    before = copy.deepcopy(obj)
    assert strategy.validate(obj, None) == []
    assert obj == before  # validate changed nothing
    created = await registry.create(system(), NS, obj)
    assert "keeper" not in created["spec"] and created["status"]["keeper"] == "system"


async def test_an_invalid_create_is_invalid_and_stores_nothing(components, registry):
    with pytest.raises(Invalid):
        await registry.create(system(), NS, manifest("bad", description=""))
    assert components.store.get(SECURE_VALUES.resource, NS, "bad") is None


# -- update and patch -----------------------------------------------------------------------------


async def test_update_keeps_the_value_when_omitted_and_bumps_the_version(components, registry):
    created = await registry.create(system(), NS, manifest("kept"))
    updated = await registry.update(system(), NS, "kept", manifest("kept", "new description", value=None))
    assert updated["status"]["version"] == 2 and updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert await stored_value(components, updated) == VALUE.encode()


async def test_a_stale_resource_version_is_a_conflict(registry):
    created = await registry.create(system(), NS, manifest("stale"))
    await registry.update(system(), NS, "stale", manifest("stale", "first change", value=None))
    outdated = manifest("stale", "second change", value=None)
    outdated["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    with pytest.raises(Conflict):
        await registry.update(system(), NS, "stale", outdated)
    assert registry.auditor.records[-1][:3] == ("update", "stale", "denied")


async def test_concurrent_unconditional_patches_are_recomputed_so_none_is_lost(registry):
    """Both patches are prepared on version 1; the loser is retried on the winner's result."""
    await registry.create(system(), NS, manifest("raced"))

    def labelled(key: str):
        return lambda current: apply_merge_patch(current, {"metadata": {"labels": {key: "yes"}}})

    await asyncio.gather(*(registry.patch(system(), NS, "raced", labelled(f"l{i}"), None) for i in range(4)))
    final = registry.store.get(SECURE_VALUES.resource, NS, "raced")
    assert final is not None
    assert final.body["metadata"]["labels"] == {f"l{i}": "yes" for i in range(4)}
    assert final.body["status"]["version"] == 5


async def test_a_patch_judges_unknown_fields_of_what_it_produced(registry):
    await registry.create(system(), NS, manifest("strict"))
    ctx = system()
    ctx.field_validation = "Strict"
    with pytest.raises(BadRequest):
        await registry.patch(ctx, NS, "strict", lambda c: apply_merge_patch(c, {"spec": {"bogus": 1}}), None)
    ctx = system()
    await registry.patch(ctx, NS, "strict", lambda c: apply_merge_patch(c, {"spec": {"bogus": 1}}), None)
    assert ctx.warnings == ['unknown field "spec.bogus"']


# -- server-side apply ----------------------------------------------------------------------------


async def test_apply_creates_then_updates(components, registry):
    obj, created = await registry.apply(applier(), NS, "applied", manifest("applied"), force=False)
    assert created and obj["metadata"]["managedFields"][0]["manager"] == "in-process-applier"
    obj, created = await registry.apply(applier(), NS, "applied", manifest("applied", "changed"), force=False)
    assert not created and obj["spec"]["description"] == "changed" and obj["status"]["version"] == 2
    assert await stored_value(components, obj) == VALUE.encode()
    fields = str(obj["metadata"]["managedFields"])
    assert "f:value" not in fields  # a write-only value is owned by nobody


async def test_concurrent_applies_of_a_new_name_both_succeed(registry):
    """Both see no object; one creates it, the other's create finds it and applies as an update."""
    results = await asyncio.gather(
        registry.apply(applier(), NS, "racing", manifest("racing", "from a"), force=True),
        registry.apply(applier(), NS, "racing", manifest("racing", "from b"), force=True),
    )
    assert sorted(created for _, created in results) == [False, True]
    final = registry.store.get(SECURE_VALUES.resource, NS, "racing")
    assert final is not None and final.body["status"]["version"] == 2


# -- delete ---------------------------------------------------------------------------------------


async def test_delete_destroys_the_value_and_answers_a_status(components, registry):
    created = await registry.create(system(), NS, manifest("gone"))
    status = await registry.delete(system(), NS, "gone")
    assert status["status"] == "Success" and status["details"]["uid"] == created["metadata"]["uid"]
    assert components.store.get(SECURE_VALUES.resource, NS, "gone") is None
    assert await components.store.read_payload(NS, "gone", 1, fresh=True) is None
    with pytest.raises(NotFound):
        await registry.delete(system(), NS, "gone")


async def test_prepared_deletes_of_several_objects_commit_together(components, registry):
    for name in ("one", "two"):
        await registry.create(system(), NS, manifest(name))
    prepared = [registry.prepare_delete(system(), NS, name) for name in ("one", "two")]
    await registry.update(system(), NS, "two", manifest("two", "changed meanwhile", value=None))
    with pytest.raises(Conflict):
        await registry.commit(system(), prepared)
    assert components.store.get(SECURE_VALUES.resource, NS, "one") is not None  # all or nothing


# -- authorization of every prepare ---------------------------------------------------------------


async def test_every_prepare_authorizes(components, registry):
    await registry.create(system(), NS, manifest("guarded"))
    viewer = await caller(components, "viewer")
    editor = await caller(components, "editor")
    rename = lambda current: {**current, "spec": {**current["spec"], "description": "by editor"}}  # noqa: E731

    with pytest.raises(Forbidden):
        await registry.prepare_create(viewer, NS, manifest("new-one"))
    with pytest.raises(Forbidden):
        await registry.prepare_update(viewer, NS, "guarded", rename, None)
    with pytest.raises(Forbidden):
        registry.prepare_delete(viewer, NS, "guarded")
    denied = [r for r in registry.auditor.records if r[2] == "denied"]
    assert [(op, name) for op, name, _, _ in denied] == [
        ("create", "new-one"),
        ("update", "guarded"),
        ("delete", "guarded"),
    ]

    prepared = [
        await registry.prepare_create(editor, NS, manifest("new-one")),
        await registry.prepare_update(editor, NS, "guarded", rename, None),
    ]
    await registry.commit(editor, prepared)
    await registry.commit(editor, [registry.prepare_delete(editor, NS, "new-one")])
    guarded = components.store.get(SECURE_VALUES.resource, NS, "guarded")
    assert guarded is not None and guarded.body["spec"]["description"] == "by editor"
    assert components.store.get(SECURE_VALUES.resource, NS, "new-one") is None


async def test_every_verb_authorizes_before_it_reads_the_object(components, registry):
    """A caller without rights learns nothing: 403 even for a name that does not exist."""
    viewer = await caller(components, "viewer")
    viewer.field_manager = "viewer"
    with pytest.raises(Forbidden):
        await registry.update(viewer, NS, "absent", manifest("absent"))
    with pytest.raises(Forbidden):
        await registry.patch(viewer, NS, "absent", lambda c: c, None)
    with pytest.raises(Forbidden):
        await registry.apply(viewer, NS, "absent", manifest("absent"), force=False)
    with pytest.raises(Forbidden):
        await registry.delete(viewer, NS, "absent")
    assert components.store.get(SECURE_VALUES.resource, NS, "absent") is None
