"""The generic registry: create, read, update and delete for any kind, driven by its strategy.

Modelled on `k8s.io/apiserver/pkg/registry/generic/registry.Store`: one implementation of the
verbs, with the kind's rules in its strategy. Writes are prepared and validated outside the
store's transaction (slow work such as encryption included), then committed with the revision
they were based on as a precondition; when another writer got there first, an unconditional
update is recomputed on the new state (GuaranteedUpdate), a conditional one is a 409.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..store.errors import IndexKeyTaken, ObjectExists, RevisionMismatch
from ..store.model import StoredObject
from ..store.store import Store
from ..store.txn import Txn
from . import meta as objmeta
from .audit import Auditor, NullAuditor
from .context import Authorizer, RequestContext
from .errors import (
    AlreadyExists,
    ApiError,
    KeyTaken,
    already_exists,
    bad_request,
    conflict,
    conflict_message,
    invalid,
    not_found,
)
from .managedfields import record_update
from .names import generate_name
from .strategy import Sealed, Strategy

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
NAMESPACES = "namespaces"
_RETRIES = 8
_UPDATE_DEADLINE_SECONDS = 30.0


class Registry:
    def __init__(
        self, strategy: Strategy, store: Store, authorizer: Authorizer, auditor: Auditor | None = None
    ) -> None:
        self.strategy = strategy
        self.type = strategy.type
        self.store = store
        self.authorizer = authorizer
        self.auditor = auditor or NullAuditor()

    # -- reads ----------------------------------------------------------------------------

    def get(self, ctx: RequestContext, namespace: str, name: str) -> dict[str, Any]:
        return self.get_stored(ctx, namespace, name).body

    def get_stored(self, ctx: RequestContext, namespace: str, name: str) -> StoredObject:
        """The stored object itself: its `raw` JSON can be sent as it is, with no decode and re-encode."""
        self.authorizer.authorize(ctx.principal, "get", self.type, namespace, name)
        return self._current(namespace, name)

    def _current(self, namespace: str, name: str):
        stored = self.store.get(self.type.resource, namespace, name)
        if stored is None:
            raise not_found(self.type.resource, name, self.type.group)
        return stored

    # -- create ---------------------------------------------------------------------------

    async def create(
        self, ctx: RequestContext, namespace: str, obj: Any, managed_fields: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        prepared = await self.prepare_create(ctx, namespace, obj, managed_fields)
        for attempt in range(_RETRIES):
            try:
                return (await self.commit(ctx, [prepared]))[0]
            except AlreadyExists:
                # A generated name collided with one created meanwhile: draw another and re-seal.
                if not prepared.generate_prefix or attempt == _RETRIES - 1:
                    raise
                prepared.obj["metadata"]["name"] = generate_name(prepared.generate_prefix)
                await self._seal(ctx, prepared)
        raise AssertionError("unreachable")

    async def prepare_create(
        self, ctx: RequestContext, namespace: str, obj: Any, managed_fields: list[dict[str, Any]] | None = None
    ) -> Prepared:
        """Validate a new object and seal its payload; nothing is stored until `commit`."""
        rtype, strategy = self.type, self.strategy
        objmeta.check_type_meta(obj, rtype)
        objmeta.check_namespace(obj, namespace)
        self.authorize_write(ctx, "create", namespace, obj["metadata"].get("name") or "")
        self._handle_unknown_fields(ctx, obj)
        meta = obj["metadata"]
        objmeta.reset_server_fields(meta)
        strategy.prepare_for_create(obj)
        self._strip_payload_from_last_applied(obj)
        prefix = None
        if not meta.get("name"):
            prefix = meta.get("generateName") or strategy.generate_name_prefix or None
            if prefix:
                meta["name"] = generate_name(prefix)
        self._validate(obj, None)
        payload = strategy.payload.take(obj) if strategy.payload else None
        meta.update(uid=objmeta.new_uid(), creationTimestamp=objmeta.now_rfc3339(), generation=1)
        if managed_fields is not None:
            meta["managedFields"] = managed_fields
        else:
            self._record_manager(ctx, None, obj)
        strategy.new_version(obj, None)
        prepared = Prepared(self, namespace, obj, None, payload, generate_prefix=prefix)
        await self._seal(ctx, prepared)
        return prepared

    async def _seal(self, ctx: RequestContext, prepared: Prepared) -> None:
        # A dry run stops before storage, as Kubernetes' does before its storage transformers:
        # sealing could create the namespace's first data key, a write a dry run must not make.
        if self.strategy.payload is not None and not ctx.dry_run:
            prepared.sealed = await self.strategy.payload.seal(prepared.obj, prepared.old_body, prepared.payload)

    # -- update ---------------------------------------------------------------------------

    async def update(self, ctx: RequestContext, namespace: str, name: str, obj: Any) -> dict[str, Any]:
        """PUT: replace the object. A resourceVersion in the body is a precondition."""
        objmeta.check_type_meta(obj, self.type)
        objmeta.check_namespace(obj, namespace)
        objmeta.check_name_matches(obj, name)
        self.authorize_write(ctx, "update", namespace, name)
        self._handle_unknown_fields(ctx, obj)
        precondition = obj["metadata"].get("resourceVersion") or None
        return await self.guaranteed_update(ctx, namespace, name, lambda _old: copy.deepcopy(obj), precondition)

    async def guaranteed_update(
        self,
        ctx: RequestContext,
        namespace: str,
        name: str,
        transform: Callable[[dict[str, Any]], dict[str, Any]],
        precondition: str | None,
        *,
        managed: Callable[[dict, dict], list] | None = None,
    ) -> dict[str, Any]:
        """Apply `transform(current)` and store the result, retrying on concurrent writes.

        `managed(old, new)` computes managedFields (server-side apply passes its own).
        """
        # Each lost race means another writer's commit landed, so retrying always makes progress (as
        # upstream's GuaranteedUpdate, which loops until it wins); the deadline only guards against bugs.
        deadline = time.monotonic() + _UPDATE_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            prepared = await self.prepare_update(ctx, namespace, name, transform, precondition, managed=managed)
            if prepared.unchanged:
                return prepared.obj
            try:
                return (await self.commit(ctx, [prepared]))[0]
            except _Retry:
                continue  # someone else wrote first: recompute on their result
        rtype = self.type
        raise conflict(rtype.resource, name, rtype.group, "too many concurrent writers; please try again")

    async def prepare_update(
        self,
        ctx: RequestContext,
        namespace: str,
        name: str,
        transform: Callable[[dict[str, Any]], dict[str, Any]],
        precondition: str | None,
        *,
        managed: Callable[[dict, dict], list] | None = None,
    ) -> Prepared:
        """Compute, validate and seal the new state of an existing object; `unchanged` when a no-op."""
        rtype, strategy = self.type, self.strategy
        stored = self._current(namespace, name)
        if precondition is not None and precondition != str(stored.revision):
            self._audit(ctx, "update", namespace, name, "denied", "conflict")
            raise conflict(rtype.resource, name, rtype.group)
        old = stored.body
        new = transform(copy.deepcopy(old))
        objmeta.check_type_meta(new, rtype)
        objmeta.check_namespace(new, namespace)
        objmeta.check_name_matches(new, name)
        meta, old_meta = new["metadata"], old["metadata"]
        objmeta.reset_server_fields(meta)
        for key in ("uid", "creationTimestamp", "generation"):
            meta[key] = old_meta[key]
        strategy.prepare_for_update(new, old)
        self._strip_payload_from_last_applied(new)
        self._validate(new, old)
        payload = strategy.payload.take(new) if strategy.payload else None
        payload_unchanged = await strategy.payload.unchanged(old, payload) if strategy.payload else True
        if managed is not None:
            meta["managedFields"] = managed(old, new)
        else:
            self._record_manager(ctx, old, new)
        if payload_unchanged and objmeta.same_object(new, old):
            return Prepared(self, namespace, old, stored.revision, None, unchanged=True)
        if not payload_unchanged or new.get("spec") != old.get("spec"):
            meta["generation"] = old_meta["generation"] + 1
        strategy.new_version(new, old)
        prepared = Prepared(self, namespace, new, stored.revision, payload, old_body=old, precondition=precondition)
        await self._seal(ctx, prepared)
        return prepared

    # -- commit ---------------------------------------------------------------------------

    async def commit(self, ctx: RequestContext, prepared: list[Prepared]) -> list[dict[str, Any]]:
        """Store prepared writes (of this or other registries) in one transaction: all or nothing."""
        changes = [p for p in prepared if not p.unchanged]
        if ctx.dry_run or not changes:
            return [p.dry_run_result() if not p.unchanged else p.obj for p in prepared]

        def transaction(txn: Txn) -> list[Any]:
            return [p.registry._write_in(txn, p) for p in changes]

        self.auditor.check_available()  # a write that cannot be audited is refused before it happens
        try:
            writes = iter(await self.store.commit(transaction))
        except (ObjectExists, RevisionMismatch, IndexKeyTaken) as exc:
            failed = next((p for p in changes if p.concerns(exc)), changes[0])
            raise failed.registry._store_error(ctx, failed, exc) from None
        except ApiError as exc:
            for p in changes:
                p.registry._audit(ctx, p.operation, p.namespace, p.name, "denied", exc.reason)
            raise
        results = []
        for p in prepared:
            if p.unchanged:
                results.append(p.obj)
                continue
            p.registry._audit(ctx, p.operation, p.namespace, p.name, "success")
            results.append(next(writes).body)
        return results

    def _write_in(self, txn: Txn, p: Prepared) -> Any:
        if p.deleting:
            return self._delete_in(txn, p.namespace, p.name, p.old_revision)
        self.strategy.check_in_transaction(txn, p.obj, p.old_body)
        if p.old_revision is None:
            self._require_namespace(txn, p.namespace)
            write = txn.create(self.type.resource, p.namespace, p.name, p.obj, self.strategy.index_key(p.obj))
        else:
            write = txn.update(
                self.type.resource,
                p.namespace,
                p.name,
                p.obj,
                expected_revision=p.old_revision,
                index_key=self.strategy.index_key(p.obj),
            )
        if p.sealed is not None:
            p.sealed(txn)
        return write

    def _store_error(self, ctx: RequestContext, p: Prepared, exc: Exception) -> Exception:
        rtype = self.type
        if isinstance(exc, IndexKeyTaken):
            return self._index_conflict(p.name, exc)
        if isinstance(exc, ObjectExists):
            self._audit(ctx, "create", p.namespace, p.name, "denied", "already exists")
            return already_exists(rtype.resource, p.name, rtype.group)
        if p.precondition is None and p.old_revision is not None:
            return _Retry()
        self._audit(ctx, p.operation, p.namespace, p.name, "denied", "conflict")
        return conflict(rtype.resource, p.name, rtype.group)

    def _require_namespace(self, txn: Txn, namespace: str) -> None:
        if self.type.namespaced and txn.get(NAMESPACES, "", namespace) is None:
            raise not_found(NAMESPACES, namespace)

    # -- delete ---------------------------------------------------------------------------

    async def delete(
        self, ctx: RequestContext, namespace: str, name: str, options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        rtype = self.type
        self.authorize_write(ctx, "delete", namespace, name)
        stored = self._current(namespace, name)
        objmeta.check_delete_preconditions(rtype, stored, options or {})
        body = stored.body
        if not ctx.dry_run:
            self.auditor.check_available()
            try:
                await self.store.commit(lambda txn: self._delete_in(txn, namespace, name, stored.revision))
            except RevisionMismatch:
                raise conflict(rtype.resource, name, rtype.group) from None
            except ApiError as exc:
                self._audit(ctx, "delete", namespace, name, "denied", exc.reason)
                raise
            self._audit(ctx, "delete", namespace, name, "success")
        details = {"name": name, "group": rtype.group, "kind": rtype.resource, "uid": body["metadata"]["uid"]}
        if not rtype.group:
            del details["group"]  # omitempty upstream: the core group has no name
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _delete_in(self, txn: Txn, namespace: str, name: str, revision: int | None) -> Any:
        current = txn.get(self.type.resource, namespace, name)
        if current is None:
            raise RevisionMismatch(self.type.resource, namespace, name)
        self.strategy.check_delete(txn, current.body)
        write = txn.delete(self.type.resource, namespace, name, expected_revision=revision)
        if self.strategy.payload is not None:
            self.strategy.payload.destroy(txn, current.body)
        return write

    def prepare_delete(
        self, ctx: RequestContext, namespace: str, name: str, options: dict[str, Any] | None = None
    ) -> Prepared:
        """Check a delete (authorization, preconditions) for `commit`, so several go in one transaction.

        The object's current revision is the precondition: a concurrent change is a 409 Conflict.
        """
        rtype = self.type
        self.authorize_write(ctx, "delete", namespace, name)
        stored = self._current(namespace, name)
        objmeta.check_delete_preconditions(rtype, stored, options or {})
        return Prepared(
            self,
            namespace,
            stored.body,
            stored.revision,
            None,
            old_body=stored.body,
            precondition=str(stored.revision),
            deleting=True,
        )

    # -- helpers --------------------------------------------------------------------------

    def _validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        causes = self.strategy.schema.validate(obj)
        # The schema and the metadata rules both type-check labels and annotations: report each problem once.
        reported = {(c.field, c.reason) for c in causes}
        causes += [c for c in objmeta.validate_object_meta(obj) if (c.field, c.reason) not in reported]
        causes += self.strategy.validate(obj, old)
        if causes:
            meta = obj["metadata"]
            raise invalid(self.type.kind, meta.get("name") or meta.get("generateName") or "", causes, self.type.group)

    def _handle_unknown_fields(self, ctx: RequestContext, obj: dict[str, Any]) -> None:
        """fieldValidation: Strict refuses unknown fields, Warn reports them, Ignore drops them silently."""
        unknown = self.strategy.schema.unknown_fields(obj)
        if not unknown:
            return
        if ctx.field_validation == "Strict":
            detail = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise bad_request(f"strict decoding error: {detail}")
        if ctx.field_validation != "Ignore":
            ctx.warnings.extend(f'unknown field "{path}"' for path in unknown)
        pruned = self.strategy.schema.prune_unknown(obj)
        obj.clear()
        obj.update(pruned)

    def _strip_payload_from_last_applied(self, obj: dict[str, Any]) -> None:
        """kubectl's client-side apply copies the whole manifest into an annotation; keep no payload there."""
        annotations = obj["metadata"].get("annotations")
        if not self.strategy.payload or not isinstance(annotations, dict) or LAST_APPLIED not in annotations:
            return
        try:
            applied = json.loads(annotations[LAST_APPLIED])
        except (TypeError, ValueError):
            return  # not JSON: kubectl did not write it, nothing of ours to strip
        if isinstance(applied, dict) and self.strategy.payload.take(applied) is not None:
            annotations[LAST_APPLIED] = json.dumps(applied, separators=(",", ":"), sort_keys=True)

    def _record_manager(self, ctx: RequestContext, old: dict | None, new: dict) -> None:
        manager = ctx.field_manager or ctx.default_manager
        new["metadata"]["managedFields"] = record_update(
            old, new, manager, api_version=self.type.api_version, now=objmeta.now_rfc3339()
        )

    def _index_conflict(self, name: str, exc: IndexKeyTaken) -> KeyTaken:
        rtype = self.type
        detail = f'the key "{exc.index_key}" is already used by {rtype.resource} "{exc.holder}"'
        return KeyTaken(conflict_message(rtype.resource, name, rtype.group, detail), rtype.group, rtype.resource, name)

    def authorize_write(
        self, ctx: RequestContext, verb: str, namespace: str, name: str, operation: str | None = None
    ) -> None:
        """Authorize a write; a refusal is audited as `denied` before it is raised (attempts are audited too)."""
        try:
            self.authorizer.authorize(ctx.principal, verb, self.type, namespace, name)
        except ApiError as exc:
            operation = operation or {"patch": "update", "deletecollection": "delete"}.get(verb, verb)
            self._audit(ctx, operation, namespace, name, "denied", exc.reason)
            raise

    def _audit(
        self, ctx: RequestContext, operation: str, namespace: str, name: str, outcome: str, reason: str = ""
    ) -> None:
        if not ctx.dry_run:
            self.auditor.record(ctx, operation, self.type.resource, namespace, name, outcome, reason)


class _Retry(Exception):
    """An unconditional update lost a race; it is recomputed on the new state."""


@dataclass
class Prepared:
    """A validated, sealed write waiting for `Registry.commit`."""

    registry: Registry
    namespace: str
    obj: dict[str, Any]
    old_revision: int | None  # None: a create
    payload: Any
    old_body: dict[str, Any] | None = None
    precondition: str | None = None
    generate_prefix: str | None = None
    unchanged: bool = False
    sealed: Sealed | None = None
    deleting: bool = False  # from prepare_delete: `obj` is the object being deleted

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def operation(self) -> str:
        if self.deleting:
            return "delete"
        return "create" if self.old_revision is None else "update"

    def concerns(self, exc: Exception) -> bool:
        return (getattr(exc, "resource", None), getattr(exc, "namespace", None), getattr(exc, "name", None)) == (
            self.registry.type.resource,
            self.namespace,
            self.name,
        )

    def dry_run_result(self) -> dict[str, Any]:
        if self.old_revision is not None:
            self.obj["metadata"]["resourceVersion"] = str(self.old_revision)
        return self.obj
