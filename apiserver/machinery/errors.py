"""Errors of the resource machinery, shaped after apimachinery's `StatusError`.

Services and machinery raise these; each surface renders them in its own dialect (the native
routes as Kubernetes `Status` objects, the facades as InfluxDB or Cloudflare errors). Messages
follow `k8s.io/apimachinery/pkg/api/errors` word for word, because kubectl prints them verbatim.
A message never contains a secret value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(resource, group)} "{name}" not found', group, resource, name)


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        409, "AlreadyExists", f'{_qualified(resource, group)} "{name}" already exists', group, resource, name
    )


def conflict(resource: str, name: str, group: str = "", detail: str | None = None) -> ApiError:
    detail = detail or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {detail}',
        group,
        resource,
        name,
    )


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> ApiError:
    """422 Invalid, worded as `NewInvalid`: one cause inline, several as a bracketed list."""
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{_qualified(kind, group)} "{name}" is invalid: {summary}',
        group,
        kind,
        name,
        causes=list(causes),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized(message: str = "Unauthorized") -> ApiError:
    return ApiError(401, "Unauthorized", message)


def forbidden(message: str, resource: str = "", name: str = "", group: str = "") -> ApiError:
    return ApiError(403, "Forbidden", message, group, resource, name)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def unsupported_media_type(accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted),
    )


def method_not_allowed(verb: str, resource: str, group: str = "") -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f'{verb} is not supported on resources of kind "{_qualified(resource, group)}"',
        group,
        resource,
    )


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.",
        retry_after=retry_after,
        headers={"Retry-After": str(retry_after)},
    )


def service_unavailable(message: str, retry_after: int = 1) -> ApiError:
    return ApiError(
        503, "ServiceUnavailable", message, retry_after=retry_after, headers={"Retry-After": str(retry_after)}
    )


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", message)
