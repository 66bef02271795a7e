"""Compiled JSON Schemas (draft 2020-12) for resource kinds, reporting errors as Kubernetes causes.

One schema file per kind (`schemas/*.json`) is the single source for structural validation,
unknown-field detection, pruning and, later, the published OpenAPI. Messages follow what a
Kubernetes 1.32 apiserver says for a custom resource: kube-openapi's validator messages
(`k8s.io/kube-openapi/pkg/validation/errors`) turned into field errors the way apiextensions'
`kubeOpenAPIResultToFieldErrors` does, worded by `k8s.io/apimachinery/.../validation/field`.

Like Kubernetes, a `null` given for a declared field means "absent": it is dropped before
validation (so a required field sent as null reports `Required value`) and is not stored.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from apiserver.machinery.errors import Cause, field_error
from apiserver.machinery.fast_schema import compile_check

Segment = str | int

_MAX_REF_DEPTH = 32
# Immutable JSON leaves: returned as they are instead of deep-copied (the common case by far).
_SCALARS = frozenset({str, int, float, bool, type(None)})
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


# --- schema walking (over the resolved document, where every $ref is inlined) -------------------


def _closed(schema: dict) -> bool:
    """Whether an object schema rejects undeclared keys (Kubernetes would prune them)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return False
    extra = schema.get("additionalProperties")
    return extra is False or ("properties" in schema and extra is None)


def _child(schema: dict | None, seg: Segment) -> tuple[dict | None, str]:
    """The subschema one step down and what the step is: prop, key (map entry), index, free or unknown."""
    if schema is None:
        return None, "index" if isinstance(seg, int) else "free"
    if isinstance(seg, int):
        items = schema.get("items")
        return (items if isinstance(items, dict) else None), "index"
    props = schema.get("properties") or {}
    if seg in props:
        return props[seg], "prop"
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return extra, "key"
    return None, "unknown" if _closed(schema) else "free"


def _join(path: str, seg: Segment, how: str) -> str:
    """Append one step in `field.Path` style: `spec.decrypters[3]`, `metadata.labels[app]`."""
    if isinstance(seg, int) or how == "key":
        return f"{path}[{seg}]"
    return f"{path}.{seg}" if path else str(seg)


def _parse_path(dotted: str) -> list[Segment]:
    segments: list[Segment] = []
    for name, bracket in _PATH_TOKEN.findall(dotted):
        if name:
            segments.append(name)
        else:
            segments.append(int(bracket) if bracket.isdigit() else bracket)
    return segments


def _json_type(value: Any) -> str:
    """The JSON type name of a decoded value, as kube-openapi reports the actual type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _scalar(value: Any) -> Any:
    """The value to echo in a message: scalars only (objects would flood the message)."""
    return value if isinstance(value, (str, int, float, bool)) else None


def _clean(value: Any, schema: dict | None, path: str, unknown: list[str]) -> Any:
    """Copy `value` without undeclared fields (their paths go to `unknown`) and null declared fields."""
    if isinstance(value, dict) and schema is not None and ("properties" in schema or "additionalProperties" in schema):
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub, how = _child(schema, key)
            if how == "unknown":
                unknown.append(_join(path, key, how))
                continue
            if item is None and how == "prop":
                continue  # Kubernetes decodes a null field as absent
            out[key] = _clean(item, sub, _join(path, key, how), unknown)
        return out
    if isinstance(value, list) and schema is not None and isinstance(schema.get("items"), dict):
        items = schema["items"]
        if not ("properties" in items or "additionalProperties" in items or "items" in items):
            return [_copy(item) for item in value]
        return [_clean(item, items, f"{path}[{i}]", unknown) for i, item in enumerate(value)]
    return _copy(value)


def _copy(value: Any) -> Any:
    """A deep copy of decoded JSON; several times faster than `copy.deepcopy`, which keeps a memo."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {key: _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    return copy.deepcopy(value)


