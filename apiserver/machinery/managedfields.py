"""managedFields and server-side apply: a compact structured-merge-diff for schemaless JSON objects.

Follows `sigs.k8s.io/structured-merge-diff/v4` (`merge/update.go`, `typed/compare.go`,
`typed/tofieldset.go`) and the apimachinery field-manager chain (`stripmeta.go`,
`managedfieldsupdater.go`, `skipnonapplied.go`, `lastappliedmanager.go`, `lastappliedupdater.go`,
`conflict.go`). Simplifications: every list is atomic (owned whole), every map is granular and
every map key is treated as a named field. A field set holds paths, never values, so it cannot
leak a secret; callers strip write-only fields such as `spec.value` before calling in.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, Cause, Conflict, bad_request

Path = tuple[str, ...]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
_ANNOTATIONS_LIMIT = 256 * 1024  # TotalAnnotationSizeLimitB
# stripmeta.go: exact paths removed from every manager's set.
_STRIPPED = {("apiVersion",), ("kind",), ("metadata",)} | {
    ("metadata", f)
    for f in (
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "selfLink",
        "clusterName",
        "managedFields",
    )
}
_MISSING: Any = object()


@dataclass
class ApplyResult:
    obj: dict
    managed_fields: list[dict]


@dataclass
class _Owner:  # one managedFields entry, decoded
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: set[Path]


Key = tuple[str, str, str, str]  # BuildManagerIdentifier: Apply entries ignore apiVersion
Conflicts = list[tuple[Key, Path]]


def _key(manager: str, operation: str, api_version: str, subresource: str = "") -> Key:
    return manager, operation, "" if operation == "Apply" else api_version, subresource


def _ignored(path: Path, subresource: str = "") -> bool:
    """Stripped metadata, plus the reset fields: `status` for the main resource, all else for status."""
    if subresource == "status":
        return path in _STRIPPED or path[:1] != ("status",)
    return path in _STRIPPED or path[:1] == ("status",)


# ---- field sets ----------------------------------------------------------------------------


def field_set(obj: dict, _prefix: Path = ()) -> set[Path]:
    """ToFieldSet: leaf paths of `obj`, minus stripped metadata and status.

    Scalars, (atomic) lists, nulls and empty maps are leaves; non-empty maps are recursed.
    """
    out: set[Path] = set()
    for key, child in obj.items():
        path = _prefix + (key,)
        out |= field_set(child, path) if isinstance(child, dict) and child else {path}
    return {p for p in out if not _ignored(p)}


def encode_fields_v1(paths: Iterable[Path]) -> dict:
    """The `fieldsV1` trie, keys sorted; a path that is both a member and a parent gets a `.` entry.

    Built in one pass over the paths (a trie of their names), so its cost grows with the set's size.
    """
    members = set(paths)
    trie: dict = {}
    for path in members:
        node = trie
        for name in path:
            node = node.setdefault(name, {})

    def render(prefix: Path, children: dict) -> dict:
        out: dict = {".": {}} if children and prefix in members else {}
        for name in sorted(children):
            out["f:" + name] = render(prefix + (name,), children[name])
        return out

    return render((), trie)


def decode_fields_v1(fields: dict, _prefix: Path = ()) -> set[Path]:
    """Inverse of `encode_fields_v1`; `k:`/`v:`/`i:` elements (keyed lists) do not occur for our kinds."""
    if not isinstance(fields, dict):
        raise ValueError("fieldsV1 must be an object")
    out = {_prefix} if _prefix and (not fields or "." in fields) else set()
    for key, child in fields.items():
        if key.startswith("f:"):
            out |= decode_fields_v1(child, _prefix + (key[2:],))
    return out


def _iter_paths(paths: set[Path]) -> list[Path]:
    """fieldpath.Set.Iterate order: at each level members first, then children, each by name."""
    return sorted(paths, key=lambda p: [(i < len(p) - 1, name) for i, name in enumerate(p)])


def _path_string(path: Path) -> str:
    return "".join("." + name for name in path)


# ---- comparison, merge and removal --------------------------------------------------------


def _equal(a: Any, b: Any) -> bool:
    """value.Equals: numbers compare by value, but booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=False))
    return a == b


