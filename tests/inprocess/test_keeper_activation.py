"""Keeper activation is a status write through the registry: validated, with managedFields and audit.

Exactly one keeper of a namespace is active, also when activations race: the one that commits
second is recomputed on the first one's result.
"""

from __future__ import annotations

import asyncio

import pytest

from apiserver.app import SYSTEM
from apiserver.machinery.audit import NullAuditor
from apiserver.machinery.context import Principal, RequestContext
from apiserver.machinery.errors import Forbidden
from apiserver.resources.keeper import KEEPERS
from apiserver.services.tokens import TokenRequest

NS = "default"


class RecordingAuditor(NullAuditor):
    def __init__(self) -> None:
        self.records: list[tuple[str, str, str]] = []

    def record(self, ctx, operation, resource, namespace, name, outcome, reason=""):
        self.records.append((operation, name, outcome))
        return super().record(ctx, operation, resource, namespace, name, outcome, reason)


def gcp_keeper(name: str) -> dict:
    return {
        "apiVersion": KEEPERS.api_version,
        "kind": "Keeper",
        "metadata": {"name": name},
        "spec": {"description": "a keeper", "gcp": {"projectID": "p", "credentialsFile": "/etc/gcp.json"}},
    }


@pytest.fixture
async def keepers(components):
    components.keepers.auditor = RecordingAuditor()
    for name in ("first", "second", "third"):
        await components.keepers.create(RequestContext(SYSTEM), NS, gcp_keeper(name))
    return components


def active(components) -> list[str]:
    return [s.name for s in components.store.iter_current(KEEPERS.resource, NS) if s.body["status"].get("active")]


async def test_activation_writes_status_only_with_managed_fields_and_audit(keepers):
    ctx = RequestContext(SYSTEM, field_manager="operator")
    before = keepers.store.get(KEEPERS.resource, NS, "first")
    assert before is not None
    activated = await keepers.keeper_service.activate(ctx, NS, "first")
    assert activated["status"]["active"] is True and activated["spec"] == before.body["spec"]
    assert int(activated["metadata"]["resourceVersion"]) > before.revision
    assert activated["metadata"]["generation"] == before.body["metadata"]["generation"]  # no spec change
    owners = {entry["manager"]: entry for entry in activated["metadata"]["managedFields"]}
    assert owners["operator"]["subresource"] == "status"
    assert owners["operator"]["fieldsV1"] == {"f:status": {"f:active": {}}}
    assert ("update", "first", "success") in keepers.keepers.auditor.records

    await keepers.keeper_service.activate(ctx, NS, "second")
    assert active(keepers) == ["second"]
    await keepers.keeper_service.activate(ctx, NS, "system")
    assert active(keepers) == []


async def test_racing_activations_leave_exactly_one_keeper_active(keepers):
    ctx = RequestContext(SYSTEM)
    await asyncio.gather(*(keepers.keeper_service.activate(ctx, NS, name) for name in ("first", "second", "third")))
    assert len(active(keepers)) == 1


async def test_a_caller_who_may_not_update_keepers_cannot_activate(keepers):
    record, _ = await keepers.tokens.create(TokenRequest(namespaces=[NS], role="viewer"))
    viewer = RequestContext(Principal(subject=record.subject, token_id=record.id))
    with pytest.raises(Forbidden):
        await keepers.keeper_service.activate(viewer, NS, "first")
    assert active(keepers) == []
    assert keepers.keepers.auditor.records[-1] == ("activate", "first", "denied")
