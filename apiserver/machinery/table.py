"""Server-side printing: `meta.k8s.io/v1 Table` for `kubectl get`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from ..ops.time_slice import TimeSlice
from .strategy import Strategy

TABLE_MEDIA = "application/json;as=Table;v=v1;g=meta.k8s.io"
ROWS_PER_LOOK = 64  # rows made between two looks at the time slice


def wants_table(accept: str) -> bool:
    """kubectl asks `application/json;as=Table;v=v1;g=meta.k8s.io,application/json`: the first it can use wins."""
    for choice in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in choice.split(";")[1:] if "=" in p}
        if params.get("as") == "Table" and params.get("g", "meta.k8s.io") == "meta.k8s.io":
            return True
        if choice.split(";")[0].strip() in ("application/json", "*/*", "application/*"):
            return False
    return False


def age(timestamp: str | None, now: dt.datetime | None = None) -> str:
    """kubectl's HumanDuration: 45s, 3m, 5h, 2d, 1y…"""
    if not timestamp:
        return "<unknown>"
    created = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = int(((now or dt.datetime.now(dt.UTC)) - created).total_seconds())
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def to_table(
    strategy: Strategy, objects: list[dict[str, Any]], list_meta: dict[str, Any], include_object: str = "Metadata"
) -> dict[str, Any]:
    return _table(strategy, list_meta, [_row(strategy, obj, include_object) for obj in objects])


async def to_table_in_slices(
    strategy: Strategy, items: list[Any], list_meta: dict[str, Any], include_object: str = "Metadata"
) -> dict[str, Any]:
    """`to_table` for a long list (`kubectl get` of a namespace of 10 000 values), in slices of loop
    time. `items` are objects or their stored JSON as orjson Fragments (`Store.list_page(encoded=True)`);
    each row is encoded as soon as it is made: 10 000 decoded objects kept alive at once made the
    cyclic garbage collector rescan them all, pauses of 10-30 ms."""
    pace = TimeSlice()
    rows: list[Any] = []
    for item in items:
        obj = item if isinstance(item, dict) else orjson.loads(orjson.dumps(item))  # a Fragment: its bytes
        rows.append(orjson.Fragment(orjson.dumps(_row(strategy, obj, include_object))))
        if len(rows) % ROWS_PER_LOOK == 0:
            await pace.share()
    return _table(strategy, list_meta, rows)


def _row(strategy: Strategy, obj: dict[str, Any], include_object: str) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": strategy.table_cells(obj)}
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        # Metadata lets kubectl show namespaces (-A), labels (--show-labels) and -L columns.
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        }
    return row


def _table(strategy: Strategy, list_meta: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    columns = [
        {"name": c.name, "type": c.type, "format": c.format, "description": c.description, "priority": c.priority}
        for c in strategy.table_columns
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    }


def table_event(
    strategy: Strategy, event: dict[str, Any], include_object: str, *, with_columns: bool
) -> dict[str, Any]:
    """A watch event for a Table watcher (`kubectl get -w`): its object as a one-row Table.

    As upstream, only the first event carries the column definitions (kubectl keeps them), a
    BOOKMARK becomes a Table without rows, and an ERROR stays a Status.
    """
    if event["type"] == "ERROR":
        return event
    obj = event["object"]
    list_meta = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
    if event["type"] == "BOOKMARK":
        table = {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_meta,
            "columnDefinitions": [],
            "rows": [],
        }
    else:
        table = to_table(strategy, [obj], list_meta, include_object)
        if not with_columns:
            table["columnDefinitions"] = []
    return {"type": event["type"], "object": table}
