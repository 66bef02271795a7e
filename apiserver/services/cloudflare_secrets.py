"""Cloudflare Secrets Store secrets: SecureValues bound to a store, written through FacadeValues.

The mapping (docs/architecture.md, "Facade keys"):

- A secret's facade key is `"{name}@{store_id}"` (names cannot contain `@`). Keys are unique per
  namespace and indexed, so two stores may hold the same name and a (store, name) lookup is one
  indexed `find`; the name comes first so that the SecureValue name (`name_for_key`, a slug of
  the key) starts with it and reads well in kubectl. The value also carries the label
  `STORE_LABEL` = store id, which lists a store's secrets with a label selector.
- Its id is the SecureValue uid without dashes. Ids are looked up among the store's values, a
  scan bounded by the account's secrets quota.
- `scopes` are the value's decrypters (so the `workers` service identity can decrypt it);
  decrypters that are not Cloudflare scopes (added natively) are kept and not shown.
- `comment` is kept whole in the annotation `COMMENT`; the description (1..25 runes) is the
  comment, shortened with an ellipsis, or the name when there is no comment.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..machinery.context import RequestContext
from ..machinery.errors import ApiError, not_found
from ..resources.secretstore import STORE_GROUP, STORE_LABEL
from ..resources.securevalue import SECURE_VALUES, facade_key
from .cloudflare_stores import CloudflareAccounts, CloudflareStores
from .facade_values import FacadeValues, FacadeWrite
from .secret_bytes import SecretBytes

CLOUDFLARE_RULE = "CloudflareRule"  # ApiError reason: the message is Cloudflare's snake_case identifier
SCOPES = ("workers", "ai_gateway", "dex", "access", "containers", "websearch")
COMMENT = f"{STORE_GROUP}/comment"
MODIFIED = f"{STORE_GROUP}/modified"
MAX_SECRETS_PER_NAMESPACE = 100
CLOUDFLARE_VALUE_LIMIT = 65536  # bytes, Cloudflare's limit (the native one is 24576)
MAX_NAME_LENGTH = 255  # Cloudflare publishes none; the key must stay a sane index entry
DESCRIPTION_RUNES = 25
_NAME = re.compile(r"[A-Za-z0-9_-]+")


class CloudflareRefusal(ApiError):
    """A Cloudflare rule refused the request; the message is Cloudflare's snake_case identifier."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(status, CLOUDFLARE_RULE, message)


def refused(message: str, status: int = 400) -> CloudflareRefusal:
    return CloudflareRefusal(message, status)


def secret_key(store_id: str, name: str) -> str:
    return f"{name}@{store_id}"


def secret_id(obj: dict[str, Any]) -> str:
    return obj["metadata"]["uid"].replace("-", "")


def secret_name(obj: dict[str, Any]) -> str:
    key = facade_key(obj)
    store_id = (obj["metadata"].get("labels") or {}).get(STORE_LABEL, "")
    return key[: -len(store_id) - 1] if store_id and key.endswith(f"@{store_id}") else key


def comment_of(obj: dict[str, Any]) -> str | None:
    return (obj["metadata"].get("annotations") or {}).get(COMMENT)


def scopes_of(obj: dict[str, Any]) -> builtins.list[str]:
    return [d for d in obj.get("spec", {}).get("decrypters") or [] if d in SCOPES]