def _compare(lhs: Any, rhs: Any, path: Path, out: tuple[set, set, set]) -> None:
    """typed.Compare into (added, modified, removed); an added/removed map lists itself too."""
    added, modified, removed = out
    left, right = ({} if v is _MISSING else v for v in (lhs, rhs))
    # Both sides maps (or absent) and not both empty: granular; otherwise a leaf (emptyPromoteToLeaf).
    granular = isinstance(left, dict) and isinstance(right, dict) and bool(left or right)
    if granular:
        for key in list(left) + [k for k in right if k not in left]:
            _compare(left.get(key, _MISSING), right.get(key, _MISSING), path + (key,), out)
    if lhs is _MISSING:
        added.add(path)
    elif rhs is _MISSING:
        removed.add(path)
    elif not granular and not _equal(lhs, rhs):
        modified.add(path)


def _diff(old: dict, new: dict, subresource: str = "") -> tuple[set[Path], set[Path], set[Path]]:
    out: tuple[set, set, set] = (set(), set(), set())
    _compare(old, new, (), out)
    return tuple({p for p in s if p and not _ignored(p, subresource)} for s in out)  # type: ignore[return-value]


def _merge(live: dict, config: dict) -> dict:
    """Merge an apply configuration into `live`: maps recurse, the rest replaces, null deletes."""
    out = dict(live)
    for key, value in config.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = _merge({}, value) if isinstance(value, dict) else copy.deepcopy(value)
    return out


def _remove_items(obj: dict, paths: set[Path], prefix: Path = ()) -> dict:
    """RemoveItems: drop each listed path with its whole subtree."""
    out = {}
    for key, value in obj.items():
        path = prefix + (key,)
        if path not in paths:
            nested = isinstance(value, dict) and any(p[: len(path)] == path for p in paths)
            out[key] = _remove_items(value, paths, path) if nested else value
    return out


def _with_parents(paths: set[Path]) -> set[Path]:
    """EnsureNamedFieldsAreMembers, treating every map key as a named field."""
    return paths | {p[:i] for p in paths for i in range(1, len(p))}


# ---- managedFields entries ------------------------------------------------------------------


def _decode(entries: Any) -> dict[Key, _Owner]:
    """Owners from `managedFields`; anything malformed yields none (the caller falls back)."""
    owners: dict[Key, _Owner] = {}
    try:
        for e in entries or []:
            if e.get("operation") not in ("Apply", "Update") or e.get("fieldsType", "FieldsV1") != "FieldsV1":
                return {}
            owner = _Owner(
                str(e.get("manager", "")),
                e["operation"],
                str(e.get("apiVersion", "")),
                str(e.get("subresource", "")),
                e.get("time"),
                decode_fields_v1(e.get("fieldsV1") or {}),
            )
            key = _key(owner.manager, owner.operation, owner.api_version, owner.subresource)
            if key in owners:  # duplicates cannot be told apart: keep their union
                owner.fields |= owners[key].fields
            owners[key] = owner
    except (AttributeError, TypeError, ValueError):
        return {}
    return owners


def _encode(owners: dict[Key, _Owner]) -> list[dict]:
    entries = [
        {
            "manager": o.manager,
            "operation": o.operation,
            "apiVersion": o.api_version,
            **({"time": o.time} if o.time else {}),
            "fieldsType": "FieldsV1",
            "fieldsV1": encode_fields_v1(o.fields),
            **({"subresource": o.subresource} if o.subresource else {}),
        }
        for o in owners.values()
        if o.fields
    ]
    # sortEncodedManagedFields: operation, time, manager, apiVersion, subresource
    return sorted(
        entries,
        key=lambda e: (e["operation"], e.get("time") or "", e["manager"], e["apiVersion"], e.get("subresource", "")),
    )


def _live_entries(obj: dict | None) -> Any:
    return ((obj or {}).get("metadata") or {}).get("managedFields")


