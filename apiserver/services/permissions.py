"""Permissions: built-in roles, Grafana-style actions and scopes, and the decrypt permission.

Vocabulary from Grafana (`accesscontrol.go`, `mapper.go`, `decrypt/authorizer.go`): actions
`secret.securevalues:create|read|write|delete` (likewise `secret.keepers`), scopes
`secret.securevalues:*` and `secret.securevalues:uid:NAME`; `read` covers get, list and watch,
`write` covers update and patch. Decrypt is not an RBAC action: it is a token permission
`secret.grafana.app/securevalues:decrypt` (or `.../securevalues/NAME:decrypt`) honoured only for a
token with a service identity, and a wildcard verb never counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

ROLES = ("admin", "editor", "viewer")
ALL_NAMESPACES = "*"
KINDS = {"securevalues": "secret.securevalues", "keepers": "secret.keepers"}
ACTION_VERBS = ("create", "read", "write", "delete")
VERB_ACTIONS = {
    "get": "read",
    "list": "read",
    "watch": "read",
    "create": "create",
    "update": "write",
    "patch": "write",
    "delete": "delete",
    "deletecollection": "delete",
}
DECRYPT_ANY = "secret.grafana.app/securevalues:decrypt"
# Reading the server's /metrics (no secret, no name: counts only). Cluster admins may always.
METRICS_READ = "apiserver.metrics:read"
_DECRYPT_SHAPE = re.compile(r"[a-z0-9.-]+/[a-z0-9-]+(/[a-z0-9.-]+)?:[a-z*]+")

_ROLE_ACTIONS = {
    "admin": {f"{kind}:{verb}" for kind in KINDS.values() for verb in ACTION_VERBS},
    "editor": {f"secret.securevalues:{verb}" for verb in ACTION_VERBS} | {"secret.keepers:read"},
    "viewer": {"secret.securevalues:read", "secret.keepers:read"},
}


@dataclass(frozen=True)
class Permission:
    """One RBAC permission: an action on a scope."""

    action: str
    scope: str

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "scope": self.scope}


def parse_permission(action: str, scope: str | None) -> Permission:
    """Check an action and its scope (default: every object of the action's kind); ValueError when wrong."""
    kind, _, verb = action.rpartition(":")
    if action == METRICS_READ:
        if scope not in (None, "", "apiserver.metrics:*"):
            raise ValueError(f"{METRICS_READ} has no scope but apiserver.metrics:*")
        return Permission(action, "apiserver.metrics:*")
    if kind not in KINDS.values() or verb not in ACTION_VERBS:
        known = ", ".join([*(f"{k}:{v}" for k in KINDS.values() for v in ACTION_VERBS), METRICS_READ])
        raise ValueError(f"unknown action; known actions: {known}")
    scope = scope or f"{kind}:*"
    if scope in (f"{kind}:*", f"{kind}:uid:*"):
        return Permission(action, f"{kind}:*")
    prefix = f"{kind}:uid:"
    if not scope.startswith(prefix) or not scope[len(prefix) :] or not scope[len(prefix) :].isprintable():
        raise ValueError(f"a scope of {action} is {kind}:* or {prefix}NAME")
    return Permission(action, scope)


def check_decrypt_permission(text: str) -> str:
    """Token permissions are kept as given when well-formed (`GROUP/RESOURCE[/NAME]:VERB`); ValueError if not."""
    if len(text) > 300 or not _DECRYPT_SHAPE.fullmatch(text):
        raise ValueError("must look like secret.grafana.app/securevalues[/NAME]:decrypt")
    return text


@dataclass(frozen=True)
class _Scopes:
    wildcard: bool = False
    names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Grant:
    """What one token may do: its namespaces, its role or explicit permissions, its decrypt rights."""

    namespaces: frozenset[str] | None  # None: every namespace
    role: str | None = None
    permissions: tuple[Permission, ...] = ()
    decrypt: tuple[str, ...] = ()
    service_identity: str | None = None
    _actions: dict[str, _Scopes] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        actions: dict[str, tuple[bool, set[str]]] = {}
        for action in _ROLE_ACTIONS.get(self.role or "", ()):
            actions[action] = (True, set())
        for permission in self.permissions:
            wildcard, names = actions.setdefault(permission.action, (False, set()))
            kind = permission.action.rpartition(":")[0]
            if permission.scope == f"{kind}:*":
                wildcard = True
            else:
                names.add(permission.scope[len(kind) + len(":uid:") :])
            actions[permission.action] = (wildcard, names)
        self._actions.update({a: _Scopes(w, frozenset(n)) for a, (w, n) in actions.items()})

    @property
    def cluster_admin(self) -> bool:
        return self.role == "admin" and self.namespaces is None

    @property
    def may_read_metrics(self) -> bool:
        return self.cluster_admin or METRICS_READ in self._actions

    def covers(self, namespace: str) -> bool:
        return self.namespaces is None or namespace in self.namespaces

    def covers_all(self, namespaces: Iterable[str]) -> bool:
        """Whether every one of `namespaces` (`*` meaning all) is within this grant's."""
        if self.namespaces is None:
            return True
        return all(ns != ALL_NAMESPACES and ns in self.namespaces for ns in namespaces)

    def allows(self, verb: str, resource: str, group: str, namespace: str, name: str) -> bool:
        if self.cluster_admin:
            return True
        if resource == "namespaces" and group == "":
            # Cluster-scoped writes are for cluster admins; everyone may see the namespaces it works in.
            if VERB_ACTIONS.get(verb) != "read":
                return False
            return self.covers(name) if name else True
        kind = KINDS.get(resource)
        if kind is None or group != "secret.grafana.app":
            # Anything else is administration within the token's namespaces (token management checks
            # the namespaces of each token itself).
            return self.role == "admin" and (not namespace or self.covers(namespace))
        if namespace and not self.covers(namespace):
            return False
        if not namespace and verb not in ("list", "watch"):
            return False
        if self.role == "admin":
            return True
        action = VERB_ACTIONS.get(verb)
        scopes = self._actions.get(f"{kind}:{action}") if action else None
        if scopes is None:
            return False
        if scopes.wildcard:
            return True
        if name:
            return name in scopes.names
        # A collection verb with per-name scopes: lists are filtered per item; a nameless create is not allowed.
        return verb != "create" and bool(scopes.names)

    def may_decrypt(self, namespace: str, name: str) -> bool:
        """Grafana's decrypt authorizer, but for the decrypters check (which needs the stored value)."""
        if not self.service_identity or not self.service_identity.strip() or not self.covers(namespace):
            return False
        return DECRYPT_ANY in self.decrypt or f"secret.grafana.app/securevalues/{name}:decrypt" in self.decrypt


ADMIN_GRANT = Grant(namespaces=None, role="admin")
