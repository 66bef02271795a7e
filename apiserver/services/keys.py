"""Key maintenance, online: status, data-key rotation, KEK reload, re-wrapping and re-encryption.

Only an admin of every namespace may run these (they touch every namespace's keys), and every
operation is audited. Nothing here ever returns key material: ids, ages and counts only.

Re-encryption is Grafana's consolidation: values sealed by a data key that is no longer their
namespace's active one are decrypted and sealed again under the active one, a chunk per call, in
key order, so an interrupted run simply starts again (what is done is no longer stale). A data key
that then protects nothing is destroyed, but only once its successor has existed for
`retire_grace` seconds: a write that picked its data key just before a rotation may still be on
its way to the database with the old one.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from ..crypto.envelope import DataKeyRecord, Envelope
from ..crypto.errors import DecryptionError, KekConfigError
from ..crypto.kek import KekRing
from ..crypto.providers import FILE
from ..machinery.audit import Auditor
from ..machinery.context import RequestContext
from ..machinery.errors import Conflict, bad_request, forbidden, not_found
from ..machinery.strategy import ResourceType
from ..store.data_keys import StoreDataKeys
from ..store.store import Store
from .authz import Authorizer, forbidden_message
from .tokens import rfc3339

log = logging.getLogger(__name__)

KEYS = ResourceType(
    group="ops.apiserver.local",
    version="v1",
    resource="keys",
    kind="KeyStatus",
    singular="key",
    namespaced=False,
    verbs=("get", "rotate", "reload", "rewrap", "reencrypt"),
)
MAX_CHUNK = 1000


class KeyService:
    def __init__(
        self,
        envelope: Envelope,
        data_keys: StoreDataKeys,
        store: Store,
        authorizer: Authorizer,
        auditor: Auditor,
        *,
        load_keks: Callable[[], KekRing] | None = None,
        retire_grace: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.envelope = envelope
        self.data_keys = data_keys
        self.store = store
        self.authorizer = authorizer
        self.auditor = auditor
        self._load_keks = load_keks
        self._retire_grace = retire_grace
        self._clock = clock

    def _authorize(self, ctx: RequestContext, verb: str) -> None:
        grant = self.authorizer.grant(ctx.principal)
        if grant is None or not grant.cluster_admin:
            self.auditor.record(ctx, f"keys.{verb}", KEYS.resource, "", "", "denied", "not an admin of all namespaces")
            raise forbidden(forbidden_message(ctx.principal, verb, KEYS, "", ""), KEYS.resource, "", KEYS.group)
        if verb != "get":  # every other verb changes keys, and must be audited: refuse it before it starts
            self.auditor.check_available()

    def _check_namespace(self, namespace: str) -> None:
        if self.store.get("namespaces", "", namespace) is None:
            raise not_found("namespaces", namespace)

    # -- status ---------------------------------------------------------------------------

    async def status(self, ctx: RequestContext) -> dict[str, Any]:
        self._authorize(ctx, "get")
        records = await self.data_keys.data_keys()
        usage = await self.data_keys.usage()
        provider = self.envelope.provider
        wraps: dict[tuple[str, str], int] = {}
        for record in records:
            wraps[(record.provider, record.kek_id)] = wraps.get((record.provider, record.kek_id), 0) + 1
        known = [pair for pair in provider.ids() if pair[1]]
        kek_list = [_kek_entry(pair, pair == provider.active, True, wraps.get(pair, 0)) for pair in known]
        kek_list += [_kek_entry(pair, False, False, count) for pair, count in wraps.items() if pair not in known]
        now = self._clock()
        namespaces: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            namespaces.setdefault(record.namespace, []).append(
                {
                    "id": record.id,
                    "created": rfc3339(record.created),
                    "ageSeconds": max(0, int(now - record.created)),
                    "kek": record.kek_id,
                    "kekProvider": record.provider,
                    "active": record.active,
                    "values": usage.get(record.id, 0),
                }
            )
        return {
            "kind": KEYS.kind,
            "apiVersion": KEYS.api_version,
            "keks": kek_list,
            "activeKek": provider.active[1],
            "activeKekProvider": provider.active[0],
            **provider.status(),
            "namespaces": [{"namespace": ns, "dataKeys": keys} for ns, keys in sorted(namespaces.items())],
            "staleValues": await self.data_keys.count_stale_payloads(None),
        }

    # -- data keys and KEKs ---------------------------------------------------------------

    async def rotate_data_keys(self, ctx: RequestContext, namespace: str | None) -> dict[str, Any]:
        """New active data keys now: for one namespace, or for every namespace that has one."""
        self._authorize(ctx, "rotate")
        if namespace is not None:
            self._check_namespace(namespace)
            targets = [namespace]
        else:
            targets = sorted({r.namespace for r in await self.data_keys.data_keys()})
        rotated = []
        for ns in targets:
            rotated.append({"namespace": ns, "dataKey": await self.envelope.rotate(ns)})
            self.auditor.record(ctx, "keys.rotate", KEYS.resource, ns, rotated[-1]["dataKey"], "success")
        return {"kind": "DataKeyRotation", "apiVersion": KEYS.api_version, "rotated": rotated}

    async def reload(self, ctx: RequestContext | None) -> dict[str, Any]:
        """Re-read the KEK source (SIGHUP does the same, with `ctx` None); the last KEK becomes active.

        Refused (409, the old ring kept) when a KEK that still wraps data keys is gone from it.
        """
        if ctx is not None:
            self._authorize(ctx, "reload")
        local = self.envelope.local_keks
        if self._load_keks is None or local is None:
            raise Conflict("the KEK provider of this server cannot be reloaded", KEYS.group)
        try:
            keks = self._load_keks()
        except KekConfigError as exc:  # its message names files and lines, never key material
            raise Conflict(f"the KEKs were not reloaded: {exc}", KEYS.group) from None
        records = await self.data_keys.data_keys()
        needed = sorted({r.kek_id for r in records if r.provider == FILE} - set(keks.ids()))
        if needed:
            raise Conflict(
                f"the KEKs were not reloaded: data keys are still wrapped by {', '.join(needed)}, "
                "missing from the new KEKs (run keys rewrap before removing a KEK)",
                KEYS.group,
            )
        local.replace(keks)
        if ctx is not None:
            self.auditor.record(ctx, "keys.reload", KEYS.resource, "", keks.active.id, "success")
        return {"kind": "KekReload", "apiVersion": KEYS.api_version, "keks": keks.ids(), "activeKek": keks.active.id}

    async def rewrap(self, ctx: RequestContext) -> dict[str, Any]:
        """Re-wrap every data key not yet wrapped by the active KEK."""
        self._authorize(ctx, "rewrap")
        count = await self.envelope.rewrap_all()
        active = self.envelope.provider.active[1]
        self.auditor.record(ctx, "keys.rewrap", KEYS.resource, "", active, "success")
        return {"kind": "KekRewrap", "apiVersion": KEYS.api_version, "rewrapped": count, "activeKek": active}

    # -- re-encryption --------------------------------------------------------------------

    async def reencrypt(
        self, ctx: RequestContext, namespace: str | None, continue_token: str, limit: int
    ) -> dict[str, Any]:
        """Re-encrypt one chunk of values; `continue` is empty once the pass reached the end."""
        self._authorize(ctx, "reencrypt")
        if namespace is not None:
            self._check_namespace(namespace)
        if not 1 <= limit <= MAX_CHUNK:
            raise bad_request(f"limit must be between 1 and {MAX_CHUNK}")
        after = _decode_position(continue_token) if continue_token else None
        stale = await self.data_keys.stale_payloads(namespace, after, limit)
        resealed, failed = [], 0
        for item in stale:
            try:
                sealed = await self.envelope.reseal(item.namespace, item.name, item.version, item.ciphertext)
            except DecryptionError:
                failed += 1  # left as it is, counted, and skipped by the cursor
                continue
            resealed.append((item, sealed))
        await self.data_keys.reseal(resealed)
        done = len(stale) < limit
        destroyed = await self._destroy_unused(namespace) if done else []
        self.auditor.record(
            ctx,
            "keys.reencrypt",
            KEYS.resource,
            namespace or "",
            str(len(resealed)),
            "success" if not failed else "partial",
        )
        return {
            "kind": "ValueReencryption",
            "apiVersion": KEYS.api_version,
            "reencrypted": len(resealed),
            "failed": failed,
            "remaining": await self.data_keys.count_stale_payloads(namespace),
            "continue": "" if done else _encode_position(stale[-1].position),
            "destroyedDataKeys": destroyed,
        }

    async def _destroy_unused(self, namespace: str | None) -> list[str]:
        """Destroy the inactive data keys that protect nothing and whose successor is old enough."""
        records = await self.data_keys.data_keys(namespace)
        usage = await self.data_keys.usage()
        by_namespace: dict[str, list[DataKeyRecord]] = {}
        for record in records:
            by_namespace.setdefault(record.namespace, []).append(record)
        destroyed = []
        now = self._clock()
        for keys in by_namespace.values():
            keys.sort(key=lambda r: r.created)
            for record, successor in zip(keys, keys[1:], strict=False):
                if record.active or usage.get(record.id, 0) or now - successor.created < self._retire_grace:
                    continue
                if await self.data_keys.destroy(record.id):
                    self.envelope.forget_data_key(record.id)
                    destroyed.append(record.id)
                    log.info("destroyed data key %s of namespace %s: it protects nothing", record.id, record.namespace)
        return destroyed


def _kek_entry(pair: tuple[str, str], active: bool, configured: bool, data_keys: int) -> dict[str, Any]:
    return {"id": pair[1], "provider": pair[0], "active": active, "configured": configured, "dataKeys": data_keys}


def _encode_position(position: tuple[str, str, int]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(position))).decode().rstrip("=")


def _decode_position(token: str) -> tuple[str, str, int]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        namespace, name, version = value
        if isinstance(namespace, str) and isinstance(name, str) and type(version) is int:
            return namespace, name, version
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        pass
    raise bad_request("the continue token of a re-encryption is not valid; start again without one")
