"""Output formats of `get`: an aligned table like kubectl's (from the server's Table), YAML, JSON, names."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from ..machinery.strategy import ResourceType
from . import kinds

FORMATS = ("table", "wide", "yaml", "json", "name")
_GAP = "   "  # kubectl's tabwriter padding between columns


def table(body: dict[str, Any], *, all_namespaces: bool = False, wide: bool = False) -> str:
    """Render a `meta.k8s.io/v1 Table`: upper-case headers, left-aligned columns, three spaces apart."""
    columns = [(i, c) for i, c in enumerate(body.get("columnDefinitions") or []) if wide or not c.get("priority")]
    headers = [c["name"].upper() for _, c in columns]
    rows = [
        [_cell(row["cells"][i] if i < len(row.get("cells") or []) else None) for i, _ in columns]
        for row in body.get("rows") or []
    ]
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
        for row, source in zip(rows, body.get("rows") or [], strict=False):
            row.insert(0, ((source.get("object") or {}).get("metadata") or {}).get("namespace", ""))
    return aligned([headers, *rows])


def aligned(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))] if lines else []
    out = []
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        out.append(_GAP.join(cells).rstrip())
    return "\n".join(out) + "\n"


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "<none>" if value is None else ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def without_managed_fields(obj: Any) -> Any:
    """kubectl hides managedFields unless asked (`--show-managed-fields`)."""
    if isinstance(obj, dict):
        obj = dict(obj)
        if isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
        if isinstance(obj.get("items"), list):
            obj["items"] = [without_managed_fields(item) for item in obj["items"]]
    return obj


def to_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True)


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=4, ensure_ascii=False) + "\n"


def names(rtype: ResourceType, objects: Iterable[dict[str, Any]]) -> str:
    return "".join(kinds.ref(rtype, obj["metadata"]["name"]) + "\n" for obj in objects)
