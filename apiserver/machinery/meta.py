"""Object metadata rules shared by every kind (ObjectMeta and TypeMeta)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from .errors import Cause, bad_request, conflict, field_error
from .names import dns1123_subdomain_errors, validate_annotations, validate_labels
from .strategy import ResourceType

if TYPE_CHECKING:
    from ..store.model import StoredObject

# Fields of ObjectMeta the server owns; values sent by clients are replaced.
SERVER_SET = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_uid() -> str:
    return str(uuid.uuid4())


def check_type_meta(obj: Any, rtype: ResourceType) -> None:
    """A body must be an object of this kind; an absent apiVersion/kind is taken from the URL."""
    if not isinstance(obj, dict):
        raise bad_request(f"the body of the request must be a {rtype.kind} object")
    api_version = obj.setdefault("apiVersion", rtype.api_version)
    kind = obj.setdefault("kind", rtype.kind)
    if api_version != rtype.api_version or kind != rtype.kind:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version ({rtype.api_version})"
            if api_version != rtype.api_version
            else f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
        )
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    for key in ("name", "generateName", "namespace", "resourceVersion", "uid"):
        # The identity fields are used before validation (URLs, preconditions): a wrong type is undecodable.
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise bad_request(f"metadata.{key}: must be a string")
    # Keep TypeMeta and metadata first, as Kubernetes serialises them.
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    obj.clear()
    obj.update(apiVersion=api_version, kind=kind, metadata=meta, **rest)


def check_namespace(obj: dict[str, Any], namespace: str) -> None:
    """The namespace comes from the URL; a different one in the body is refused (upstream wording)."""
    meta = obj["metadata"]
    given = meta.get("namespace")
    if given and given != namespace:
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
    if namespace:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)


def check_name_matches(obj: dict[str, Any], name: str) -> None:
    given = obj["metadata"].get("name")
    if given and given != name:
        raise bad_request(f"the name of the object ({given}) does not match the name on the URL ({name})")
    obj["metadata"]["name"] = name


def validate_object_meta(obj: dict[str, Any]) -> list[Cause]:
    meta = obj["metadata"]
    causes: list[Cause] = []
    prefix = meta.get("generateName")
    if isinstance(prefix, str) and prefix:
        # As upstream's NameIsDNSSubdomain(prefix=true): a trailing dash is fine in a prefix.
        masked = prefix[:-1] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix
        for detail in dns1123_subdomain_errors(masked):
            causes.append(field_error("invalid", "metadata.generateName", detail, prefix))
    name = meta.get("name")
    if not name:
        causes.append(field_error("required", "metadata.name", "name or generateName is required"))
    else:
        for detail in dns1123_subdomain_errors(name):
            causes.append(field_error("invalid", "metadata.name", detail, name))
    causes += validate_labels(meta.get("labels"))
    causes += validate_annotations(meta.get("annotations"))
    return causes


def reset_server_fields(meta: dict[str, Any]) -> None:
    for key in SERVER_SET:
        meta.pop(key, None)


def same_object(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Equal apart from what the server sets; manager timestamps alone are not a change."""

    def essence(obj: dict[str, Any]) -> tuple:
        meta = {k: v for k, v in obj["metadata"].items() if k not in ("resourceVersion", "managedFields")}
        managers = [
            {k: v for k, v in entry.items() if k != "time"} for entry in obj["metadata"].get("managedFields") or []
        ]
        return meta, managers, obj.get("spec"), obj.get("status")

    return essence(new) == essence(old)


def check_delete_preconditions(rtype: ResourceType, stored: StoredObject, options: dict[str, Any]) -> None:
    """DeleteOptions preconditions (uid, resourceVersion): a mismatch is 409, worded as upstream."""
    preconditions = options.get("preconditions") or {}
    if not isinstance(preconditions, dict):
        raise bad_request("preconditions must be an object")
    uid, rv = preconditions.get("uid"), preconditions.get("resourceVersion")
    name = stored.name
    if uid and uid != stored.uid:
        raise conflict(
            rtype.resource,
            name,
            rtype.group,
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: {stored.uid}",
        )
    if rv and rv != str(stored.revision):
        raise conflict(
            rtype.resource,
            name,
            rtype.group,
            f"Precondition failed: ResourceVersion in precondition: {rv}, "
            f"ResourceVersion in object meta: {stored.revision}",
        )
