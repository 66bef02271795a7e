"""SecureValue: the strategy of `secret.grafana.app/v1beta1` secure values (Grafana's latest shape).

Rules and messages follow Grafana's validator (`validator/secure_value.go`) for its newest v1beta1
shape (docs/architecture.md, "The SecureValue shape"). The value itself is handled by the payload
service; the strategy only checks it in memory, and never puts it into a message.
"""

from __future__ import annotations

from typing import Any

from ..machinery.errors import Cause, conflict, field_error
from ..machinery.names import label_value_errors
from ..machinery.strategy import Payload, ResourceType, Strategy, TableColumn
from ..machinery.table import age
from ..store.store import Store
from ..store.txn import Txn
from . import FACADE_KEY, GROUP, VERSION, load_schema
from .keeper import KEEPERS, STORING_TYPES, SYSTEM_KEEPER, active_keeper, keeper_type

MAX_VALUE_BYTES = 24576
MAX_DECRYPTERS = 64

SECURE_VALUES = ResourceType(
    group=GROUP,
    version=VERSION,
    resource="securevalues",
    kind="SecureValue",
    singular="securevalue",
    short_names=("sv",),
    categories=("secrets",),
    field_selectors=("metadata.name", "metadata.namespace", "spec.decrypter"),
)


class SecureValueStrategy(Strategy):
    type = SECURE_VALUES
    generate_name_prefix = "sv-"
    table_columns = (
        TableColumn("Name", format="name", description="Name of the secure value"),
        TableColumn("Description", description="What the value is for"),
        TableColumn("Keeper", description="The keeper that stores the value"),
        TableColumn("Decrypters", description="Service identities allowed to decrypt"),
        TableColumn("Version", type="integer", description="Version of the value"),
        TableColumn("Age", type="string", description="Time since creation"),
        TableColumn("Ref", priority=1, description="Reference in an external keeper"),
    )

    def __init__(
        self,
        store: Store,
        payload: Payload | None = None,
        *,
        value_limit: int = MAX_VALUE_BYTES,
        allow_empty_value: bool = False,
    ) -> None:
        """`value_limit` and `allow_empty_value` follow the surface the write comes through: InfluxDB stores `""`."""
        self.schema = load_schema("securevalue.json")
        if allow_empty_value:
            self.schema = self.schema.derive(_without_value_min_length)
        self.store = store
        self.payload = payload
        self.value_limit = value_limit
        self.allow_empty_value = allow_empty_value

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj.pop("status", None)
        _normalise_decrypters(obj)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        new["status"] = dict(old["status"])
        _normalise_decrypters(new)

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return []  # the schema already reported it
        causes: list[Cause] = []
        value, ref = spec.get("value"), spec.get("ref")
        # The limit is in bytes and differs per surface (Grafana's, Cloudflare's): here, not in the schema.
        if isinstance(value, str) and len(value.encode()) > self.value_limit:
            causes.append(field_error("too_long", "spec.value", f"may not be more than {self.value_limit} bytes"))
        if old is None:
            if not (value or (value == "" and self.allow_empty_value)) and not ref:
                causes.append(field_error("required", "spec", "either a `value` or `ref` is required"))
            elif value and ref:
                causes.append(field_error("forbidden", "spec", "only one of `value` or `ref` can be set"))
        else:
            causes += _update_causes(spec, old["spec"])
        causes += _decrypter_causes(spec.get("decrypters"))
        keeper = self._keeper_for(obj, old)
        given_keeper = spec.get("keeper")
        if given_keeper is not None and given_keeper != keeper:
            causes.append(
                field_error(
                    "invalid",
                    "spec.keeper",
                    f"the keeper is chosen by the server; it would be "
                    f"{keeper!r} (spec.keeper is only accepted from older clients when equal)",
                    given_keeper,
                )
            )
        kind = self._keeper_type(obj, keeper)
        if old is None and kind not in STORING_TYPES:
            causes.append(
                field_error(
                    "forbidden",
                    "spec",
                    f"the active keeper {keeper!r} is of type {kind!r}, which cannot store values yet; "
                    "activate the system keeper or an aws keeper to create secure values",
                )
            )
        if ref and keeper == SYSTEM_KEEPER:
            causes.append(field_error("forbidden", "spec.ref", "a `ref` cannot be used with the system keeper"))
        return causes

    def canonicalize(self, obj: dict[str, Any]) -> None:
        """A `spec.keeper` from an older client, once validated, is not stored: the status says it."""
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.pop("keeper", None)

    def _keeper_for(self, obj: dict[str, Any], old: dict[str, Any] | None) -> str:
        """Fixed for the value's life: the namespace's active keeper when it was created."""
        if old is not None:
            return old["status"].get("keeper", SYSTEM_KEEPER)
        return active_keeper(self.store.iter_current(KEEPERS.resource, obj["metadata"].get("namespace", "")))

    def _keeper_type(self, obj: dict[str, Any], keeper: str) -> str:
        if keeper == SYSTEM_KEEPER:
            return SYSTEM_KEEPER
        stored = self.store.get(KEEPERS.resource, obj["metadata"].get("namespace", ""), keeper)
        return keeper_type(stored.body) if stored is not None else "unknown"

    def check_in_transaction(self, txn: Txn, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """The keeper chosen when the write was prepared must still be the active one when it commits."""
        if old is None:
            namespace = obj["metadata"].get("namespace", "")
            if active_keeper(txn.iter_current(KEEPERS.resource, namespace)) != obj["status"]["keeper"]:
                raise conflict(
                    SECURE_VALUES.resource,
                    obj["metadata"]["name"],
                    GROUP,
                    "the namespace's active keeper changed meanwhile; please try again",
                )

    def new_version(self, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        if old is None:
            new["status"] = {"version": 1, "keeper": self._keeper_for(new, None), "externalID": ""}
        else:
            new["status"]["version"] = old["status"]["version"] + 1

    def index_key(self, obj: dict[str, Any]) -> str | None:
        return facade_key(obj)

    def field_values(self, obj: dict[str, Any]) -> dict[str, str | list[str]]:
        fields = super().field_values(obj)
        fields["spec.decrypter"] = list(obj.get("spec", {}).get("decrypters") or [])
        return fields

    def table_cells(self, obj: dict[str, Any]) -> list[Any]:
        spec, status = obj.get("spec", {}), obj.get("status", {})
        decrypters = spec.get("decrypters") or []
        return [
            obj["metadata"]["name"],
            spec.get("description", ""),
            status.get("keeper", ""),
            ",".join(decrypters) if decrypters else "<none>",
            status.get("version", 0),
            age(obj["metadata"].get("creationTimestamp")),
            spec.get("ref") or "<none>",
        ]


def facade_key(obj: dict[str, Any]) -> str:
    """The key the facades know a value by: the original key they were given, else the name."""
    annotations = obj["metadata"].get("annotations") or {}
    key = annotations.get(FACADE_KEY)
    return key if isinstance(key, str) else obj["metadata"]["name"]  # "" is a valid InfluxDB key


def _without_value_min_length(schema: dict[str, Any]) -> None:
    schema["properties"]["spec"]["properties"]["value"].pop("minLength", None)


def _normalise_decrypters(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("decrypters"), list):
        spec["decrypters"] = [d.strip() if isinstance(d, str) else d for d in spec["decrypters"]]


def _update_causes(spec: dict[str, Any], old_spec: dict[str, Any]) -> list[Cause]:
    value, ref = spec.get("value"), spec.get("ref")
    if value and ref:
        return [field_error("forbidden", "spec", "only one of `value` or `ref` can be set")]
    if value and old_spec.get("ref"):
        return [field_error("forbidden", "spec", "cannot set `value` when `ref` was already previously set")]
    if ref and not old_spec.get("ref"):
        return [field_error("forbidden", "spec", "cannot set `ref` when `value` was already previously set")]
    if old_spec.get("ref") and not ref:
        return [field_error("required", "spec.ref", "a value stored by reference keeps its `ref`")]
    return []


def _decrypter_causes(decrypters: Any) -> list[Cause]:
    if not isinstance(decrypters, list):
        return []
    causes: list[Cause] = []
    if len(decrypters) > MAX_DECRYPTERS:
        return causes  # the schema reports TooMany
    seen: set[str] = set()
    for index, decrypter in enumerate(decrypters):
        path = f"spec.decrypters[{index}]"
        if not isinstance(decrypter, str):
            continue
        if not decrypter:
            causes.append(field_error("invalid", path, "decrypters cannot be empty if specified", decrypter))
            continue
        for detail in label_value_errors(decrypter):
            causes.append(field_error("invalid", path, detail, decrypter))
        if decrypter in seen:
            causes.append(field_error("duplicate", path, "decrypters must be unique", decrypter))
        seen.add(decrypter)
    return causes
