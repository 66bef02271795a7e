"""Store-level failures; the machinery turns them into API errors for the right resource."""

from __future__ import annotations


class StoreError(Exception):
    """Base of store failures. Messages carry names, never bodies or payloads."""


class ObjectExists(StoreError):
    def __init__(self, resource: str, namespace: str, name: str) -> None:
        super().__init__(f"{resource} {namespace}/{name} exists")
        self.resource, self.namespace, self.name = resource, namespace, name


class IndexKeyTaken(StoreError):
    """`name` wanted an index key that `holder` already has."""

    def __init__(self, resource: str, namespace: str, name: str, index_key: str, holder: str) -> None:
        super().__init__(f"{resource} index key in {namespace} is held by {holder}")
        self.resource, self.namespace, self.name = resource, namespace, name
        self.index_key, self.holder = index_key, holder


class RevisionMismatch(StoreError):
    """The object changed (or vanished) since the caller read it."""

    def __init__(self, resource: str, namespace: str, name: str) -> None:
        super().__init__(f"{resource} {namespace}/{name} changed")
        self.resource, self.namespace, self.name = resource, namespace, name


class RevisionExpired(StoreError):
    """A revision older than the retained event window was asked for."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested, self.oldest = requested, oldest


class StoreUnavailable(StoreError):
    """The database cannot be reached; the caller may retry later."""


class StorageFull(StoreError):
    """The database has no room left (a full disk or tablespace): writes are refused, nothing is
    half-written, reads go on, and writes succeed again by themselves once space returns."""


class SchemaTooNew(StoreError):
    """The database was written by a newer server; running on it could lose data, so start-up stops."""

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"database schema version {found} is newer than this server ({supported}); "
            "run a newer apiserver on this data directory"
        )
        self.found, self.supported = found, supported
