"""OpenAPI v3: an index at `/openapi/v3` and one document per served group-version.

Each kind's component schema is generated from its JSON Schema in `schemas/` (through
`ObjectSchema.document`, where every `$ref` is inlined), so the published API cannot drift from
what the server validates. What kubectl needs from it (see the reference, section 2):

- every operation carries `x-kubernetes-group-version-kind` (an object) and `x-kubernetes-action`;
- write operations take `dryRun`, `fieldManager` and `fieldValidation` as their *own* query
  parameters; kubectl then leaves validation to the server (`--validate=strict` works);
- PATCH lists exactly the JSON, merge and apply patch types (listing strategic merge would make
  kubectl compute one from the schema);
- kind schemas carry `x-kubernetes-group-version-kind` as an array, for `kubectl explain`.

`/openapi/v2` is served only as the gnostic protobuf kubectl before 1.29 needs (`openapi_v2.py`);
a JSON request for it is a 404, as kubectl's newer clients take "absent" to mean "use v3".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from ..machinery.errors import NotFound
from ..machinery.schema import ObjectSchema
from ..machinery.strategy import ResourceType
from .discovery import KUBERNETES_VERSION, GroupVersion, group_versions
from .openapi_v2 import OpenAPIV2

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
STATUS, DELETE_OPTIONS, PATCH, LIST_META = (f"{META}.{n}" for n in ("Status", "DeleteOptions", "Patch", "ListMeta"))
PATCH_MEDIA = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
_DROPPED = ("$schema", "$id", "$defs", "$comment", "title")


def schema_name(rtype: ResourceType, kind: str | None = None) -> str:
    """Upstream's naming: the reversed group (`app.grafana.secret.v1beta1.SecureValue`), core `io.k8s.api.core`."""
    prefix = ".".join(reversed(rtype.group.split("."))) if rtype.group else "io.k8s.api.core"
    return f"{prefix}.{rtype.version}.{kind or rtype.kind}"


