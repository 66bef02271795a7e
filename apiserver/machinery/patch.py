"""PATCH bodies: content-type negotiation, decoding and the three non-apply patch mechanisms.

Mirrors `k8s.io/apiserver/pkg/endpoints/handlers/patch.go`: the media type is cut at the first `;`
(so `; charset=utf-8` is accepted), an unknown type is a 415 listing the accepted ones, a JSON patch
that cannot be applied is a bare 422 `Invalid`, and more than 10 000 operations is a 413. Strategic
merge patches are served as JSON merge patches once their `$` directives are removed: our kinds have
no Go patch-strategy tags, so that is what the typed server would do for them as well.
Everything here is pure: inputs are never mutated and no I/O happens.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

import jsonpatch
import jsonpointer
import yaml

from .documents import check_document, duplicate_fields_message, json_duplicates, load_yaml, yaml_problem
from .errors import Invalid, TooLarge, bad_request, unsupported_media_type

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)

MAX_JSON_PATCH_OPERATIONS = 10000  # handlers/patch.go maxJSONPatchOperations

# apimachinery NewGenericServerResponse(422, ...) drops the server detail and says only this.
_JSON_PATCH_FAILED = "the server rejected our request due to an error in our request"
_GO_MAP = "map[string]interface {}"
_GO_OPS = "[]handlers.jsonPatchOp"


def patch_type(content_type: str | None, accepted: Sequence[str] = PATCH_TYPES) -> str:
    """The patch media type of a `Content-Type` header, or 415 listing `accepted`."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in accepted:
        raise unsupported_media_type(list(accepted))
    return media


def _go_type(value: Any) -> str:
    """The JSON type name Go's decoder uses in `cannot unmarshal X into ...` messages."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    names: dict[type, str] = {dict: "object", list: "array", str: "string"}
    return names.get(type(value), "null")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")  # Go rejects NaN/Infinity


def _load_json(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)


def _string_keys(value: Any) -> Any:
    """YAML allows non-string keys; the YAML-to-JSON conversion upstream stringifies them."""
    if isinstance(value, dict):
        return {
            (k if isinstance(k, str) else json.dumps(k) if isinstance(k, bool) or k is None else str(k)): _string_keys(
                v
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def parse_patch_body(ptype: str, body: bytes) -> Any:
    """Decode a patch body for `ptype`; undecodable or wrongly shaped bodies, or repeated keys, are 400 BadRequest."""
    document, duplicates = parse_patch_with_duplicates(ptype, body)
    if duplicates:
        raise bad_request(duplicate_fields_message(duplicates))
    return document


def parse_patch_with_duplicates(ptype: str, body: bytes) -> tuple[Any, list[str]]:
    """The decoded patch for `ptype` and the paths of keys it repeats (the caller applies fieldValidation)."""
    if ptype == APPLY_PATCH:
        try:
            documents, duplicates = load_yaml(body.decode("utf-8"))
            if len(documents) > 1:
                raise bad_request("error decoding YAML: the patch must hold exactly one YAML document")
            document = _string_keys(check_document(documents[0] if documents else None, len(body)))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise bad_request(f"error decoding YAML: {yaml_problem(exc)}") from None
        except RecursionError:
            raise bad_request("error decoding YAML: the document is nested too deeply") from None
        if not isinstance(document, dict):
            raise bad_request(
                "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
                f"unmarshal {_go_type(document)} into Go value of type {_GO_MAP}"
            )
        return document, duplicates
    try:
        document = check_document(_load_json(body), len(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request(f"error decoding patch: {exc}") from None
    except RecursionError:
        raise bad_request("error decoding patch: the document is nested too deeply") from None
    if ptype == JSON_PATCH:
        _check_json_patch_shape(document)
    elif document is None and ptype == MERGE_PATCH:
        raise bad_request("Invalid JSON Patch")  # evanphx/json-patch ErrBadJSONPatch
    elif not isinstance(document, dict):
        message = f"json: cannot unmarshal {_go_type(document)} into Go value of type {_GO_MAP}"
        raise bad_request(message if ptype == STRATEGIC_MERGE_PATCH else f"error decoding patch: {message}")
    return document, json_duplicates(body, document)


def _check_json_patch_shape(document: Any) -> None:
    """The strict decode into `[]jsonPatchOp` upstream: a list of objects with string op/path/from."""
    if not isinstance(document, list):
        raise bad_request(
            f"error decoding patch: json: cannot unmarshal {_go_type(document)} into Go value of type {_GO_OPS}"
        )
    for op in document:
        if not isinstance(op, dict):
            raise bad_request(
                f"error decoding patch: json: cannot unmarshal {_go_type(op)} "
                "into Go value of type handlers.jsonPatchOp"
            )
        for key in ("op", "path", "from"):
            if key in op and op[key] is not None and not isinstance(op[key], str):
                raise bad_request(
                    f"error decoding patch: json: cannot unmarshal {_go_type(op[key])} "
                    f"into Go struct field jsonPatchOp.{key} of type string"
                )


def _merge_into(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            if not isinstance(current, dict):
                current = target[key] = {}
            _merge_into(current, value)
        else:
            target[key] = copy.deepcopy(value)


def apply_merge_patch(target: dict[str, Any], patch: Any) -> Any:
    """RFC 7386: null deletes, objects merge recursively, everything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    _merge_into(result, patch)
    return result


def _is_directive(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("$")


def strip_strategic_directives(patch: Any) -> Any:
    """Turn a strategic merge patch into a merge patch by dropping its `$` directives.

    A nested map carrying `$patch: delete` becomes `null` (delete it), as SMP means; list items that
    are only directives, or ask to be deleted, are dropped. `$patch: replace`, `$retainKeys`,
    `$setElementOrder/...` and `$deleteFromPrimitiveList/...` are simply removed: with atomic lists
    and no patch-merge keys, merge-patch semantics are what remain.
    """
    return _strip(patch, top=True)


def _strip(value: Any, top: bool = False) -> Any:
    if isinstance(value, dict):
        if not top and value.get("$patch") == "delete":
            return None
        return {k: _strip(v) for k, v in value.items() if not _is_directive(k)}
    if isinstance(value, list):
        kept = []
        for item in value:
            if isinstance(item, dict) and any(_is_directive(k) for k in item):
                if item.get("$patch") == "delete" or all(_is_directive(k) for k in item):
                    continue
            kept.append(_strip(item))
        return kept
    return value


def apply_json_patch(target: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """RFC 6902 via `jsonpatch`; failures are 422 worded as upstream (which hides the detail)."""
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise TooLarge(
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    try:
        result = jsonpatch.JsonPatch(ops).apply(target, in_place=False)
    except (
        jsonpatch.JsonPatchException,
        jsonpointer.JsonPointerException,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
    ):
        raise Invalid(_JSON_PATCH_FAILED) from None
    if not isinstance(result, dict):  # e.g. `replace ""` with a list: cannot be an object any more
        raise Invalid(_JSON_PATCH_FAILED)
    return result