def _inline(node: Any, resolver: Any, depth: int = 0) -> Any:
    """A copy of `node` with every `$ref` replaced by its target; sibling keywords win."""
    if depth > _MAX_REF_DEPTH:
        raise ValueError("schema $ref nesting too deep (recursive schema?)")
    if isinstance(node, list):
        return [_inline(item, resolver, depth) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" not in node:
        return {k: _inline(v, resolver, depth) for k, v in node.items()}
    resolved = resolver.lookup(node["$ref"])
    target = _inline(resolved.contents, resolved.resolver, depth + 1)
    merged = {k: v for k, v in target.items() if k not in ("$id", "$schema", "$defs")}
    merged.update({k: _inline(v, resolver, depth) for k, v in node.items() if k != "$ref"})
    return merged


def _registry(directory: Path) -> Registry:
    """Every schema file of the directory, by `$id`, so refs resolve locally (never over the network)."""
    resources = []
    for file in sorted(directory.glob("*.json")):
        contents = json.loads(file.read_text(encoding="utf-8"))
        uri = contents.get("$id") or file.resolve().as_uri()
        resources.append((uri, Resource.from_contents(contents, default_specification=DRAFT202012)))
    return Registry().with_resources(resources)


# --- the compiled schema --------------------------------------------------------------------------

_LOADED: dict[Path, ObjectSchema] = {}


class ObjectSchema:
    """A kind's schema, compiled once and reused across requests (it holds no per-request state)."""

    def __init__(self, raw: dict, registry: Registry) -> None:
        Draft202012Validator.check_schema(raw)
        self._raw = raw
        self._registry = registry
        self._validator = Draft202012Validator(raw, registry=registry)
        base = raw.get("$id", "")
        self._resolved: dict = _inline(raw, registry.resolver(base_uri=base))
        self._fast_check = compile_check(self._resolved)

    @classmethod
    def load(cls, path: Path) -> ObjectSchema:
        """Load and compile `path` (refs resolve against the schema files beside it); cached per path."""
        key = Path(path).resolve()
        schema = _LOADED.get(key)
        if schema is None:
            raw = json.loads(key.read_text(encoding="utf-8"))
            schema = _LOADED[key] = cls(raw, _registry(key.parent))
        return schema

    def derive(self, change: Callable[[dict], None]) -> ObjectSchema:
        """A variant of this schema: `change` edits a copy of the raw document; refs resolve as here."""
        raw = copy.deepcopy(self._raw)
        change(raw)
        return ObjectSchema(raw, self._registry)

    @property
    def document(self) -> dict:
        """The schema with every `$ref` inlined (what OpenAPI generation and the walkers use)."""
        return self._resolved

    @property
    def raw(self) -> dict:
        """The schema exactly as written in its file, `$ref`s included."""
        return self._raw

    # public checks --------------------------------------------------------------------------------

    def validate(self, obj: dict) -> list[Cause]:
        """All structural errors of `obj`, as causes; unknown fields are left to `unknown_fields`."""
        cleaned = _clean(obj, self._resolved, "", [])
        if self._fast_check is not None and self._fast_check(cleaned):
            return []  # valid: the full validator would find nothing (see fast_schema.py)
        causes: list[Cause] = []
        for error in self._validator.iter_errors(cleaned):
            for cause in self._causes(error):
                if cause not in causes:  # apimachinery's ToAggregate also drops repeats
                    causes.append(cause)
        return causes

    def unknown_fields(self, obj: dict) -> list[str]:
        """Paths of fields the schema does not declare, in document order; free-form maps never count."""
        unknown: list[str] = []
        _clean(obj, self._resolved, "", unknown)
        return unknown

    def prune_unknown(self, obj: dict) -> dict:
        """A copy of `obj` without undeclared fields and without null declared fields (what is stored)."""
        return _clean(obj, self._resolved, "", [])

    def field_description(self, dotted_path: str) -> str | None:
        """The `description` of the field at `dotted_path` (`spec.decrypters[0]`), or None."""
        node: dict | None = self._resolved
        for seg in _parse_path(dotted_path):
            node, _ = _child(node, seg)
            if node is None:
                return None
        return node.get("description") if node is not None else None

    # error translation ----------------------------------------------------------------------------

    def _locate(self, segments: list[Segment]) -> tuple[str, bool]:
        """Field path of `segments`, and whether it is (inside) a field marked `x-secret`."""
        node: dict | None = self._resolved
        path, secret = "", False
        for seg in segments:
            node, how = _child(node, seg)
            path = _join(path, seg, how)
            secret = secret or bool(node and node.get("x-secret"))
        return path, secret

    def _causes(self, error: ValidationError) -> list[Cause]:
        keyword = error.validator
        segments = list(error.absolute_path)
        if keyword in ("additionalProperties", "unevaluatedProperties"):
            return []  # reported (or dropped) through unknown_fields, by the fieldValidation mode
        if keyword == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            return [field_error("required", self._locate(segments + [name])[0]) for name in missing]
        path, secret = self._locate(segments)
        show = not secret  # a secret is never echoed, whatever went wrong with it
        value, limit = error.instance, error.validator_value
        if keyword == "maxLength":
            unit = "byte" if limit == 1 else "bytes"
            return [field_error("too_long", path, f"may not be more than {limit} {unit}")]
        if keyword == "maxItems":
            # field.TooMany prints the actual count as the bad value: "Too many: 65: must have at most 64 items"
            return [Cause(path, "FieldValueTooMany", f"Too many: {len(value)}: must have at most {limit} items")]
        if keyword == "type":
            expected = ",".join(limit) if isinstance(limit, list) else limit
            actual = _json_type(value)
            detail = f'{path} in body must be of type {expected}: "{actual}"'
            return [field_error("type_invalid", path, detail, actual, show_value=show)]
        if keyword in ("enum", "const"):
            allowed = limit if keyword == "enum" else [limit]
            quoted = ", ".join(
                json.dumps(v if isinstance(v, str) else json.dumps(v), ensure_ascii=False) for v in allowed
            )
            return [field_error("not_supported", path, f"supported values: {quoted}", _scalar(value), show_value=show)]
        return [field_error("invalid", path, self._detail(keyword, path, limit), _scalar(value), show_value=show)]

    @staticmethod
    def _detail(keyword: str, path: str, limit: Any) -> str:
        """kube-openapi's wording for the remaining keywords (`errors/schema.go`); never the value."""
        templates = {
            "minLength": "{p} in body should be at least {v} chars long",
            "minItems": "{p} in body should have at least {v} items",
            "uniqueItems": "{p} in body shouldn't contain duplicates",
            "pattern": "{p} in body should match '{v}'",
            "minimum": "{p} in body should be greater than or equal to {v}",
            "maximum": "{p} in body should be less than or equal to {v}",
            "exclusiveMinimum": "{p} in body should be greater than {v}",
            "exclusiveMaximum": "{p} in body should be less than {v}",
            "multipleOf": "{p} in body should be a multiple of {v}",
            "minProperties": "{p} in body should have at least {v} properties",
            "maxProperties": "{p} in body should have at most {v} properties",
        }
        template = templates.get(keyword, "{p} in body is invalid")
        return template.format(p=path, v=limit)
