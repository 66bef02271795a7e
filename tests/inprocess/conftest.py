"""The in-process tier: the registry and services over a real Store on a real SQLite file, no server.

Fast (milliseconds per test) and close to the code: what the end-to-end tests reach only through
HTTP, these call directly, with the same wiring root the server uses.
"""

from __future__ import annotations

import pytest

from apiserver.app import SYSTEM, build_components
from apiserver.config import Settings
from apiserver.machinery.context import Principal, RequestContext
from apiserver.resources.namespace import DEFAULT_NAMESPACE
from apiserver.services.tokens import TokenRequest

ADMIN = "in-process-admin-token"


@pytest.fixture
async def components(tmp_path):
    built = build_components(Settings(data_dir=tmp_path / "data", admin_token=ADMIN))
    await built.store.open()
    await built.namespaces.create(system(), "", {"metadata": {"name": DEFAULT_NAMESPACE}})
    yield built
    await built.store.close()


def system() -> RequestContext:
    return RequestContext(SYSTEM)


async def principal_with(components, role: str, namespaces: tuple[str, ...] = (DEFAULT_NAMESPACE,)) -> Principal:
    """A principal of a stored token with `role` in `namespaces`."""
    record, _ = await components.tokens.create(TokenRequest(namespaces=list(namespaces), role=role))
    return Principal(subject=record.subject, token_id=record.id)


def secure_value(name: str, value: str = "s3cr3t-value", **spec) -> dict:
    return {
        "apiVersion": "secret.grafana.app/v1beta1",
        "kind": "SecureValue",
        "metadata": {"name": name},
        "spec": {"description": "in-process test", "value": value, **spec},
    }