def to_openapi_schema(node: Any) -> Any:
    """A JSON Schema (2020-12, refs inlined) as an OpenAPI 3.0 schema object."""
    if isinstance(node, list):
        return [to_openapi_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "additionalProperties" and value is False:
            continue  # structural schemas express closedness by listing properties; OpenAPI 3.0 readers vary
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out["type"] = types[0] if len(types) == 1 else value
            if "null" in value:
                out["nullable"] = True
        elif key == "x-secret":
            out["writeOnly"] = True
            out[key] = value
        elif key in ("properties", "$defs", "patternProperties"):
            out[key] = {name: to_openapi_schema(sub) for name, sub in value.items()}
        else:
            out[key] = to_openapi_schema(value)
    return out


def _param(name: str, description: str, where: str = "query", type_: str = "string", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "description": description,
        "schema": {"type": type_, **extra},
        **({"required": True} if where == "path" else {}),
    }


_PRETTY = _param("pretty", "If 'true', the output is pretty printed.")
_DRY_RUN = _param(
    "dryRun",
    "When present, indicates that modifications should not be persisted. The only valid "
    "value is All: all dry run stages are processed, nothing is stored.",
)
_FIELD_MANAGER = _param(
    "fieldManager",
    "A name associated with the actor or entity that is making these changes. "
    "Required for apply requests (application/apply-patch+yaml).",
)
_FIELD_VALIDATION = _param(
    "fieldValidation",
    "How the server treats unknown or duplicate fields in the body: "
    "Ignore drops them, Warn (the default) drops them and answers with a warning header "
    "per field, Strict fails the request with 400 BadRequest.",
    uniqueItems=True,
)
_FORCE = _param(
    "force",
    'Force is going to "force" Apply requests: the applier takes ownership of fields '
    "other managers set. Must be unset for non-apply patches.",
    type_="boolean",
    uniqueItems=True,
)
_WRITE_PARAMS = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
_LIST_PARAMS = [
    _param("allowWatchBookmarks", "Requests watch events with type BOOKMARK.", type_="boolean", uniqueItems=True),
    _param("continue", "The continue token of the previous page, to fetch the next one."),
    _param("fieldSelector", "A selector restricting the returned objects by their fields."),
    _param("labelSelector", "A selector restricting the returned objects by their labels."),
    _param("limit", "The maximum number of items to return; use continue for the rest.", type_="integer"),
    _param("resourceVersion", "Which version of the collection to read, or after which to watch."),
    _param("resourceVersionMatch", "How resourceVersion applies to a list: NotOlderThan or Exact."),
    _param("timeoutSeconds", "Timeout for the list or watch call.", type_="integer"),
    _param(
        "watch",
        "Watch for changes to the described resources and return them as a stream of add, update, "
        "and remove notifications.",
        type_="boolean",
        uniqueItems=True,
    ),
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _content(name: str, media: Iterable[str] = ("application/json", "application/yaml")) -> dict[str, Any]:
    return {m: {"schema": _ref(name)} for m in media}


def _responses(name: str, *codes: str) -> dict[str, Any]:
    out = {
        code: {"description": {"200": "OK", "201": "Created", "202": "Accepted"}[code], "content": _content(name)}
        for code in codes
    }
    out["401"] = {"description": "Unauthorized"}
    return out


class _Operations:
    """The operations of one resource type, in the shape upstream's CRD OpenAPI builder emits."""

    def __init__(self, rtype: ResourceType) -> None:
        self.rtype = rtype
        self.kind_ref = schema_name(rtype)
        self.list_ref = schema_name(rtype, rtype.list_kind)
        self.gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
        scope = "Namespaced" if rtype.namespaced else ""
        self.suffix = f"{scope}{rtype.kind}"

    def _op(
        self,
        verb: str,
        action: str,
        summary: str,
        params: list,
        responses: dict,
        body: dict | None = None,
        op_id: str | None = None,
    ) -> dict[str, Any]:
        tag = f"{self.rtype.group or 'core'}_{self.rtype.version}".replace(".", "")
        op: dict[str, Any] = {
            "tags": [tag],
            "description": summary,
            "operationId": op_id or f"{verb}{self.suffix}",
            "parameters": params,
            "responses": responses,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": dict(self.gvk),
        }
        if body is not None:
            op["requestBody"] = body
        return op

    def collection(self) -> dict[str, Any]:
        kind = self.rtype.kind
        body = {"required": True, "content": _content(self.kind_ref)}
        return {
            "get": self._op(
                "list",
                "list",
                f"list or watch objects of kind {kind}",
                list(_LIST_PARAMS),
                _responses(self.list_ref, "200"),
            ),
            "post": self._op(
                "create",
                "post",
                f"create a {kind}",
                list(_WRITE_PARAMS),
                _responses(self.kind_ref, "200", "201", "202"),
                body,
            ),
            "delete": self._op(
                "deletecollection",
                "deletecollection",
                f"delete collection of {kind}",
                [*_LIST_PARAMS, _DRY_RUN],
                _responses(STATUS, "200"),
                {"content": _content(DELETE_OPTIONS)},
            ),
        }

    def item(self) -> dict[str, Any]:
        kind = self.rtype.kind
        body = {"required": True, "content": _content(self.kind_ref)}
        patch_body = {"required": True, "content": {m: {"schema": _ref(PATCH)} for m in PATCH_MEDIA}}
        return {
            "get": self._op("read", "get", f"read the specified {kind}", [], _responses(self.kind_ref, "200")),
            "put": self._op(
                "replace",
                "put",
                f"replace the specified {kind}",
                list(_WRITE_PARAMS),
                _responses(self.kind_ref, "200", "201"),
                body,
            ),
            "patch": self._op(
                "patch",
                "patch",
                f"partially update the specified {kind}",
                [*_WRITE_PARAMS, _FORCE],
                _responses(self.kind_ref, "200", "201"),
                patch_body,
            ),
            "delete": self._op(
                "delete",
                "delete",
                f"delete a {kind}",
                [_DRY_RUN],
                _responses(STATUS, "200", "202"),
                {"content": _content(DELETE_OPTIONS)},
            ),
        }

    def all_namespaces(self) -> dict[str, Any]:
        return {
            "get": self._op(
                "list",
                "list",
                f"list or watch objects of kind {self.rtype.kind}",
                list(_LIST_PARAMS),
                _responses(self.list_ref, "200"),
                op_id=f"list{self.rtype.kind}ForAllNamespaces",
            )
        }


def _paths(gv: GroupVersion) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    namespace = _param("namespace", "object name and auth scope, such as for teams and projects", "path")
    name = _param("name", "name of the resource", "path")
    for rtype in gv.types:
        ops = _Operations(rtype)
        if rtype.namespaced:
            collection = f"{gv.path}/namespaces/{{namespace}}/{rtype.resource}"
            paths[collection] = {**ops.collection(), "parameters": [namespace, _PRETTY]}
            paths[f"{collection}/{{name}}"] = {**ops.item(), "parameters": [name, namespace, _PRETTY]}
            paths[f"{gv.path}/{rtype.resource}"] = {**ops.all_namespaces(), "parameters": [_PRETTY]}
        else:
            collection = f"{gv.path}/{rtype.resource}"
            paths[collection] = {**ops.collection(), "parameters": [_PRETTY]}
            paths[f"{collection}/{{name}}"] = {**ops.item(), "parameters": [name, _PRETTY]}
    return paths


def _meta_schemas() -> dict[str, Any]:
    """The few apimachinery types the operations refer to, abridged to what clients read."""
    string = {"type": "string"}
    return {
        LIST_META: {
            "type": "object",
            "description": "Metadata of a list: its resourceVersion and paging token.",
            "properties": {
                "resourceVersion": {**string, "description": "The version of the list."},
                "continue": {**string, "description": "Token to fetch the next page."},
                "remainingItemCount": {
                    "type": "integer",
                    "format": "int64",
                    "description": "Items after this page (approximate).",
                },
            },
        },
        STATUS: {
            "type": "object",
            "description": "Status is the result of operations that do not return an object.",
            "properties": {
                "apiVersion": string,
                "kind": string,
                "status": string,
                "message": string,
                "reason": string,
                "code": {"type": "integer", "format": "int32"},
                "details": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "metadata": _ref(LIST_META),
            },
            "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Status"}],
        },
        DELETE_OPTIONS: {
            "type": "object",
            "description": "Options of a delete: dry run and preconditions.",
            "properties": {
                "apiVersion": string,
                "kind": string,
                "dryRun": {"type": "array", "items": string},
                "gracePeriodSeconds": {"type": "integer", "format": "int64"},
                "propagationPolicy": string,
                "preconditions": {"type": "object", "properties": {"uid": string, "resourceVersion": string}},
            },
        },
        PATCH: {
            "type": "object",
            "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
        },
    }


