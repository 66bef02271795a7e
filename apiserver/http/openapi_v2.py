"""OpenAPI v2 for kubectl before 1.29, in the only form kubectl reads it: gnostic protobuf.

kubectl 1.27 and 1.28 check `fieldValidation` support (for `create/apply/replace/edit -f`) and
run `kubectl explain` against `/openapi/v2`, which they request as
`application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and decode as a gnostic
`openapi_v2.Document` (field numbers from google/gnostic `openapiv2/OpenAPIv2.proto`). The document
is derived from the v3 documents (so, like them, from `schemas/`): same paths, parameters,
operation extensions and kind schemas. Any other request for `/openapi/v2` is a 404, so nothing
mistakes JSON for the protobuf kubectl expects.
"""

from __future__ import annotations

import struct
from typing import Any

import yaml
from aiohttp import web

from ..machinery.errors import NotFound

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
RESPONSE_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"  # Go's mime parser rejects the @
_V3_REF = "#/components/schemas/"
_OPERATIONS = {"get": 2, "put": 3, "post": 4, "delete": 5, "patch": 8}  # PathItem fields


# -- protobuf writing ---------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s are ten-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _string(number: int, text: str | None) -> bytes:
    return _bytes(number, text.encode()) if text else b""


def _strings(number: int, texts: list[str] | None) -> bytes:
    return b"".join(_bytes(number, t.encode()) for t in texts or [])


def _int(number: int, value: int | None) -> bytes:
    return _varint(number << 3) + _varint(int(value)) if value is not None else b""


def _bool(number: int, value: bool | None) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _double(number: int, value: float | None) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", float(value)) if value is not None else b""


def _any(number: int, value: Any) -> bytes:
    """An `Any` holding `value` as YAML (how gnostic carries free-form values and extensions)."""
    return _bytes(number, _string(2, yaml.safe_dump(value, default_flow_style=False)))


def _extensions(number: int, node: dict[str, Any]) -> bytes:
    return b"".join(_bytes(number, _string(1, k) + _any(2, v)) for k, v in node.items() if k.startswith("x-"))


# -- schemas ------------------------------------------------------------------------------------


def schema(node: dict[str, Any]) -> bytes:
    """A v3 (3.0) schema object as a gnostic v2 `Schema` message."""
    if "$ref" in node:
        return _string(1, "#/definitions/" + node["$ref"].removeprefix(_V3_REF))
    out = [
        _string(2, node.get("format")),
        _string(4, node.get("description")),
        _int(11, node.get("maxLength")),
        _int(12, node.get("minLength")),
        _string(13, node.get("pattern")),
        _int(14, node.get("maxItems")),
        _int(15, node.get("minItems")),
        _bool(16, node.get("uniqueItems")),
        _double(7, node.get("maximum")),
        _double(9, node.get("minimum")),
        _strings(19, node.get("required")),
    ]
    out += [_any(20, value) for value in node.get("enum") or []]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out.append(_bytes(21, _bytes(1, schema(extra))))
    elif isinstance(extra, bool):
        out.append(_bytes(21, _varint(2 << 3) + (b"\x01" if extra else b"\x00")))
    if node.get("type"):
        out.append(_bytes(22, _strings(1, [node["type"]] if isinstance(node["type"], str) else node["type"])))
    if isinstance(node.get("items"), dict):
        out.append(_bytes(23, _bytes(1, schema(node["items"]))))
    if "properties" in node:
        named = b"".join(
            _bytes(1, _string(1, name) + _bytes(2, schema(sub))) for name, sub in node["properties"].items()
        )
        out.append(_bytes(25, named))
    out.append(_bool(27, node.get("readOnly")))
    out.append(_extensions(31, node))
    return b"".join(out)


# -- paths --------------------------------------------------------------------------------------


def _parameter(param: dict[str, Any]) -> bytes:
    """A v3 parameter as a `ParametersItem` (query or path `NonBodyParameter`)."""
    kind = param.get("schema", {})
    sub = (
        _bool(1, param.get("required"))
        + _string(2, param["in"])
        + _string(3, param.get("description"))
        + _string(4, param["name"])
    )
    if param["in"] == "query":
        sub += _string(6, kind.get("type")) + _bool(20, kind.get("uniqueItems"))
        non_body = _bytes(3, sub)
    else:
        sub += _string(5, kind.get("type")) + _bool(19, kind.get("uniqueItems"))
        non_body = _bytes(4, sub)
    return _bytes(1, _bytes(2, non_body))


def _body_parameter(request_body: dict[str, Any]) -> bytes:
    content = next(iter(request_body["content"].values()))
    body = (
        _string(2, "body")
        + _string(3, "body")
        + _bool(4, request_body.get("required"))
        + _bytes(5, schema(content["schema"]))
    )
    return _bytes(1, _bytes(1, body))


def _responses(responses: dict[str, Any]) -> bytes:
    codes = []
    for code, response in responses.items():
        message = _string(1, response.get("description") or code)
        content = response.get("content") or {}
        if content:
            message += _bytes(2, _bytes(1, schema(next(iter(content.values()))["schema"])))
        codes.append(_bytes(1, _string(1, code) + _bytes(2, _bytes(1, message))))
    return b"".join(codes)


def _operation(op: dict[str, Any]) -> bytes:
    out = [
        _strings(1, op.get("tags")),
        _string(3, op.get("description")),
        _string(5, op.get("operationId")),
        _strings(6, ["application/json", "application/yaml"]),
    ]
    if "requestBody" in op:
        out.append(_strings(7, list(op["requestBody"]["content"])))
    out += [_bytes(8, _parameter(p)) for p in op.get("parameters") or []]
    if "requestBody" in op:
        out.append(_bytes(8, _body_parameter(op["requestBody"])))
    out.append(_bytes(9, _responses(op.get("responses") or {})))
    out.append(_extensions(13, op))
    return b"".join(out)


def _path_item(item: dict[str, Any]) -> bytes:
    out = [_bytes(number, _operation(item[verb])) for verb, number in _OPERATIONS.items() if verb in item]
    out += [_bytes(9, _parameter(p)) for p in item.get("parameters") or []]
    return b"".join(out)


def document(v3_documents: list[dict[str, Any]], version: str) -> bytes:
    """One gnostic `Document` holding the paths and schemas of every v3 group-version document."""
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for doc in v3_documents:
        paths.update(doc["paths"])
        definitions.update(doc["components"]["schemas"])
    named_paths = b"".join(_bytes(2, _string(1, p) + _bytes(2, _path_item(item))) for p, item in sorted(paths.items()))
    named_schemas = b"".join(_bytes(1, _string(1, n) + _bytes(2, schema(s))) for n, s in sorted(definitions.items()))
    return (
        _string(1, "2.0")
        + _bytes(2, _string(1, "apiserver") + _string(2, version))
        + _bytes(8, named_paths)
        + _bytes(9, named_schemas)
    )


class OpenAPIV2:
    def __init__(self, v3_documents: list[dict[str, Any]], version: str) -> None:
        self._body = document(v3_documents, version)

    async def handle(self, request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        if not any(choice.split(";")[0].strip() == MEDIA_TYPE for choice in accept.split(",")):
            raise NotFound("the server could not find the requested resource")
        return web.Response(body=self._body, headers={"Content-Type": RESPONSE_TYPE})

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/openapi/v2", self.handle)]
