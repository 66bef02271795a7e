"""The rules every write obeys before a registry prepares it: field validation and payload handling.

Pure functions over a kind's strategy, so the registry stays about the order of the verbs and
nothing above the machinery needs to know these rules exist.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from . import meta as objmeta
from .context import RequestContext
from .errors import bad_request, invalid
from .managedfields import LAST_APPLIED
from .strategy import Payload, ResourceType, Strategy


def handle_unknown_fields(strategy: Strategy, ctx: RequestContext, obj: dict[str, Any]) -> None:
    """fieldValidation: Strict refuses unknown fields, Warn reports them, Ignore drops them silently."""
    unknown = strategy.schema.unknown_fields(obj)
    if not unknown:
        return
    if ctx.field_validation == "Strict":
        detail = ", ".join(f'unknown field "{path}"' for path in unknown)
        raise bad_request(f"strict decoding error: {detail}")
    if ctx.field_validation != "Ignore":
        ctx.warnings.extend(f'unknown field "{path}"' for path in unknown)
    pruned = strategy.schema.prune_unknown(obj)
    obj.clear()
    obj.update(pruned)


def validate(strategy: Strategy, rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """The schema, the object meta rules and the kind's own rules; one 422 with every cause."""
    causes = strategy.schema.validate(obj)
    # The schema and the metadata rules both type-check labels and annotations: report each problem once.
    reported = {(c.field, c.reason) for c in causes}
    causes += [c for c in objmeta.validate_object_meta(obj) if (c.field, c.reason) not in reported]
    causes += strategy.validate(obj, old)
    if causes:
        meta = obj["metadata"]
        raise invalid(rtype.kind, meta.get("name") or meta.get("generateName") or "", causes, rtype.group)


def strip_payload_from_last_applied(payload: Payload | None, obj: dict[str, Any]) -> None:
    """kubectl's client-side apply copies the whole manifest into an annotation; keep no payload there."""
    annotations = obj["metadata"].get("annotations")
    if payload is None or not isinstance(annotations, dict) or LAST_APPLIED not in annotations:
        return
    try:
        applied = json.loads(annotations[LAST_APPLIED])
    except (TypeError, ValueError):
        return  # not JSON: kubectl did not write it, nothing of ours to strip
    if isinstance(applied, dict) and payload.take(applied) is not None:
        annotations[LAST_APPLIED] = json.dumps(applied, separators=(",", ":"), sort_keys=True)


def split_apply_payload(payload: Payload | None, document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An apply configuration without its write-only payload, and the payload as a merge patch.

    A payload is kept out of field ownership (fieldsV1 of a value nobody can read back would make
    every second applier conflict) and put back, exactly as sent, into what the apply produced.
    """
    config = copy.deepcopy(document)
    if payload is not None:
        payload.take(config)
    return config, removed_fields(document, config)


def removed_fields(original: Any, stripped: Any) -> dict[str, Any]:
    """The parts of `original` that `stripped` lacks, as a merge patch that puts them back."""
    if not isinstance(original, dict) or not isinstance(stripped, dict):
        return {}
    removed: dict[str, Any] = {}
    for key, value in original.items():
        if key not in stripped:
            removed[key] = value
        elif isinstance(value, dict) and (inner := removed_fields(value, stripped[key])):
            removed[key] = inner
    return removed