def created_of(obj: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(obj["metadata"]["creationTimestamp"])


def modified_of(obj: dict[str, Any]) -> datetime:
    """The last write through this facade (an annotation it sets), never before the creation."""
    created = created_of(obj)
    stamp = (obj["metadata"].get("annotations") or {}).get(MODIFIED)
    try:
        return max(created, datetime.fromisoformat(stamp)) if stamp else created
    except ValueError:
        return created  # an annotation edited by hand


def description_for(comment: str | None, name: str) -> str:
    text = " ".join((comment or "").split()) or name
    return text if len(text) <= DESCRIPTION_RUNES else text[: DESCRIPTION_RUNES - 1].rstrip() + "…"


def check_name(name: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise refused("secret_name_too_long")
    if not _NAME.fullmatch(name):
        raise refused("secret_name_invalid")


@dataclass
class NewSecret:
    name: str
    value: SecretBytes
    scopes: builtins.list[str]
    comment: str | None = None


@dataclass
class SecretChange:
    value: SecretBytes | None = None
    scopes: builtins.list[str] | None = None
    comment: str | None = None


class CloudflareSecrets:
    """The twelve operations' secret half, as service calls over `FacadeValues`."""

    def __init__(
        self,
        values: FacadeValues,
        stores: CloudflareStores,
        accounts: CloudflareAccounts,
        quota: int = MAX_SECRETS_PER_NAMESPACE,
    ) -> None:
        self.values = values
        self.stores = stores
        self.accounts = accounts
        self.quota = quota

    # -- reads ----------------------------------------------------------------------------

    async def usage(self, ctx: RequestContext, namespace: str) -> int:
        """How many secrets the account's stores hold (what the quota counts, whoever asks)."""
        return await self.stores.secret_count(ctx, namespace)

    async def list(self, ctx: RequestContext, namespace: str, store_id: str) -> builtins.list[dict[str, Any]]:
        self.stores.get(ctx, namespace, store_id)
        return [obj for _, obj in await self.values.list(ctx, namespace, f"{STORE_LABEL}={store_id}")]

    async def get(self, ctx: RequestContext, namespace: str, store_id: str, id_: str) -> dict[str, Any]:
        for obj in await self.list(ctx, namespace, store_id):
            if secret_id(obj) == id_:
                return obj
        raise not_found(SECURE_VALUES.resource, id_, SECURE_VALUES.group)

    # -- writes ---------------------------------------------------------------------------

    async def create(
        self, ctx: RequestContext, namespace: str, store_id: str, secrets: builtins.list[NewSecret]
    ) -> builtins.list[dict[str, Any]]:
        """Create every secret in one transaction; a name taken in the store is a 409, and nothing is written."""
        for secret in secrets:
            check_name(secret.name)
        if len({s.name for s in secrets}) != len(secrets):
            raise refused("secret_name_already_exists", 409)
        writes = [
            FacadeWrite(
                secret_key(store_id, s.name),
                s.value,
                description_for(s.comment, s.name),
                decrypters=list(s.scopes),
                annotations=self._annotations(s.comment, None),
                labels={STORE_LABEL: store_id},
                create_only=True,
            )
            for s in secrets
        ]
        async with self.accounts.serialised(namespace):
            self.stores.get(ctx, namespace, store_id)
            await self._check_quota(ctx, namespace, len(writes))
            return await self.values.upsert(ctx, namespace, writes)

    async def edit(
        self, ctx: RequestContext, namespace: str, store_id: str, id_: str, change: SecretChange
    ) -> dict[str, Any]:
        """PATCH: the given fields replace the current ones; the name stays."""
        current = await self.get(ctx, namespace, store_id, id_)
        decrypters = None
        if change.scopes is not None:
            kept = [d for d in current.get("spec", {}).get("decrypters") or [] if d not in SCOPES]
            decrypters = kept + [s for s in change.scopes if s not in kept]
        description = description_for(change.comment, secret_name(current)) if change.comment is not None else None
        write = FacadeWrite(
            facade_key(current),
            change.value,
            description,
            decrypters=decrypters,
            annotations=self._annotations(change.comment, _now()),
        )
        return (await self.values.upsert(ctx, namespace, [write]))[0]

    async def delete(self, ctx: RequestContext, namespace: str, store_id: str, ids: builtins.list[str]) -> None:
        """Delete the secrets with these ids in one transaction; any unknown id is a 404 and deletes nothing."""
        by_id = {secret_id(obj): facade_key(obj) for obj in await self.list(ctx, namespace, store_id)}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise not_found(SECURE_VALUES.resource, missing[0], SECURE_VALUES.group)
        await self.values.delete(ctx, namespace, [by_id[i] for i in ids])

    async def empty(self, ctx: RequestContext, namespace: str, store_id: str) -> None:
        """Delete every secret of a store (a forced store delete)."""
        keys = [key for key, _ in await self.values.list(ctx, namespace, f"{STORE_LABEL}={store_id}")]
        if keys:
            await self.values.delete(ctx, namespace, keys)

    async def duplicate(
        self,
        ctx: RequestContext,
        namespace: str,
        store_id: str,
        id_: str,
        name: str,
        scopes: builtins.list[str],
        comment: str | None,
    ) -> dict[str, Any]:
        """A new secret in the same store with the source's value, copied inside the server."""
        check_name(name)
        source = await self.get(ctx, namespace, store_id, id_)
        if comment is None:
            comment = comment_of(source)
        target = FacadeWrite(
            secret_key(store_id, name),
            None,
            description_for(comment, name),
            decrypters=list(scopes),
            annotations=self._annotations(comment, None),
            labels={STORE_LABEL: store_id},
            create_only=True,
        )
        async with self.accounts.serialised(namespace):
            self.stores.get(ctx, namespace, store_id)
            await self._check_quota(ctx, namespace, 1)
            return await self.values.copy_value(ctx, namespace, facade_key(source), target)

    # -- helpers --------------------------------------------------------------------------

    async def _check_quota(self, ctx: RequestContext, namespace: str, adding: int) -> None:
        if await self.usage(ctx, namespace) + adding > self.quota:
            raise refused("maximum_secrets_exceeded")

    @staticmethod
    def _annotations(comment: str | None, modified: str | None) -> dict[str, str]:
        annotations = {}
        if comment is not None:
            annotations[COMMENT] = comment
        if modified is not None:
            annotations[MODIFIED] = modified
        return annotations


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class CloudflareServices:
    """What the Cloudflare facade calls, built once per application."""

    accounts: CloudflareAccounts
    stores: CloudflareStores
    secrets: CloudflareSecrets
