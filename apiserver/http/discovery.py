"""API discovery: `/version`, `/api`, `/apis` and one resource list per group-version.

`/api` and `/apis` answer aggregated discovery (`apidiscovery.k8s.io/v2`, or v2beta1 for older
clients) only when the Accept header asks for `as=APIGroupDiscoveryList`, and the legacy
`APIVersions`/`APIGroupList` otherwise. Both endpoints always answer in the same form for the same
Accept, because client-go discards aggregated resources unless both agree. Everything is derived
from the served `ResourceType`s, so a new kind appears here by being registered.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ..machinery.errors import NotAcceptable
from ..machinery.strategy import ResourceType

# The kubectl on a Google Cloud SDK machine is a dispatcher choosing kubectl.1.NN by this minor.
KUBERNETES_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0"}
DISCOVERY_GROUP = "apidiscovery.k8s.io"
DISCOVERY_VERSIONS = ("v2", "v2beta1")  # in order of preference; v2beta1 for clients before 1.30
PREFERRED_CORE = "v1"


@dataclass(frozen=True)
class GroupVersion:
    group: str
    version: str
    types: tuple[ResourceType, ...]

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


def group_versions(types: Iterable[ResourceType]) -> list[GroupVersion]:
    """The served group-versions, in registration order (the first version of a group is preferred)."""
    grouped: dict[tuple[str, str], list[ResourceType]] = {}
    for rtype in types:
        grouped.setdefault((rtype.group, rtype.version), []).append(rtype)
    return [GroupVersion(g, v, tuple(ts)) for (g, v), ts in grouped.items()]


def version_info() -> dict[str, str]:
    """A Kubernetes `version.Info`: all fields are strings."""
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine().lower())
    return {
        **KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": f"linux/{machine}",
    }


def aggregated_version(accept: str) -> str | None:
    """The apidiscovery version the Accept header asks for, if any (the first acceptable one wins)."""
    for choice in accept.split(","):
        parts = [p.strip() for p in choice.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if (
            parts[0] in ("application/json", "application/*", "*/*")
            and params.get("as") == "APIGroupDiscoveryList"
            and params.get("g") == DISCOVERY_GROUP
            and params.get("v") in DISCOVERY_VERSIONS
        ):
            return params["v"]
    return None


def _accepts_json(accept: str) -> bool:
    if not accept.strip():
        return True
    for choice in accept.split(","):
        parts = [p.strip() for p in choice.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if parts[0] in ("application/json", "application/*", "*/*") and "as" not in params:
            return True
    return False


def _json(body: Any, content_type: str = "application/json") -> web.Response:
    return web.Response(body=orjson.dumps(body), headers={"Content-Type": content_type})


def _api_resource(rtype: ResourceType) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "name": rtype.resource,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": sorted(rtype.verbs),
    }
    if rtype.short_names:
        resource["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        resource["categories"] = list(rtype.categories)
    return resource


def _discovery_resource(rtype: ResourceType) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resource": rtype.resource,
        "responseKind": {"group": rtype.group, "version": rtype.version, "kind": rtype.kind},
        "scope": "Namespaced" if rtype.namespaced else "Cluster",
        "singularResource": rtype.singular,
        "verbs": sorted(rtype.verbs),
    }
    if rtype.short_names:
        resource["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        resource["categories"] = list(rtype.categories)
    return resource


class Discovery:
    """Discovery documents for the served kinds, precomputed (they change only with the code)."""

    def __init__(self, types: Iterable[ResourceType]) -> None:
        self.group_versions = group_versions(types)
        self.core = [gv for gv in self.group_versions if not gv.group]
        self.named = [gv for gv in self.group_versions if gv.group]
        self._groups: dict[str, list[GroupVersion]] = {}
        for gv in self.named:
            self._groups.setdefault(gv.group, []).append(gv)

    # -- documents ------------------------------------------------------------------------

    def resource_list(self, gv: GroupVersion) -> dict[str, Any]:
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv.group_version,
            "resources": [_api_resource(t) for t in gv.types],
        }

    def api_group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": gv.group_version, "version": gv.version} for gv in self._groups[group]]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": versions[0],
        }

    def api_group_list(self) -> dict[str, Any]:
        groups = [{k: v for k, v in self.api_group(g).items() if k not in ("kind", "apiVersion")} for g in self._groups]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_versions(self, server_address: str) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": [gv.version for gv in self.core] or [PREFERRED_CORE],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }

    def aggregated(self, core: bool, version: str) -> dict[str, Any]:
        """`APIGroupDiscoveryList` for `/api` (core) or `/apis`; version order is preference order."""
        items: list[dict[str, Any]] = []
        if core:
            if self.core:
                items.append({"metadata": {}, "versions": [self._aggregated_version(gv) for gv in self.core]})
        else:
            for group, gvs in self._groups.items():
                items.append({"metadata": {"name": group}, "versions": [self._aggregated_version(gv) for gv in gvs]})
        return {
            "kind": "APIGroupDiscoveryList",
            "apiVersion": f"{DISCOVERY_GROUP}/{version}",
            "metadata": {},
            "items": items,
        }

    @staticmethod
    def _aggregated_version(gv: GroupVersion) -> dict[str, Any]:
        return {"version": gv.version, "freshness": "Current", "resources": [_discovery_resource(t) for t in gv.types]}

    # -- handlers -------------------------------------------------------------------------

    async def version(self, request: web.Request) -> web.Response:
        return _json(version_info())

    def _root(self, core: bool):
        async def handler(request: web.Request) -> web.Response:
            accept = request.headers.get("Accept", "")
            version = aggregated_version(accept)
            if version is not None:
                # client-go decides the format from this exact Content-Type alone.
                media = f"application/json;g={DISCOVERY_GROUP};v={version};as=APIGroupDiscoveryList"
                return _json(self.aggregated(core, version), media)
            if not _accepts_json(accept):
                raise NotAcceptable(
                    "only the following media types are accepted: application/json, "
                    f"application/json;g={DISCOVERY_GROUP};v=v2;as=APIGroupDiscoveryList",
                )
            if core:
                return _json(self.api_versions(request.host))
            return _json(self.api_group_list())

        return handler

    def routes(self) -> list[web.RouteDef]:
        routes = [
            web.get("/version", self.version),
            web.get("/api", self._root(core=True)),
            web.get("/apis", self._root(core=False)),
        ]
        core_v1 = next((gv for gv in self.core if gv.version == PREFERRED_CORE), None)
        if core_v1 is None:  # Python's DynamicClient looks up /api/v1 on every kind-only search
            routes.append(web.get("/api/v1", _constant(self.resource_list(GroupVersion("", "v1", ())))))
        for gv in self.group_versions:
            routes.append(web.get(gv.path, _constant(self.resource_list(gv))))
        for group in self._groups:
            routes.append(web.get(f"/apis/{group}", _constant(self.api_group(group))))
        return routes


def _constant(body: dict[str, Any]):
    encoded = orjson.dumps(body)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=encoded, content_type="application/json")

    return handler
