"""Roles, Grafana-style permissions and the decrypt permission, evaluated without a server."""

from __future__ import annotations

import pytest

from apiserver.services.permissions import DECRYPT_ANY, Grant, parse_permission
from apiserver.services.token_requests import parse_duration

SV, KP, NS = ("securevalues", "secret.grafana.app"), ("keepers", "secret.grafana.app"), ("namespaces", "")


def allows(grant: Grant, verb: str, kind: tuple[str, str], namespace: str = "default", name: str = "") -> bool:
    return grant.allows(verb, kind[0], kind[1], namespace, name)


def test_roles():
    viewer, editor = Grant(frozenset({"default"}), "viewer"), Grant(frozenset({"default"}), "editor")
    assert allows(viewer, "get", SV, name="a") and allows(viewer, "watch", KP)
    assert not allows(viewer, "patch", SV, name="a") and not allows(viewer, "create", KP, name="k")
    assert allows(editor, "deletecollection", SV) and allows(editor, "create", SV)
    assert not allows(editor, "update", KP, name="k") and not allows(editor, "get", SV, "other", "a")
    assert not allows(editor, "create", NS, "", "x") and allows(editor, "get", NS, "", "default")
    assert not allows(editor, "get", NS, "", "kube-system") and allows(editor, "list", NS, "")
    admin = Grant(frozenset({"default"}), "admin")
    assert allows(admin, "delete", KP, name="k") and not allows(admin, "create", NS, "", "x")
    assert Grant(None, "admin").allows("create", "namespaces", "", "", "x")


def test_scopes_per_name():
    grant = Grant(
        frozenset({"default"}), None, (parse_permission("secret.securevalues:read", "secret.securevalues:uid:a"),)
    )
    assert allows(grant, "get", SV, name="a") and not allows(grant, "get", SV, name="b")
    assert allows(grant, "list", SV) and not allows(grant, "list", KP)  # lists are filtered per item
    assert not allows(grant, "update", SV, name="a")
    wide = Grant(None, None, (parse_permission("secret.keepers:write", None),))
    assert allows(wide, "patch", KP, "any", "k") and not allows(wide, "get", KP, "any", "k")
    assert allows(Grant(None, None, (parse_permission("secret.securevalues:create", None),)), "create", SV)
    named_create = Grant(None, None, (parse_permission("secret.securevalues:create", "secret.securevalues:uid:a"),))
    assert allows(named_create, "create", SV, name="a") and not allows(named_create, "create", SV)


@pytest.mark.parametrize(
    "action,scope",
    [
        ("secret.securevalues:decrypt", None),
        ("secret.keepers:read", "secret.securevalues:*"),
        ("secret.securevalues:read", "secret.securevalues:uid:"),
    ],
)
def test_malformed_permissions_are_refused(action, scope):
    with pytest.raises(ValueError):
        parse_permission(action, scope)


def test_decrypt_needs_a_service_identity_the_namespace_and_an_exact_verb():
    service = Grant(frozenset({"default"}), None, decrypt=(DECRYPT_ANY,), service_identity="sm")
    assert service.may_decrypt("default", "a") and not service.may_decrypt("other", "a")
    assert not Grant(None, "admin", decrypt=(DECRYPT_ANY,)).may_decrypt("default", "a")
    narrow = Grant(None, None, decrypt=("secret.grafana.app/securevalues/a:decrypt",), service_identity="sm")
    assert narrow.may_decrypt("x", "a") and not narrow.may_decrypt("x", "b")
    wildcard = Grant(None, None, decrypt=("secret.grafana.app/securevalues:*",), service_identity="sm")
    assert not wildcard.may_decrypt("x", "a")


def test_durations():
    assert [parse_duration(t) for t in ("90s", "15m", "24h", "30d")] == [90, 900, 86400, 2592000]
    for bad in ("", "0s", "1w", "1.5h", "-1s", "1h30m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_other_resources_are_administration_within_the_namespaces():
    admin = Grant(frozenset({"default"}), "admin")
    assert admin.allows("list", "secretstores", "example.local", "default", "")
    assert not admin.allows("list", "secretstores", "example.local", "team-b", "")
    assert admin.allows("create", "tokens", "auth.apiserver.local", "", "")
    assert not Grant(None, "editor").allows("list", "tokens", "auth.apiserver.local", "", "")
