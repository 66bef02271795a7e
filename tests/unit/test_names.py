"""Name, label and annotation validation against apimachinery's rules and wording."""

from __future__ import annotations

import re

import pytest

from apiserver.machinery.errors import Cause
from apiserver.machinery.names import (
    GENERATE_SUFFIX_ALPHABET,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    generate_name,
    label_value_errors,
    qualified_name_errors,
    validate_annotations,
    validate_labels,
)

SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize(
    "value", ["a", "0", "abc", "a-b", "a.b", "a--b.c-d", "1.2.3", "a" * 253, ".".join(["a" * 63] * 3) + ".abc"]
)
def test_valid_subdomains(value: str) -> None:
    assert dns1123_subdomain_errors(value) == []


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("", [SUBDOMAIN_RULE]),
        ("A", [SUBDOMAIN_RULE]),
        ("-a", [SUBDOMAIN_RULE]),
        ("a-", [SUBDOMAIN_RULE]),
        ("a..b", [SUBDOMAIN_RULE]),
        (".a", [SUBDOMAIN_RULE]),
        ("a_b", [SUBDOMAIN_RULE]),
        ("a b", [SUBDOMAIN_RULE]),
        ("a\n", [SUBDOMAIN_RULE]),  # a trailing newline is not "end of string"
        ("é", [SUBDOMAIN_RULE]),
        ("a" * 254, ["must be no more than 253 characters"]),
        ("A" * 254, ["must be no more than 253 characters", SUBDOMAIN_RULE]),
    ],
)
def test_invalid_subdomains(value: str, errors: list[str]) -> None:
    assert dns1123_subdomain_errors(value) == errors


@pytest.mark.parametrize("value", ["a", "default", "kube-system", "0a", "a" * 63])
def test_valid_labels(value: str) -> None:
    assert dns1123_label_errors(value) == []


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("", [LABEL_RULE]),
        ("Default", [LABEL_RULE]),
        ("a_b", [LABEL_RULE]),
        ("-a", [LABEL_RULE]),
        ("a.b", ["must not contain dots"]),  # a subdomain but not a label
        ("a" * 64, ["must be no more than 63 characters"]),
        ("a." * 32 + "a", ["must be no more than 63 characters", "must not contain dots"]),
    ],
)
def test_invalid_labels(value: str, errors: list[str]) -> None:
    assert dns1123_label_errors(value) == errors


@pytest.mark.parametrize("value", ["", "a", "A", "MyValue", "my_value", "12345", "a.b-c_d", "x" * 63])
def test_valid_label_values(value: str) -> None:
    assert label_value_errors(value) == []


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("-a", [VALUE_RULE]),
        ("a-", [VALUE_RULE]),
        ("_", [VALUE_RULE]),
        ("a b", [VALUE_RULE]),
        ("a/b", [VALUE_RULE]),
        ("a\n", [VALUE_RULE]),
        ("x" * 64, ["must be no more than 63 characters"]),
        ("-" * 64, ["must be no more than 63 characters", VALUE_RULE]),
        ("é" * 32, ["must be no more than 63 characters", VALUE_RULE]),  # 64 bytes: Go counts bytes
    ],
)
def test_invalid_label_values(value: str, errors: list[str]) -> None:
    assert label_value_errors(value) == errors


@pytest.mark.parametrize(
    "value",
    [
        "a",
        "MyName",
        "my.name",
        "123-abc",
        "example.com/MyName",
        "app.kubernetes.io/name",
        "a/b",
        "x" * 63,
        "a" * 253 + "/" + "b" * 63,
    ],
)
def test_valid_qualified_names(value: str) -> None:
    assert qualified_name_errors(value) == []


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ("", ["name part must be non-empty", "name part " + NAME_RULE]),
        ("-a", ["name part " + NAME_RULE]),
        ("a:b", ["name part " + NAME_RULE]),
        ("x" * 64, ["name part must be no more than 63 characters"]),
        ("/a", ["prefix part must be non-empty"]),
        ("a/", ["name part must be non-empty", "name part " + NAME_RULE]),
        ("Example.com/a", ["prefix part " + SUBDOMAIN_RULE]),
        ("a_b/c", ["prefix part " + SUBDOMAIN_RULE]),
        ("a" * 254 + "/b", ["prefix part must be no more than 253 characters"]),
        (
            "a/b/c",
            [
                "a qualified name " + NAME_RULE + " with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')"
            ],
        ),
    ],
)
def test_invalid_qualified_names(value: str, errors: list[str]) -> None:
    assert qualified_name_errors(value) == errors


