"""Errors of the resource machinery, shaped after apimachinery's `StatusError`.

Services and machinery raise these; each surface renders them in its own dialect (the native
routes as Kubernetes `Status` objects, the facades as InfluxDB or Cloudflare errors). Messages
follow `k8s.io/apimachinery/pkg/api/errors` word for word, because kubectl prints them verbatim.
A message never contains a secret value.

Each reason is a class (NotFound, AlreadyExists, Conflict, Invalid, ...): code raises and catches
the class, never compares `reason` strings or message text. The factories below word the
messages; a surface maps the classes to its own dialect in one place (`http/status.py`,
`compat/influxdb_errors.py`, `compat/cloudflare_wire.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Cause:
    """One field error (`StatusCause`): `reason` is a `FieldValue*` cause type."""

    field: str
    reason: str
    message: str


# apimachinery field.ErrorType -> (StatusCause reason, message prefix)
_FIELD_ERRORS = {
    "required": ("FieldValueRequired", "Required value"),
    "invalid": ("FieldValueInvalid", "Invalid value"),
    "forbidden": ("FieldValueForbidden", "Forbidden"),
    "too_long": ("FieldValueTooLong", "Too long"),
    "too_many": ("FieldValueTooMany", "Too many"),
    "duplicate": ("FieldValueDuplicate", "Duplicate value"),
    "not_supported": ("FieldValueNotSupported", "Unsupported value"),
    "type_invalid": ("FieldValueTypeInvalid", "Invalid value"),
    "not_found": ("FieldValueNotFound", "Not found"),
}


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_error(kind: str, path: str, detail: str = "", value: Any = None, *, show_value: bool = True) -> Cause:
    """Build a cause the way `field.Error.Error()` words it.

    `Invalid`, `Duplicate` and `NotSupported` include the bad value (`Invalid value: "x": detail`);
    pass `show_value=False` for fields whose value must never be echoed (secret values).
    """
    reason, prefix = _FIELD_ERRORS[kind]
    message = prefix
    if kind in ("invalid", "duplicate", "not_supported", "type_invalid") and show_value and value is not None:
        message += f": {_quote(value)}"
    if detail:
        message += f": {detail}"
    return Cause(field=path, reason=reason, message=message)


@dataclass
class ApiError(Exception):
    """An error with an HTTP status and a Kubernetes `reason`."""

    code: int
    reason: str
    message: str
    group: str = ""
    kind: str = ""  # the resource plural for most reasons, the Kind for Invalid
    name: str = ""
    uid: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:  # exceptions are logged; keep them to the safe message
        return f"{self.code} {self.reason}: {self.message}"


class _Typed(ApiError):
    """An ApiError whose class fixes its status and reason: callers raise and catch the class."""

    CODE: ClassVar[int]
    REASON: ClassVar[str]

    def __init__(
        self,
        message: str,
        group: str = "",
        kind: str = "",
        name: str = "",
        uid: str = "",
        causes: list[Cause] | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            self.CODE,
            self.REASON,
            message,
            group,
            kind,
            name,
            uid,
            list(causes or []),
            retry_after,
            dict(headers or {}),
        )


class BadRequest(_Typed):
    CODE, REASON = 400, "BadRequest"


class Unauthorized(_Typed):
    CODE, REASON = 401, "Unauthorized"


class Forbidden(_Typed):
    CODE, REASON = 403, "Forbidden"


class NotFound(_Typed):
    CODE, REASON = 404, "NotFound"


class MethodNotAllowed(_Typed):
    CODE, REASON = 405, "MethodNotAllowed"


class NotAcceptable(_Typed):
    CODE, REASON = 406, "NotAcceptable"


class AlreadyExists(_Typed):
    CODE, REASON = 409, "AlreadyExists"


class Conflict(_Typed):
    CODE, REASON = 409, "Conflict"


class KeyTaken(Conflict):
    """A unique index key (a facade key, an org ID) is held by another object: a Conflict naming the holder."""


class Expired(_Typed):
    """410: a revision or continue token older than what the server retains (Kubernetes' `Expired`, HTTP Gone)."""

    CODE, REASON = 410, "Expired"


class TooLarge(_Typed):
    CODE, REASON = 413, "RequestEntityTooLarge"

    limit: int | None = None  # the body limit in bytes, when a body was too large (dialects name it)


class UnsupportedMediaType(_Typed):
    CODE, REASON = 415, "UnsupportedMediaType"


class Invalid(_Typed):
    CODE, REASON = 422, "Invalid"


class RequestTimeout(_Typed):
    """408: the client did not send its request (headers or body) within the server's deadline."""

    CODE, REASON = 408, "Timeout"


class TooManyRequests(_Typed):
    CODE, REASON = 429, "TooManyRequests"


class InternalError(_Typed):
    CODE, REASON = 500, "InternalError"


class ServiceUnavailable(_Typed):
    CODE, REASON = 503, "ServiceUnavailable"


class InsufficientStorage(_Typed):
    """507: the server cannot store the write now (its disk is full); reads still work."""

    CODE, REASON = 507, "InsufficientStorage"


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> NotFound:
    return NotFound(f'{_qualified(resource, group)} "{name}" not found', group, resource, name)


def already_exists(resource: str, name: str, group: str = "") -> AlreadyExists:
    return AlreadyExists(f'{_qualified(resource, group)} "{name}" already exists', group, resource, name)


def conflict_message(resource: str, name: str, group: str = "", detail: str | None = None) -> str:
    detail = detail or "the object has been modified; please apply your changes to the latest version and try again"
    return f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {detail}'


def conflict(resource: str, name: str, group: str = "", detail: str | None = None) -> Conflict:
    return Conflict(conflict_message(resource, name, group, detail), group, resource, name)


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> Invalid:
    """422 Invalid, worded as `NewInvalid`: one cause inline, several as a bracketed list."""
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return Invalid(f'{_qualified(kind, group)} "{name}" is invalid: {summary}', group, kind, name, causes=causes)


def bad_request(message: str) -> BadRequest:
    return BadRequest(message)


def unauthorized(message: str = "Unauthorized") -> Unauthorized:
    return Unauthorized(message)


def forbidden(message: str, resource: str = "", name: str = "", group: str = "") -> Forbidden:
    return Forbidden(message, group, resource, name)


def expired(message: str) -> Expired:
    return Expired(message)


def too_large(limit: int) -> TooLarge:
    error = TooLarge(f"Request entity too large: limit is {limit}")
    error.limit = limit
    return error


def unsupported_media_type(accepted: list[str]) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted)
    )


def method_not_allowed(verb: str, resource: str, group: str = "") -> MethodNotAllowed:
    return MethodNotAllowed(
        f'{verb} is not supported on resources of kind "{_qualified(resource, group)}"', group, resource
    )


def too_many_requests(retry_after: int) -> TooManyRequests:
    return TooManyRequests(
        "Too many requests, please try again later.",
        retry_after=retry_after,
        headers={"Retry-After": str(retry_after)},
    )


def service_unavailable(message: str, retry_after: int = 1) -> ServiceUnavailable:
    return ServiceUnavailable(message, retry_after=retry_after, headers={"Retry-After": str(retry_after)})


def internal(message: str) -> InternalError:
    return InternalError(message)


def insufficient_storage(message: str) -> InsufficientStorage:
    return InsufficientStorage(message)
