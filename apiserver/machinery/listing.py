"""Lists: selectors, paging from one snapshot, and per-item authorization."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..store.errors import RevisionExpired
from ..store.store import Page
from .context import RequestContext
from .continuation import EXPIRED_MESSAGE, ContinueTokens, Position
from .errors import Cause, bad_request, expired, field_error, invalid
from .registry import Registry
from .selectors import FieldSelector, LabelSelector


@dataclass
class ListOptions:
    label_selector: LabelSelector
    field_selector: FieldSelector
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""
    query_fingerprint: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str], allowed_fields: tuple[str, ...]) -> ListOptions:
        limit_text = query.get("limit") or "0"
        try:
            limit = int(limit_text)
        except ValueError:
            raise bad_request(f'limit: Invalid value: "{limit_text}": must be an integer') from None
        if limit < 0:
            raise bad_request(f"limit: Invalid value: {limit}: must be greater than or equal to 0")
        options = cls(
            LabelSelector.parse(query.get("labelSelector")),
            FieldSelector.parse(query.get("fieldSelector"), allowed_fields),
            limit,
            query.get("continue", ""),
            query.get("resourceVersion", ""),
            query.get("resourceVersionMatch", ""),
        )
        options.query_fingerprint = f"{options.label_selector}|{query.get('fieldSelector', '')}"
        options._validate()
        return options

    def _validate(self) -> None:
        """The combinations apimachinery's ValidateListOptions forbids are 422 Invalid."""
        causes: list[Cause] = []
        match = self.resource_version_match
        if match:
            if match not in ("Exact", "NotOlderThan"):
                causes.append(
                    field_error(
                        "not_supported", "resourceVersionMatch", 'supported values: "Exact", "NotOlderThan", ""', match
                    )
                )
            if not self.resource_version:
                causes.append(
                    field_error(
                        "forbidden",
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden unless resourceVersion is provided",
                    )
                )
            if self.continue_token:
                causes.append(
                    field_error(
                        "forbidden",
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden when continue is provided",
                    )
                )
            if match == "Exact" and self.resource_version == "0":
                causes.append(
                    field_error(
                        "forbidden",
                        "resourceVersionMatch",
                        'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                    )
                )
        if self.resource_version and not self.resource_version.isdigit():
            raise bad_request(f'Invalid value: "{self.resource_version}": resourceVersion must be an integer')
        if causes:
            raise invalid("ListOptions", "", causes, "meta.k8s.io")


def matches(registry: Registry, options: ListOptions, obj: dict[str, Any]) -> bool:
    if not options.label_selector.matches(obj["metadata"].get("labels")):
        return False
    return options.field_selector.is_empty() or options.field_selector.matches(registry.strategy.field_values(obj))


async def list_objects(
    registry: Registry,
    tokens: ContinueTokens,
    ctx: RequestContext,
    namespace: str | None,
    options: ListOptions,
    *,
    encoded: bool = False,
) -> dict[str, Any]:
    """The list's body; with `encoded`, its items are the objects' stored JSON, only for encoding."""
    rtype = registry.type
    registry.authorizer.authorize(ctx.principal, "list", rtype, namespace or "")
    store = registry.store
    after = None
    revision = store.revision
    if options.continue_token:
        position = tokens.read(options.continue_token, options.query_fingerprint)
        revision, after = position.revision, (position.namespace, position.name)
    elif options.resource_version_match == "Exact":
        revision = int(options.resource_version)

    def permitted(key: tuple[str, str]) -> bool:
        return registry.authorizer.can(ctx.principal, "get", rtype, *key)

    def selected(body: dict[str, Any]) -> bool:
        return matches(registry, options, body)

    selecting = not (options.label_selector.is_empty() and options.field_selector.is_empty())
    try:
        page = await _page(
            registry, namespace, options, revision, after, permitted, selected if selecting else None, encoded
        )
    except RevisionExpired:
        raise expired(
            EXPIRED_MESSAGE
            if options.continue_token
            else f"too old resource version: {revision} ({store.oldest_revision})"
        ) from None
    list_meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if page.more and page.last_key is not None:
        list_meta["continue"] = tokens.issue(Position(revision, *page.last_key), options.query_fingerprint)
    return {"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": list_meta, "items": page.items}


async def _page(
    registry: Registry,
    namespace: str | None,
    options: ListOptions,
    revision: int,
    after: tuple[str, str] | None,
    permitted: Callable[[tuple[str, str]], bool],
    selected: Callable[[dict[str, Any]], bool] | None,
    encoded: bool,
) -> Page:
    store, resource = registry.store, registry.type.resource
    name = options.field_selector.exact_value("metadata.name")
    if name is not None and namespace is not None and revision >= store.revision:
        # metadata.name=X (kubectl's single-object watch and wait) is a lookup, not a scan.
        stored = store.get(resource, namespace, name)
        if stored is None or (after is not None and stored.key <= after):
            return Page(revision, [], None, more=False)
        body = stored.body
        found = permitted(stored.key) and (selected is None or selected(body))
        return Page(revision, [body] if found else [], stored.key if found else None, more=False)
    return await store.list_page(
        resource,
        namespace,
        revision=revision,
        after=after,
        limit=options.limit,
        accept_key=permitted,
        accept_body=selected,
        encoded=encoded,
    )