class OpenAPI:
    """Documents per group-version, rendered once; the hash in the index changes with the document."""

    def __init__(self, kinds: Iterable[tuple[ResourceType, ObjectSchema]]) -> None:
        kinds = list(kinds)
        schemas = {rtype: schema for rtype, schema in kinds}
        self._documents: dict[str, bytes] = {}
        documents = []
        for gv in group_versions(rtype for rtype, _ in kinds):
            documents.append(self.document(gv, schemas))
            self._documents[gv.path.lstrip("/")] = orjson.dumps(documents[-1])
        self._v2 = OpenAPIV2(documents, KUBERNETES_VERSION["gitVersion"])
        self._hashes = {key: hashlib.sha512(body).hexdigest() for key, body in self._documents.items()}
        self._index = orjson.dumps(
            {
                "paths": {
                    key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
                    for key, digest in self._hashes.items()
                }
            }
        )
        self._index_etag = '"' + hashlib.sha512(self._index).hexdigest()[:32] + '"'

    @staticmethod
    def document(gv: GroupVersion, schemas: dict[ResourceType, ObjectSchema]) -> dict[str, Any]:
        components = _meta_schemas()
        for rtype in gv.types:
            kind_schema = to_openapi_schema(schemas[rtype].document)
            kind_schema.setdefault(
                "x-kubernetes-group-version-kind",
                [{"group": rtype.group, "version": rtype.version, "kind": rtype.kind}],
            )
            components[schema_name(rtype)] = kind_schema
            components[schema_name(rtype, rtype.list_kind)] = {
                "type": "object",
                "required": ["items"],
                "description": f"{rtype.list_kind} is a list of {rtype.kind} objects.",
                "properties": {
                    "apiVersion": {"type": "string", "description": f"Always {rtype.api_version}."},
                    "kind": {"type": "string", "description": f"Always {rtype.list_kind}."},
                    "metadata": {**_ref(LIST_META), "description": "Standard list metadata."},
                    "items": {
                        "type": "array",
                        "description": f"The {rtype.resource}.",
                        "items": _ref(schema_name(rtype)),
                    },
                },
                "x-kubernetes-group-version-kind": [
                    {"group": rtype.group, "version": rtype.version, "kind": rtype.list_kind}
                ],
            }
        return {
            "openapi": "3.0.0",
            "info": {"title": "apiserver", "version": KUBERNETES_VERSION["gitVersion"]},
            "paths": _paths(gv),
            "components": {"schemas": components},
        }

    async def index(self, request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == self._index_etag:
            return web.Response(status=304, headers={"Etag": self._index_etag})
        return web.Response(body=self._index, content_type="application/json", headers={"Etag": self._index_etag})

    async def group_version(self, request: web.Request) -> web.Response:
        key = request.match_info["gv"]
        body = self._documents.get(key)
        if body is None:
            raise NotFound("the server could not find the requested resource")
        digest = self._hashes[key]
        given = request.query.get("hash")
        if given is not None and given != digest:
            raise web.HTTPMovedPermanently(f"/openapi/v3/{key}?hash={digest}")
        headers = {"Etag": f'"{digest}"', "Vary": "Accept"}
        if given == digest:  # the URL names this exact content, so it can be cached for good
            headers["Cache-Control"] = "public, immutable"
            headers["Expires"] = "Thu, 31 Dec 2099 23:59:59 GMT"
        else:
            headers["Cache-Control"] = "no-cache, private"
        return web.Response(body=body, content_type="application/json", headers=headers)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/openapi/v3", self.index),
            web.get("/openapi/v3/{gv:.+}", self.group_version),
            *self._v2.routes(),
        ]
