"""The generic registry: create, read, update and delete for any kind, driven by its strategy.

Modelled on `k8s.io/apiserver/pkg/registry/generic/registry.Store`: one implementation of the
verbs, with the kind's rules in its strategy. Writes are prepared and validated outside the
store's transaction (slow work such as encryption included), then committed with the revision
they were based on as a precondition; when another writer got there first, an unconditional
update is recomputed on the new state (GuaranteedUpdate), a conditional one is a 409.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
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
    NotFound,
    already_exists,
    conflict,
    conflict_message,
    not_found,
)
from .managedfields import ApplyResult, record_update, server_side_apply
from .names import generate_name
from .offload import is_large_encoded, off_loop_if_large, off_loop_when
from .patch import apply_merge_patch
from .prepared import LostRace, Prepared
from .strategy import Strategy
from .write_rules import handle_unknown_fields, split_apply_payload, strip_payload_from_last_applied, validate

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
                # A generated name collided with one created meanwhile: draw another; the payload's
                # ciphertext is bound to the name, so it is encrypted again.
                if not prepared.generate_prefix or attempt == _RETRIES - 1:
                    raise
                prepared.obj["metadata"]["name"] = generate_name(prepared.generate_prefix)
                await self._prepare_payload_write(ctx, prepared)
        raise AssertionError("unreachable")

    async def prepare_create(
        self, ctx: RequestContext, namespace: str, obj: Any, managed_fields: list[dict[str, Any]] | None = None
    ) -> Prepared:
        """Authorize and validate a new object and encrypt its payload; nothing is stored until `commit`."""
        rtype, strategy = self.type, self.strategy
        objmeta.check_type_meta(obj, rtype)
        objmeta.check_namespace(obj, namespace)
        self.authorize_write(ctx, "create", namespace, obj["metadata"].get("name") or "")
        await off_loop_if_large(obj, handle_unknown_fields, strategy, ctx, obj)
        meta = obj["metadata"]
        objmeta.reset_server_fields(meta)
        strategy.prepare_for_create(obj)
        strip_payload_from_last_applied(strategy.payload, obj)
        prefix = None
        if not meta.get("name"):
            prefix = meta.get("generateName") or strategy.generate_name_prefix or None
            if prefix:
                meta["name"] = generate_name(prefix)
        await off_loop_if_large(obj, validate, strategy, rtype, obj, None)
        strategy.canonicalize(obj)
        payload = strategy.payload.take(obj) if strategy.payload else None
        meta.update(uid=objmeta.new_uid(), creationTimestamp=objmeta.now_rfc3339(), generation=1)
        if managed_fields is not None:
            meta["managedFields"] = managed_fields
        else:
            await off_loop_if_large(obj, self._record_manager, ctx, None, obj)
        strategy.new_version(obj, None)
        prepared = Prepared(self, namespace, obj, None, payload, generate_prefix=prefix)
        await self._prepare_payload_write(ctx, prepared)
        return prepared

    async def _prepare_payload_write(self, ctx: RequestContext, prepared: Prepared) -> None:
        # A dry run stops before storage, as Kubernetes' does before its storage transformers:
        # encrypting could create the namespace's first data key, a write a dry run must not make.
        if self.strategy.payload is not None and not ctx.dry_run:
            prepared.payload_writer = await self.strategy.payload.prepare_write(
                prepared.obj, prepared.old_body, prepared.payload
            )

    # -- update ---------------------------------------------------------------------------

    async def update(self, ctx: RequestContext, namespace: str, name: str, obj: Any) -> dict[str, Any]:
        """PUT: replace the object. A resourceVersion in the body is a precondition."""
        objmeta.check_type_meta(obj, self.type)
        objmeta.check_namespace(obj, namespace)
        objmeta.check_name_matches(obj, name)
        # Authorization first, then field validation, then the stored object: 403, 400, 404 in
        # Kubernetes' order (its filters authorize before the handler decodes).
        self.authorize_write(ctx, "update", namespace, name)
        await off_loop_if_large(obj, handle_unknown_fields, self.strategy, ctx, obj)
        precondition = obj["metadata"].get("resourceVersion") or None
        return await self._guaranteed_update(ctx, namespace, name, lambda _old: copy.deepcopy(obj), precondition)

    async def patch(
        self,
        ctx: RequestContext,
        namespace: str,
        name: str,
        patcher: Callable[[dict[str, Any]], Any],
        precondition: str | None,
    ) -> dict[str, Any]:
        """JSON, merge or strategic merge patch: `patcher(current)` is the new object."""
        self.authorize_write(ctx, "patch", namespace, name)

        def transform(current: dict[str, Any]) -> dict[str, Any]:
            patched = patcher(current)
            if isinstance(patched, dict):  # fieldValidation judges what the patch produced
                handle_unknown_fields(self.strategy, ctx, patched)
            return patched

        return await self._guaranteed_update(ctx, namespace, name, transform, precondition)

    async def apply(
        self, ctx: RequestContext, namespace: str, name: str, document: dict[str, Any], *, force: bool
    ) -> tuple[dict[str, Any], bool]:
        """Server-side apply: create the object or update it, whichever it needs; True when created.

        As Kubernetes' forceAllowCreate: no check-then-create race. A create that finds the object
        created meanwhile applies to it as an update; an update that finds it deleted meanwhile
        creates it again.
        """
        manager = ctx.field_manager
        assert manager, "the route requires a fieldManager for apply"
        self.authorize_write(ctx, "patch", namespace, name)
        # fieldValidation, before any field is owned
        await off_loop_if_large(document, handle_unknown_fields, self.strategy, ctx, document)
        config, payload_fields = split_apply_payload(self.strategy.payload, document)
        precondition = (document.get("metadata") or {}).get("resourceVersion") or None
        now = objmeta.now_rfc3339()
        api_version = self.type.api_version

        def applied_to(current: dict[str, Any] | None) -> ApplyResult:
            result = server_side_apply(current, config, manager, force=force, api_version=api_version, now=now)
            result.obj = apply_merge_patch(result.obj, payload_fields) if payload_fields else result.obj
            return result

        owners: dict[str, list] = {}

        def transform(current: dict[str, Any]) -> dict[str, Any]:
            result = applied_to(current)
            owners["managed"] = result.managed_fields
            return result.obj

        for _ in range(_RETRIES):
            if self.store.get(self.type.resource, namespace, name) is None:
                created = applied_to(None)
                created.obj.setdefault("metadata", {})["name"] = name
                try:
                    return await self.create(ctx, namespace, created.obj, managed_fields=created.managed_fields), True
                except AlreadyExists:
                    continue  # created meanwhile: apply to it
            try:
                obj = await self._guaranteed_update(
                    ctx, namespace, name, transform, precondition, managed=lambda _old, _new: owners["managed"]
                )
            except NotFound as exc:
                if exc.kind != self.type.resource or exc.name != name:
                    raise
                continue  # deleted meanwhile: create it again
            return obj, False
        raise self._too_many_writers(name)

    async def _guaranteed_update(
        self,
        ctx: RequestContext,
        namespace: str,
        name: str,
        transform: Callable[[dict[str, Any]], dict[str, Any]],
        precondition: str | None,
        *,
        managed: Callable[[dict, dict], list] | None = None,
    ) -> dict[str, Any]:
        """Apply `transform(current)` and store the result, retrying on concurrent writes (authorized already).

        `managed(old, new)` computes managedFields (server-side apply passes its own).
        """
        # Each lost race means another writer's commit landed, so retrying always makes progress (as
        # upstream's GuaranteedUpdate, which loops until it wins); the deadline only guards against bugs.
        deadline = time.monotonic() + _UPDATE_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            prepared = await self._prepare_update(ctx, namespace, name, transform, precondition, managed=managed)
            if prepared.unchanged:
                return prepared.obj
            try:
                return (await self.commit(ctx, [prepared]))[0]
            except LostRace:
                continue  # someone else wrote first: recompute on their result
        raise self._too_many_writers(name)

    def _too_many_writers(self, name: str) -> ApiError:
        """The end of a retry loop that kept losing races (a guard against bugs, see `_guaranteed_update`)."""
        return conflict(self.type.resource, name, self.type.group, "too many concurrent writers; please try again")

    async def prepare_update(
        self,
        ctx: RequestContext,
        namespace: str,
        name: str,
        transform: Callable[[dict[str, Any]], dict[str, Any]],
        precondition: str | None,
    ) -> Prepared:
        """Authorize, compute, validate and encrypt the new state of an existing object for `commit`."""
        self.authorize_write(ctx, "update", namespace, name)
        return await self._prepare_update(ctx, namespace, name, transform, precondition)

    async def prepare_status_update(
        self,
        ctx: RequestContext,
        namespace: str,
        name: str,
        status: dict[str, Any],
        precondition: str,
        *,
        part_of: str | None = None,
        operation: str = "update",
    ) -> Prepared:
        """The status subresource: `status` replaces the object's status and nothing else changes.

        Validated, with managedFields and audit, as any write. `part_of` names the object whose
        action this write belongs to (activating one keeper deactivates the others), which is
        what is authorized; by default the object itself.
        """
        self.authorize_write(ctx, "update", namespace, part_of or name, operation=operation)
        return await self._prepare_update(
            ctx, namespace, name, lambda current: {**current, "status": status}, precondition, status_only=True
        )

    async def _prepare_update(
        self,
        ctx: RequestContext,
        namespace: str,
        name: str,
        transform: Callable[[dict[str, Any]], dict[str, Any]],
        precondition: str | None,
        *,
        managed: Callable[[dict, dict], list] | None = None,
        status_only: bool = False,
    ) -> Prepared:
        """`prepare_update` once authorized; `unchanged` when the write is a no-op."""
        rtype, strategy = self.type, self.strategy
        stored = self._current(namespace, name)
        if precondition is not None and precondition != str(stored.revision):
            self.audit(ctx, "update", namespace, name, "denied", "conflict")
            raise conflict(rtype.resource, name, rtype.group)
        # The two stages cost time in proportion to the object: a large one's run in a worker thread.
        large = is_large_encoded(stored.raw)
        old, new, payload = await off_loop_when(large, self._updated, stored, transform, status_only)
        payload_unchanged = await strategy.payload.unchanged(old, payload) if strategy.payload else True
        manager = managed or self._manager_recorder(ctx, "status" if status_only else "")
        unchanged = await off_loop_when(large, self._finish_update, old, new, payload_unchanged, manager)
        if unchanged:
            return Prepared(self, namespace, old, stored.revision, None, unchanged=True)
        prepared = Prepared(self, namespace, new, stored.revision, payload, old_body=old, precondition=precondition)
        await self._prepare_payload_write(ctx, prepared)
        return prepared

    def _updated(
        self, stored: StoredObject, transform: Callable[[dict[str, Any]], dict[str, Any]], status_only: bool
    ) -> tuple[dict[str, Any], dict[str, Any], Any]:
        """The old body, the validated new one (its payload taken out) and the payload: pure, no await."""
        rtype, strategy = self.type, self.strategy
        old = stored.body
        new = transform(stored.body)  # each decode of the stored bytes is a private copy
        objmeta.check_type_meta(new, rtype)
        objmeta.check_namespace(new, stored.namespace)
        objmeta.check_name_matches(new, stored.name)
        meta, old_meta = new["metadata"], old["metadata"]
        objmeta.reset_server_fields(meta)
        for key in ("uid", "creationTimestamp", "generation"):
            meta[key] = old_meta[key]
        if status_only:
            strategy.prepare_for_status_update(new, old)
        else:
            strategy.prepare_for_update(new, old)
        strip_payload_from_last_applied(strategy.payload, new)
        validate(strategy, rtype, new, old)
        strategy.canonicalize(new)
        payload = strategy.payload.take(new) if strategy.payload else None
        return old, new, payload

    def _finish_update(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        payload_unchanged: bool,
        managed: Callable[[dict, dict], list],
    ) -> bool:
        """Record field ownership and the new generation and version; True when nothing changed."""
        meta = new["metadata"]
        meta["managedFields"] = managed(old, new)
        if payload_unchanged and objmeta.same_object(new, old):
            return True
        if not payload_unchanged or new.get("spec") != old.get("spec"):
            meta["generation"] = old["metadata"]["generation"] + 1
        self.strategy.new_version(new, old)
        return False

    # -- commit ---------------------------------------------------------------------------

    async def commit(self, ctx: RequestContext, prepared: list[Prepared]) -> list[dict[str, Any]]:
        """Store prepared writes (of this or other registries) in one transaction: all or nothing."""
        changes = [p for p in prepared if not p.unchanged]
        if ctx.dry_run or not changes:
            return [p.dry_run_result() if not p.unchanged else p.obj for p in prepared]

        def transaction(txn: Txn) -> list[Any]:
            return [p.registry.write_in(txn, p) for p in changes]

        self.auditor.check_available()  # a write that cannot be audited is refused before it happens
        try:
            writes = iter(await self.store.commit(transaction))
        except (ObjectExists, RevisionMismatch, IndexKeyTaken) as exc:
            failed = next((p for p in changes if p.concerns(exc)), changes[0])
            raise failed.registry.store_refusal(ctx, failed, exc) from None
        except ApiError as exc:
            for p in changes:
                p.registry.audit(ctx, p.operation, p.namespace, p.name, "denied", exc.reason)
            raise
        results = []
        for p in prepared:
            if p.unchanged:
                results.append(p.obj)
                continue
            p.registry.audit(ctx, p.operation, p.namespace, p.name, "success")
            results.append(next(writes).body)
        return results

    def write_in(self, txn: Txn, p: Prepared) -> Any:
        """Make one prepared write inside the commit's transaction."""
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
        if p.payload_writer is not None:
            p.payload_writer(txn)
        return write

    def store_refusal(self, ctx: RequestContext, p: Prepared, exc: Exception) -> Exception:
        """The API error (audited) for a store's refusal of a prepared write; LostRace to recompute it."""
        rtype = self.type
        if isinstance(exc, IndexKeyTaken):
            return self._index_conflict(p.name, exc)
        if isinstance(exc, ObjectExists):
            self.audit(ctx, "create", p.namespace, p.name, "denied", "already exists")
            return already_exists(rtype.resource, p.name, rtype.group)
        if p.precondition is None and p.old_revision is not None:
            return LostRace()
        self.audit(ctx, p.operation, p.namespace, p.name, "denied", "conflict")
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
                self.audit(ctx, "delete", namespace, name, "denied", exc.reason)
                raise
            self.audit(ctx, "delete", namespace, name, "success")
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

    def _record_manager(self, ctx: RequestContext, old: dict | None, new: dict) -> None:
        new["metadata"]["managedFields"] = self._manager_recorder(ctx, "")(old, new)

    def _manager_recorder(self, ctx: RequestContext, subresource: str) -> Callable[[dict | None, dict], list]:
        """The managedFields of a write by the request's field manager, from the old and new objects."""
        manager = ctx.field_manager or ctx.default_manager
        api_version, now = self.type.api_version, objmeta.now_rfc3339()
        return lambda old, new: record_update(
            old, new, manager, api_version=api_version, now=now, subresource=subresource
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
            self.audit(ctx, operation, namespace, name, "denied", exc.reason)
            raise

    def audit(
        self, ctx: RequestContext, operation: str, namespace: str, name: str, outcome: str, reason: str = ""
    ) -> None:
        if not ctx.dry_run:
            self.auditor.record(ctx, operation, self.type.resource, namespace, name, outcome, reason)