def _body(obj: dict | None) -> dict:
    """The object without its managedFields (they are bookkeeping, not content)."""
    meta = (obj or {}).get("metadata")
    return {
        **(obj or {}),
        **({"metadata": {k: v for k, v in meta.items() if k != "managedFields"}} if isinstance(meta, dict) else {}),
    }


def _update(
    owners: dict[Key, _Owner], old: dict, new: dict, manager: str, api_version: str, now: str, subresource: str = ""
) -> None:
    """merge.Updater.Update via managedFieldsUpdater: changed fields move to (manager, Update)."""
    added, modified, removed = _diff(old, new, subresource)
    changed = added | modified
    for owner in owners.values():
        owner.fields -= changed | removed
    key = _key(manager, "Update", api_version, subresource)
    if changed:
        owner = owners.setdefault(key, _Owner(manager, "Update", api_version, subresource, None, set()))
        owner.fields |= changed
        owner.time = now
    for k in [k for k, o in owners.items() if not o.fields]:
        del owners[k]


def record_update(
    old: dict | None, new: dict, manager: str, *, api_version: str, now: str, subresource: str = ""
) -> list[dict]:
    """managedFields after a create/update/non-apply patch by `manager` (an Update entry).

    A write through the `status` subresource owns the status fields it changed (an entry with
    `subresource: status`), as upstream's status endpoints record.

    As upstream, a request may set managedFields itself: `[]` or `[{}]` resets them, a valid
    non-empty list replaces them; otherwise (absent or invalid) the live object's entries are kept.
    """
    requested = _live_entries(new)
    reset = requested == [] or requested == [{}]
    owners = {} if reset else _decode(requested) or _decode(_live_entries(old))
    _update(owners, _body(old), _body(new), manager, api_version, now, subresource)
    return _encode(owners)


# ---- server-side apply ------------------------------------------------------------------------


def _print_manager(key: Key) -> str:
    manager, operation, api_version, subresource = key
    text = json.dumps(manager, ensure_ascii=False)
    if subresource:
        text += f" with subresource {json.dumps(subresource, ensure_ascii=False)}"
    return f"{text} using {api_version}" if operation == "Update" else text


def _identifier(key: Key) -> str:
    """The JSON manager identifier upstream sorts managers by (empty fields omitted)."""
    names = ("manager", "operation", "apiVersion", "subresource")
    return json.dumps({n: v for n, v in zip(names, key, strict=False) if v}, separators=(",", ":"))


def _conflict_error(items: Conflicts) -> ApiError:
    causes = [
        Cause(field=_path_string(p), reason="FieldManagerConflict", message=f"conflict with {_print_manager(k)}")
        for k, p in items
    ]
    if len(items) == 1:
        key, path = items[0]
        message = f"Apply failed with 1 conflict: conflict with {_print_manager(key)}: {_path_string(path)}"
    else:
        lines = []
        for key in dict.fromkeys(k for k, _ in items):
            lines.append(f"conflicts with {_print_manager(key)}:")
            lines += [f"- {_path_string(p)}" for k, p in items if k == key]
        message = f"Apply failed with {len(items)} conflicts: " + "\n".join(lines)
    return Conflict(message, causes=causes)


def _apply_as_manager(
    owners: dict[Key, _Owner], live: dict, config: dict, key: Key, api_version: str, force: bool
) -> tuple[dict, Conflicts]:
    """merge.Updater.Apply: merge, prune what this manager dropped, then settle ownership.

    Returns the new object, or the conflicts (owners then left half-done: discard them) unless `force`.
    """
    merged = _merge(live, config)
    previous = owners.get(key)
    new_set = field_set(config)
    owners[key] = _Owner(key[0], "Apply", api_version, key[3], previous.time if previous else None, new_set)
    if previous and previous.fields:
        owned = _with_parents(set().union(*(o.fields for o in owners.values())))
        merged = _remove_items(merged, _with_parents(previous.fields) - owned - _STRIPPED)
    added, modified, removed = _diff(live, merged)
    conflicts = {k: o.fields & (added | modified) for k, o in owners.items() if k != key}
    conflicts = {k: s for k, s in conflicts.items() if s}
    if conflicts and not force:
        return merged, [(k, p) for k in sorted(conflicts, key=_identifier) for p in _iter_paths(conflicts[k])]
    for k, owner in owners.items():
        if k != key:
            owner.fields -= conflicts.get(k, set()) | removed
    for k in [k for k, o in owners.items() if not o.fields]:
        del owners[k]
    return merged, []


