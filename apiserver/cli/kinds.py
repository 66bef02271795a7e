"""The kinds the client commands handle, and their URLs, from the server's own resource types."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from ..machinery.strategy import ResourceType
from ..resources.keeper import KEEPERS
from ..resources.namespace import NAMESPACES
from ..resources.securevalue import SECURE_VALUES
from .errors import CliError

# Namespaces before keepers before secure values: what a manifest set needs first is applied first.
KINDS: tuple[ResourceType, ...] = (NAMESPACES, KEEPERS, SECURE_VALUES)
TYPE_NAMES = ("securevalues", "keepers", "namespaces")


def _aliases(rtype: ResourceType) -> Iterable[str]:
    yield from (rtype.resource, rtype.singular, rtype.kind.lower(), rtype.qualified, *rtype.short_names)


def by_name(text: str) -> ResourceType:
    """`securevalues`, `securevalue`, `sv`, `securevalues.secret.grafana.app`... as kubectl accepts them."""
    wanted = text.lower()
    for rtype in KINDS:
        if wanted in _aliases(rtype):
            return rtype
    raise CliError(f'unknown resource type "{text}": use one of {", ".join(TYPE_NAMES)}')


def by_manifest(api_version: object, kind: object) -> ResourceType | None:
    for rtype in KINDS:
        if rtype.api_version == api_version and rtype.kind == kind:
            return rtype
    return None


def order(rtype: ResourceType) -> int:
    return KINDS.index(rtype)


def collection_path(rtype: ResourceType, namespace: str | None) -> str:
    """`namespace=None` lists a namespaced kind across all namespaces."""
    base = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
    if rtype.namespaced and namespace is not None:
        return f"{base}/namespaces/{quote(namespace, safe='')}/{rtype.resource}"
    return f"{base}/{rtype.resource}"


def item_path(rtype: ResourceType, namespace: str, name: str) -> str:
    return f"{collection_path(rtype, namespace)}/{quote(name, safe='')}"


def ref(rtype: ResourceType, name: str) -> str:
    """How objects are named in the output: `securevalue/NAME`."""
    return f"{rtype.singular}/{name}"
