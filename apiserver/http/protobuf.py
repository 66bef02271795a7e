"""Decoding the Kubernetes protobuf envelope that typed clients send for built-in kinds.

`kubectl create namespace` posts `Content-Type: application/vnd.kubernetes.protobuf`: the magic
bytes `k8s\\x00`, then a `runtime.Unknown` message whose `typeMeta` names the kind and whose `raw`
field holds the object's own message. Only the messages of kinds served here are described
(field numbers from `k8s.io/api/core/v1/generated.proto` and
`k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`); the result is the same JSON-shaped dict
a JSON body would give, so the rest of the request goes through the usual path. Fields this
server does not know are skipped, as proto3 readers do. Responses stay JSON: clients that send
protobuf also accept JSON.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from ..machinery.errors import bad_request, unsupported_media_type

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
_MAX_DEPTH = 16


@dataclass(frozen=True)
class Field:
    name: str
    kind: str | Message  # string | bytes | int64 | bool | time | fields_json | map | a Message
    repeated: bool = False


Message = dict[int, Field]

TIME: Message = {1: Field("seconds", "int64"), 2: Field("nanos", "int64")}
TYPE_META: Message = {1: Field("apiVersion", "string"), 2: Field("kind", "string")}
UNKNOWN: Message = {
    1: Field("typeMeta", TYPE_META),
    2: Field("raw", "bytes"),
    3: Field("contentEncoding", "string"),
    4: Field("contentType", "string"),
}
OWNER_REFERENCE: Message = {
    1: Field("kind", "string"),
    3: Field("name", "string"),
    4: Field("uid", "string"),
    5: Field("apiVersion", "string"),
    6: Field("controller", "bool"),
    7: Field("blockOwnerDeletion", "bool"),
}
MANAGED_FIELDS_ENTRY: Message = {
    1: Field("manager", "string"),
    2: Field("operation", "string"),
    3: Field("apiVersion", "string"),
    4: Field("time", "time"),
    6: Field("fieldsType", "string"),
    7: Field("fieldsV1", "fields_json"),
    8: Field("subresource", "string"),
}
OBJECT_META: Message = {
    1: Field("name", "string"),
    2: Field("generateName", "string"),
    3: Field("namespace", "string"),
    4: Field("selfLink", "string"),
    5: Field("uid", "string"),
    6: Field("resourceVersion", "string"),
    7: Field("generation", "int64"),
    8: Field("creationTimestamp", "time"),
    9: Field("deletionTimestamp", "time"),
    10: Field("deletionGracePeriodSeconds", "int64"),
    11: Field("labels", "map", repeated=True),
    12: Field("annotations", "map", repeated=True),
    13: Field("ownerReferences", OWNER_REFERENCE, repeated=True),
    14: Field("finalizers", "string", repeated=True),
    17: Field("managedFields", MANAGED_FIELDS_ENTRY, repeated=True),
}
NAMESPACE: Message = {
    1: Field("metadata", OBJECT_META),
    2: Field("spec", {1: Field("finalizers", "string", repeated=True)}),
    3: Field("status", {1: Field("phase", "string")}),
}
# The kinds a protobuf body may carry: (apiVersion, kind) -> message.
KINDS: dict[tuple[str, str], Message] = {("v1", "Namespace"): NAMESPACE}
_MAP_ENTRY: Message = {1: Field("key", "string"), 2: Field("value", "string")}


class _Malformed(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Malformed("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes):
    """Yield (field number, wire type, value) of one message; value is an int or bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise _Malformed("truncated field")
            value, pos = data[pos : pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise _Malformed("truncated field")
            value, pos = int.from_bytes(data[pos : pos + size], "little"), pos + size
        else:
            raise _Malformed(f"unsupported wire type {wire}")
        if number == 0:
            raise _Malformed("field number 0")
        yield number, wire, value


def _scalar(kind: str, wire: int, value: Any, depth: int) -> Any:
    if kind in ("string", "bytes", "fields_json") and wire != 2:
        raise _Malformed("expected a length-delimited field")
    if kind == "string":
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise _Malformed("invalid UTF-8 in a string field") from None
    if kind == "bytes":
        return bytes(value)
    if kind == "fields_json":  # FieldsV1 { bytes Raw = 1 } holds JSON
        raw = _message(value, {1: Field("raw", "bytes")}, depth + 1).get("raw", b"{}")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Malformed("fieldsV1 is not JSON") from None
    if kind == "time":
        if wire != 2:
            raise _Malformed("expected a Time message")
        time = _message(value, TIME, depth + 1)
        if not time.get("seconds"):
            return None  # the zero Time, `null` in JSON
        moment = dt.datetime.fromtimestamp(time.get("seconds", 0), dt.UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if wire != 0:
        raise _Malformed("expected a varint field")
    if kind == "bool":
        return bool(value)
    return value - (1 << 64) if value >= 1 << 63 else value  # int64 is two's complement


def _message(data: bytes, message: Message, depth: int = 0) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise _Malformed("nested too deeply")
    out: dict[str, Any] = {}
    for number, wire, value in _fields(data):
        field = message.get(number)
        if field is None:
            continue  # unknown to this server: skipped, as proto3 does
        if field.kind == "map":
            if wire != 2:
                raise _Malformed("expected a map entry")
            entry = _message(value, _MAP_ENTRY, depth + 1)
            out.setdefault(field.name, {})[entry.get("key", "")] = entry.get("value", "")
            continue
        if isinstance(field.kind, dict):
            if wire != 2:
                raise _Malformed("expected a nested message")
            decoded: Any = _message(value, field.kind, depth + 1)
        else:
            decoded = _scalar(field.kind, wire, value, depth)
        if field.repeated:
            out.setdefault(field.name, []).append(decoded)
        else:
            out[field.name] = decoded
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON-shaped object of a protobuf request body; 400 if malformed, 415 for kinds not described."""
    if not body.startswith(MAGIC):
        raise bad_request("the protobuf body does not start with the Kubernetes magic number")
    try:
        envelope = _message(body[len(MAGIC) :], UNKNOWN)
        type_meta = envelope.get("typeMeta", {})
        api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
        message = KINDS.get((api_version, kind))
        if message is None:
            raise unsupported_media_type(["application/json", "application/yaml"])
        if envelope.get("contentEncoding"):
            raise bad_request(f"unsupported protobuf content encoding {envelope['contentEncoding']!r}")
        obj = _message(envelope.get("raw", b""), message)
    except _Malformed as exc:
        raise bad_request(f"the protobuf body could not be decoded: {exc}") from None
    return {"apiVersion": api_version, "kind": kind, **_omit_empty(obj)}


def _omit_empty(value: Any) -> Any:
    """Go's generated marshallers write every non-pointer field, zero or not; its JSON tags say `omitempty`."""
    if isinstance(value, dict):
        kept = {k: _omit_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ("", 0, False, None, {}, [])}
    if isinstance(value, list):
        return [_omit_empty(v) for v in value]
    return value
