"""The kind schemas and their compiled validator: Kubernetes causes, unknown fields, pruning."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apiserver.machinery.errors import Cause
from apiserver.machinery.schema import ObjectSchema

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
SCHEMA_FILES = ["securevalue.json", "keeper.json", "namespace.json", "objectmeta.json"]


@pytest.fixture(scope="module")
def sv() -> ObjectSchema:
    return ObjectSchema.load(SCHEMAS / "securevalue.json")


@pytest.fixture(scope="module")
def keeper() -> ObjectSchema:
    return ObjectSchema.load(SCHEMAS / "keeper.json")


@pytest.fixture(scope="module")
def namespace() -> ObjectSchema:
    return ObjectSchema.load(SCHEMAS / "namespace.json")


def securevalue(**spec: Any) -> dict:
    base = {"description": "External API Key", "value": "s3cr3t", "decrypters": ["synthetic-monitoring"]}
    base.update(spec)
    return {
        "apiVersion": "secret.grafana.app/v1beta1",
        "kind": "SecureValue",
        "metadata": {"name": "api-key", "namespace": "default", "labels": {"team": "a"}, "annotations": {"note": "x"}},
        "spec": {k: v for k, v in base.items() if v is not None},
    }


# --- loading and valid objects --------------------------------------------------------------------


def test_load_is_cached_and_compiles_once() -> None:
    assert ObjectSchema.load(SCHEMAS / "securevalue.json") is ObjectSchema.load(SCHEMAS / "securevalue.json")


def test_document_has_refs_inlined(sv: ObjectSchema, keeper: ObjectSchema) -> None:
    meta = sv.document["properties"]["metadata"]
    assert "$ref" not in meta and "labels" in meta["properties"]
    assert meta["description"].startswith("Standard object metadata")  # the sibling wins over the target
    secret = keeper.document["properties"]["spec"]["properties"]["hashiCorpVault"]["properties"]["token"]
    assert set(secret["properties"]) == {"secureValueName", "valueFromEnv", "valueFromConfig"}
    assert "$ref" in sv.raw["properties"]["metadata"]


def test_valid_objects_pass(sv: ObjectSchema, keeper: ObjectSchema, namespace: ObjectSchema) -> None:
    full = securevalue()
    full["metadata"].update(
        {
            "uid": "6f1c",
            "resourceVersion": "12",
            "generation": 3,
            "creationTimestamp": "2025-11-14T10:00:00Z",
            "generateName": "sv-",
            "finalizers": ["x"],
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
            "ownerReferences": [{"apiVersion": "a.b/v1", "kind": "K", "name": "n", "uid": "u", "controller": True}],
        }
    )
    full["status"] = {"version": 2, "keeper": "system", "externalID": ""}
    assert sv.validate(full) == []
    assert sv.validate(securevalue(value=None, ref="arn:aws:secretsmanager:x", decrypters=None)) == []
    assert (
        keeper.validate(
            {
                "apiVersion": "secret.grafana.app/v1beta1",
                "kind": "Keeper",
                "metadata": {"name": "k"},
                "spec": {
                    "description": "AWS prod",
                    "aws": {
                        "region": "us-east-1",
                        "assumeRole": {"assumeRoleArn": "arn:aws:iam::1:role/x", "externalID": "abc"},
                    },
                },
                "status": {"active": False},
            }
        )
        == []
    )
    assert (
        namespace.validate(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "org-2"},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )
        == []
    )


def test_description_counts_runes_not_bytes(sv: ObjectSchema) -> None:
    assert sv.validate(securevalue(description="é" * 25)) == []  # 50 bytes, 25 runes


def test_null_fields_count_as_absent(sv: ObjectSchema) -> None:
    obj = securevalue()
    obj["metadata"]["creationTimestamp"] = None  # what `kubectl create --dry-run -o yaml` emits
    assert sv.validate(obj) == []
    assert "creationTimestamp" not in sv.prune_unknown(obj)["metadata"]
    obj["spec"]["description"] = None
    assert sv.validate(obj) == [Cause("spec.description", "FieldValueRequired", "Required value")]


# --- one cause per violation ------------------------------------------------------------------------

CASES = [
    ("missing description", {"description": None}, Cause("spec.description", "FieldValueRequired", "Required value")),
    (
        "description too long",
        {"description": "x" * 26},
        Cause("spec.description", "FieldValueTooLong", "Too long: may not be more than 25 bytes"),
    ),
    (
        "empty description",
        {"description": ""},
        Cause(
            "spec.description",
            "FieldValueInvalid",
            'Invalid value: "": spec.description in body should be at least 1 chars long',
        ),
    ),
    (
        "ref too long",
        {"ref": "r" * 1025},
        Cause("spec.ref", "FieldValueTooLong", "Too long: may not be more than 1024 bytes"),
    ),
    (
        "description not a string",
        {"description": 7},
        Cause(
            "spec.description",
            "FieldValueTypeInvalid",
            'Invalid value: "integer": spec.description in body must be of type string: "integer"',
        ),
    ),
    (
        "decrypters not a list",
        {"decrypters": "a"},
        Cause(
            "spec.decrypters",
            "FieldValueTypeInvalid",
            'Invalid value: "string": spec.decrypters in body must be of type array: "string"',
        ),
    ),
    (
        "decrypter not a string",
        {"decrypters": ["a", "b", "c", True]},
        Cause(
            "spec.decrypters[3]",
            "FieldValueTypeInvalid",
            'Invalid value: "boolean": spec.decrypters[3] in body must be of type string: "boolean"',
        ),
    ),
    (
        "too many decrypters",
        {"decrypters": [f"d{i}" for i in range(65)]},
        Cause("spec.decrypters", "FieldValueTooMany", "Too many: 65: must have at most 64 items"),
    ),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_violation_gives_its_cause(sv: ObjectSchema, spec: dict, expected: Cause) -> None:
    assert sv.validate(securevalue(**spec)) == [expected]


def test_const_and_enum_are_not_supported(sv: ObjectSchema, namespace: ObjectSchema) -> None:
    obj = securevalue()
    obj["kind"] = "Secret"
    assert sv.validate(obj) == [
        Cause("kind", "FieldValueNotSupported", 'Unsupported value: "Secret": supported values: "SecureValue"')
    ]
    assert namespace.validate({"status": {"phase": "Gone"}}) == [
        Cause(
            "status.phase",
            "FieldValueNotSupported",
            'Unsupported value: "Gone": supported values: "Active", "Terminating"',
        )
    ]


def test_missing_spec_and_status_type(sv: ObjectSchema) -> None:
    obj = securevalue()
    del obj["spec"]
    obj["status"] = {"version": "1"}
    assert sv.validate(obj) == [
        Cause("spec", "FieldValueRequired", "Required value"),
        Cause(
            "status.version",
            "FieldValueTypeInvalid",
            'Invalid value: "string": status.version in body must be of type integer: "string"',
        ),
    ]


def test_several_errors_are_reported_together(sv: ObjectSchema) -> None:
    obj = securevalue(description="x" * 30, ref=5, decrypters=[f"d{i}" for i in range(70)])
    obj["metadata"]["generation"] = "one"
    obj["metadata"]["labels"] = {"app": 1}
    fields = [c.field for c in sv.validate(obj)]
    assert sorted(fields) == sorted(
        ["metadata.generation", "metadata.labels[app]", "spec.description", "spec.ref", "spec.decrypters"]
    )


def test_nested_required_in_array_items(sv: ObjectSchema) -> None:
    obj = securevalue()
    obj["metadata"]["ownerReferences"] = [{"apiVersion": "a/v1", "kind": "K", "name": "n"}]
    assert sv.validate(obj) == [Cause("metadata.ownerReferences[0].uid", "FieldValueRequired", "Required value")]


def test_keeper_schema_errors(keeper: ObjectSchema) -> None:
    causes = keeper.validate(
        {"spec": {"description": "d" * 254, "aws": {"region": 1}, "hashiCorpVault": {"token": {"valueFromEnv": ["X"]}}}}
    )
    assert causes == [
        Cause("spec.description", "FieldValueTooLong", "Too long: may not be more than 253 bytes"),
        Cause(
            "spec.aws.region",
            "FieldValueTypeInvalid",
            'Invalid value: "integer": spec.aws.region in body must be of type string: "integer"',
        ),
        Cause(
            "spec.hashiCorpVault.token.valueFromEnv",
            "FieldValueTypeInvalid",
            'Invalid value: "array": spec.hashiCorpVault.token.valueFromEnv in body must be of type string: "array"',
        ),
    ]
    assert keeper.validate({"metadata": {}}) == [Cause("spec", "FieldValueRequired", "Required value")]


# --- secrets are never echoed -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", 12345, ["TOPSECRET"]], ids=["empty", "number", "list"])
def test_secret_value_is_never_echoed(sv: ObjectSchema, value: Any) -> None:
    causes = sv.validate(securevalue(value=value))
    assert [c.field for c in causes] == ["spec.value"]
    text = json.dumps([c.__dict__ for c in causes])
    assert "TOPSECRET" not in text and "12345" not in text
    assert '"": spec.value' not in text  # not even the empty value


def test_secret_size_is_left_to_the_strategy(sv: ObjectSchema) -> None:
    # The byte limit differs per surface, so the schema does not carry it.
    assert sv.validate(securevalue(value="v" * 70000)) == []


def test_secret_marker_is_in_the_schema(sv: ObjectSchema) -> None:
    assert sv.document["properties"]["spec"]["properties"]["value"]["x-secret"] is True


# --- unknown fields and pruning ---------------------------------------------------------------------


def test_unknown_fields_in_document_order(sv: ObjectSchema) -> None:
    obj = securevalue()
    obj["metadata"]["bar"] = 1
    obj["spec"]["foo"] = {"deep": 1}
    obj["status"] = {"phase": "Succeeded", "version": 1}
    obj["extra"] = True
    assert sv.unknown_fields(obj) == ["metadata.bar", "spec.foo", "status.phase", "extra"]
    assert sv.validate(obj) == []  # unknown fields are not structural errors


def test_unknown_fields_nested_and_in_arrays_of_objects(sv: ObjectSchema, keeper: ObjectSchema) -> None:
    obj = securevalue()
    obj["metadata"]["ownerReferences"] = [
        {"apiVersion": "a/v1", "kind": "K", "name": "n", "uid": "1"},
        {"apiVersion": "a/v1", "kind": "K", "name": "m", "uid": "2", "colour": "red"},
    ]
    assert sv.unknown_fields(obj) == ["metadata.ownerReferences[1].colour"]
    k = {
        "spec": {
            "description": "d",
            "aws": {
                "region": "r",
                "accessKeyID": "AKIA",
                "assumeRole": {"assumeRoleArn": "a", "externalID": "e", "x": 1},
            },
        }
    }
    assert keeper.unknown_fields(k) == ["spec.aws.accessKeyID", "spec.aws.assumeRole.x"]
    assert keeper.prune_unknown(k) == {
        "spec": {"description": "d", "aws": {"region": "r", "assumeRole": {"assumeRoleArn": "a", "externalID": "e"}}}
    }


def test_free_form_maps_are_never_unknown(sv: ObjectSchema) -> None:
    obj = securevalue()
    obj["metadata"]["labels"] = {"anything.example.com/x": "1", "y": "2"}
    obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Apply", "whatever": {"nested": [1]}}]
    assert sv.unknown_fields(obj) == []
    assert sv.prune_unknown(obj) == obj


def test_prune_returns_a_copy(sv: ObjectSchema) -> None:
    obj = securevalue()
    obj["spec"]["foo"] = 1
    original = copy.deepcopy(obj)
    pruned = sv.prune_unknown(obj)
    assert obj == original
    assert "foo" not in pruned["spec"] and pruned["spec"]["description"] == "External API Key"
    pruned["metadata"]["labels"]["team"] = "b"
    assert obj["metadata"]["labels"]["team"] == "a"


def test_unknown_top_level_and_non_object_values(sv: ObjectSchema) -> None:
    assert sv.unknown_fields({"spec": "not an object", "weird": 1}) == ["weird"]


# --- descriptions -----------------------------------------------------------------------------------


def test_field_description(sv: ObjectSchema) -> None:
    assert "write-only" in (sv.field_description("spec.value") or "").lower()
    assert sv.field_description("spec.decrypters[0]")
    assert sv.field_description("metadata.ownerReferences[0].uid") == "UID of the owner."
    assert sv.field_description("spec.nope") is None


def _properties(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            yield f"{where}.{name}", sub
        for key, sub in node.items():
            yield from _properties(sub, f"{where}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _properties(sub, f"{where}[{i}]")


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_every_property_has_a_description(name: str) -> None:
    raw = json.loads((SCHEMAS / name).read_text())
    props = list(_properties(raw, name))
    assert props
    missing = [where for where, sub in props if not (isinstance(sub, dict) and str(sub.get("description", "")).strip())]
    assert missing == []
