"""Validation of token requests: what a client may ask for, and the exact 422 causes when it is wrong."""

from __future__ import annotations

import re
from typing import Any

from ..machinery.errors import Cause, bad_request, field_error, invalid
from ..machinery.names import dns1123_label_errors, label_value_errors
from .permissions import ALL_NAMESPACES, DECRYPT_ANY, ROLES, Permission, check_decrypt_permission, parse_permission
from .tokens import TOKENS, TokenRequest

_DURATION = re.compile(r"([1-9][0-9]{0,9})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_FIELDS = {"subject", "serviceIdentity", "namespaces", "role", "permissions", "decryptPermissions", "expiresIn"}
_USER = re.compile(r"user:[^\s:][^\s]{0,127}")


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `24h`, `30d`: a positive whole number of one unit; ValueError otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError("must be a positive duration such as 90s, 15m, 24h or 30d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_token_request(body: Any) -> TokenRequest:
    """A TokenRequest from the JSON body of a create, or a 400/422 ApiError."""
    if not isinstance(body, dict):
        raise bad_request("the body of a token request must be a JSON object")
    causes: list[Cause] = [
        field_error("not_supported", key, "unknown field", show_value=False) for key in sorted(set(body) - _FIELDS)
    ]
    request = TokenRequest(namespaces=_namespaces(body.get("namespaces"), causes))
    identity = body.get("serviceIdentity")
    if identity is not None:
        if not isinstance(identity, str) or not identity:
            causes.append(field_error("invalid", "serviceIdentity", "must be a non-empty string", show_value=False))
        else:
            causes += [field_error("invalid", "serviceIdentity", d, identity) for d in label_value_errors(identity)]
            request.service_identity = identity
    subject = body.get("subject")
    if subject is not None:
        if identity is not None and subject != identity:
            causes.append(
                field_error(
                    "invalid",
                    "subject",
                    "the subject of a service token is its service identity",
                    subject if isinstance(subject, str) else None,
                )
            )
        elif identity is None and (not isinstance(subject, str) or not _USER.fullmatch(subject)):
            causes.append(
                field_error(
                    "invalid",
                    "subject",
                    "a user subject is user:NAME (no spaces, at most 128 characters after the prefix)",
                    subject if isinstance(subject, str) else None,
                )
            )
        else:
            request.subject = subject
    role = body.get("role")
    if role is not None:
        if role not in ROLES:
            causes.append(
                field_error(
                    "not_supported", "role", ", ".join(f'"{r}"' for r in ROLES), role if isinstance(role, str) else None
                )
            )
        else:
            request.role = role
    request.permissions = _permissions(body.get("permissions"), causes)
    request.decrypt = _decrypt(body.get("decryptPermissions"), request.service_identity, causes)
    expires = body.get("expiresIn")
    if expires is not None:
        try:
            request.expires_in = parse_duration(expires) if isinstance(expires, str) else parse_duration("")
        except ValueError as exc:
            causes.append(field_error("invalid", "expiresIn", str(exc), expires if isinstance(expires, str) else None))
    if role is None and not body.get("permissions") and identity is None:
        causes.append(field_error("required", "role", "a user token needs a role or permissions"))
    if causes:
        raise invalid(TOKENS.kind, "", causes, TOKENS.group)
    return request


def _namespaces(value: Any, causes: list[Cause]) -> list[str]:
    if not isinstance(value, list) or not value:
        causes.append(field_error("required", "namespaces", 'a list of namespace names, or ["*"] for all'))
        return []
    names: list[str] = []
    for index, name in enumerate(value):
        path = f"namespaces[{index}]"
        if not isinstance(name, str):
            causes.append(field_error("type_invalid", path, "must be a string", show_value=False))
        elif name != ALL_NAMESPACES:
            causes += [field_error("invalid", path, d, name) for d in dns1123_label_errors(name)]
        if isinstance(name, str) and name not in names:
            names.append(name)
    if ALL_NAMESPACES in names and len(names) > 1:
        causes.append(field_error("invalid", "namespaces", '"*" (all namespaces) stands alone', show_value=False))
    return names


def _permissions(value: Any, causes: list[Cause]) -> list[Permission]:
    if value is None:
        return []
    if not isinstance(value, list):
        causes.append(field_error("type_invalid", "permissions", "a list of {action, scope}", show_value=False))
        return []
    permissions: list[Permission] = []
    for index, item in enumerate(value):
        path = f"permissions[{index}]"
        action = item.get("action") if isinstance(item, dict) else None
        scope = item.get("scope") if isinstance(item, dict) else None
        if not isinstance(action, str) or (scope is not None and not isinstance(scope, str)):
            causes.append(field_error("type_invalid", path, "a permission is {action, scope}", show_value=False))
            continue
        try:
            permissions.append(parse_permission(action, scope))
        except ValueError as exc:
            causes.append(field_error("invalid", path, str(exc), f"{action} {scope or ''}".strip()))
    return permissions


def _decrypt(value: Any, identity: str | None, causes: list[Cause]) -> list[str]:
    """A service token decrypts in its namespaces by default; an explicit list (even empty) replaces that."""
    if value is None:
        return [DECRYPT_ANY] if identity else []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        causes.append(field_error("type_invalid", "decryptPermissions", "a list of strings", show_value=False))
        return []
    if value and identity is None:
        causes.append(
            field_error("forbidden", "decryptPermissions", "only a token with a service identity may decrypt")
        )
    checked: list[str] = []
    for index, text in enumerate(value):
        try:
            checked.append(check_decrypt_permission(text))
        except ValueError as exc:
            causes.append(field_error("invalid", f"decryptPermissions[{index}]", str(exc), text))
    return checked