# --- labels and annotations ---------------------------------------------------------------------


@pytest.mark.parametrize("labels", [None, {}, {"a": ""}, {"app.kubernetes.io/name": "web", "tier": "Front_1"}])
def test_valid_label_maps(labels: dict | None) -> None:
    assert validate_labels(labels) == []


def test_label_errors_point_at_the_map_and_show_the_bad_part() -> None:
    causes = validate_labels({"bad key": "ok", "good": "bad value"})
    assert causes == [
        Cause("metadata.labels", "FieldValueInvalid", 'Invalid value: "bad key": name part ' + NAME_RULE),
        Cause("metadata.labels", "FieldValueInvalid", f'Invalid value: "bad value": {VALUE_RULE}'),
    ]


def test_label_key_and_value_can_both_fail() -> None:
    causes = validate_labels({"/x": "y" * 64}, path="spec.template.labels")
    assert [c.field for c in causes] == ["spec.template.labels"] * 2
    assert [c.message for c in causes] == [
        'Invalid value: "/x": prefix part must be non-empty',
        f'Invalid value: "{"y" * 64}": must be no more than 63 characters',
    ]


@pytest.mark.parametrize(
    ("labels", "field", "message"),
    [
        ("x", "metadata.labels", 'Invalid value: "string": must be of type object'),
        (["a"], "metadata.labels", 'Invalid value: "array": must be of type object'),
        (3, "metadata.labels", 'Invalid value: "integer": must be of type object'),
        ({"a": 1}, "metadata.labels[a]", 'Invalid value: "integer": must be of type string'),
        ({"a": None}, "metadata.labels[a]", 'Invalid value: "null": must be of type string'),
        ({"a": True}, "metadata.labels[a]", 'Invalid value: "boolean": must be of type string'),
        ({"a": {"b": "c"}}, "metadata.labels[a]", 'Invalid value: "object": must be of type string'),
    ],
)
def test_label_type_errors(labels: object, field: str, message: str) -> None:
    assert validate_labels(labels) == [Cause(field, "FieldValueTypeInvalid", message)]


def test_annotations_allow_any_values_and_case_insensitive_keys() -> None:
    annotations = {"Example.COM/Some-Key": 'any value at all: {"json": true}\n', "note": ""}
    assert validate_annotations(annotations) == []
    assert validate_annotations(None) == []


def test_annotation_key_errors_show_the_original_key() -> None:
    assert validate_annotations({"a b": "x"}) == [
        Cause("metadata.annotations", "FieldValueInvalid", 'Invalid value: "a b": name part ' + NAME_RULE),
    ]


@pytest.mark.parametrize(("size", "too_long"), [(256 * 1024, False), (256 * 1024 + 1, True)])
def test_annotation_total_size_limit(size: int, too_long: bool) -> None:
    annotations = {"k": "v" * (size - 1)}
    expected = (
        [Cause("metadata.annotations", "FieldValueTooLong", "Too long: may not be more than 262144 bytes")]
        if too_long
        else []
    )
    assert validate_annotations(annotations) == expected


def test_annotation_size_counts_keys_and_utf8_bytes() -> None:
    assert validate_annotations({"ab": "é"}, max_total_bytes=4) == []
    assert validate_annotations({"abc": "é"}, max_total_bytes=4) == [
        Cause("metadata.annotations", "FieldValueTooLong", "Too long: may not be more than 4 bytes"),
    ]


def test_annotation_type_errors() -> None:
    assert validate_annotations({"a": 1}) == [
        Cause("metadata.annotations[a]", "FieldValueTypeInvalid", 'Invalid value: "integer": must be of type string'),
    ]


# --- generateName -------------------------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "kept"), [("", ""), ("db-", "db-"), ("x" * 58, "x" * 58), ("y" * 80, "y" * 58)])
def test_generate_name(prefix: str, kept: str) -> None:
    name = generate_name(prefix)
    assert name.startswith(kept) and len(name) == len(kept) + 5
    assert re.fullmatch(f"[{GENERATE_SUFFIX_ALPHABET}]{{5}}", name[len(kept) :])


def test_generated_names_are_random_and_valid() -> None:
    names = {generate_name("secret-") for _ in range(50)}
    assert len(names) > 45
    assert all(dns1123_subdomain_errors(name) == [] for name in names)
    assert GENERATE_SUFFIX_ALPHABET == "bcdfghjklmnpqrstvwxz2456789"