def _allowed_by_last_applied(live: dict, api_version: str) -> set[Path] | None:
    """lastAppliedManager: fields whose client-side last-applied value still matches the live one."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    try:
        last = json.loads(annotations.get(LAST_APPLIED) or "null")
    except (TypeError, ValueError):
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    added, modified, removed = _diff(last, live)
    return field_set(last) - added - modified - removed


def _update_last_applied(obj: dict, config: dict) -> None:
    """lastAppliedUpdater: `kubectl` applies keep an existing client-side annotation current."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict) or not annotations.get(LAST_APPLIED):
        return
    meta = {k: v for k, v in (config.get("metadata") or {}).items() if k != "annotations"}
    if rest := {
        k: v for k, v in ((config.get("metadata") or {}).get("annotations") or {}).items() if k != LAST_APPLIED
    }:
        meta["annotations"] = rest
    # runtime.Encode(UnstructuredJSONScheme): compact, sorted keys, UTF-8, trailing newline
    value = json.dumps({**config, "metadata": meta}, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"
    annotations = {**annotations, LAST_APPLIED: value}
    if sum(len(k) + len(v) for k, v in annotations.items() if isinstance(v, str)) > _ANNOTATIONS_LIMIT:
        del annotations[LAST_APPLIED]  # too big to keep, as upstream
    obj["metadata"]["annotations"] = annotations


def server_side_apply(
    live: dict | None, applied: dict, manager: str, *, force: bool, api_version: str, now: str
) -> ApplyResult:
    """Apply `applied` (the manager's full intent) to `live` (None when creating).

    Conflicts (another manager owns a field this apply would change) are a 409 unless `force`;
    fields this manager applied before and omits now are removed unless someone else owns them.
    `status` in the configuration is ignored, as for a main resource with a status subresource.
    """
    patch_version = applied.get("apiVersion") or ""
    if patch_version != api_version:
        raise bad_request(
            f"Incorrect version specified in apply patch. Specified patch version: "
            f"{patch_version}, expected: {api_version}"
        )
    if (applied.get("metadata") or {}).get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    config = {k: v for k, v in applied.items() if k != "status"}
    live_body = copy.deepcopy(_body(live))  # the result shares subtrees with it; keep `live` untouched
    owners = _decode(_live_entries(live))
    if live and not owners:  # skipNonApplied: existing fields belong to an Update manager first
        _update(owners, {}, live_body, BEFORE_FIRST_APPLY, api_version, now)
    key = _key(manager, "Apply", api_version)
    trial = copy.deepcopy(owners)
    merged, conflicts = _apply_as_manager(trial, live_body, config, key, api_version, force)
    if conflicts:
        allowed = _allowed_by_last_applied(live_body, api_version) if manager == "kubectl" else None
        remaining = [(k, p) for k, p in conflicts if allowed is None or p not in allowed]
        if remaining:
            raise _conflict_error(remaining)
        trial = copy.deepcopy(owners)  # every conflict is a client-side-apply leftover: take them over
        merged, _ = _apply_as_manager(trial, live_body, config, key, api_version, True)
    owner = trial.get(key)
    if owner and (not _equal(merged, live_body) or owner.time is None):
        owner.time = now  # upstream stamps an applier only when the object changed
    if manager == "kubectl":
        _update_last_applied(merged, config)
    managed = _encode(trial)
    merged.setdefault("metadata", {})
    if managed:
        merged["metadata"]["managedFields"] = managed
    return ApplyResult(obj=merged, managed_fields=managed)
