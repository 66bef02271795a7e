"""Name, label and annotation validation with apimachinery's exact messages.

The checks and wording follow `k8s.io/apimachinery/pkg/util/validation/validation.go`,
`pkg/apis/meta/v1/validation` (labels) and `pkg/api/validation/objectmeta.go` (annotations).
Lengths are counted in UTF-8 bytes, as Go's `len` does.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from apiserver.machinery.errors import Cause, field_error

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"

# Explicit ASCII classes plus fullmatch: Python's `$` would accept a trailing newline.
_DNS1123_LABEL = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT)
_QUALIFIED_NAME = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT)

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """`validation.RegexError`, including its odd `'a',  or 'b'` example spacing."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    listed = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {listed}regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _size(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def dns1123_subdomain_errors(value: str) -> list[str]:
    """`IsDNS1123Subdomain`: object names of most kinds."""
    errs = []
    if _size(value) > 253:
        errs.append(max_len_error(253))
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def dns1123_label_errors(value: str) -> list[str]:
    """`IsDNS1123Label`: namespace names."""
    errs = []
    if _size(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1123_LABEL.fullmatch(value):
        if _DNS1123_SUBDOMAIN.fullmatch(value):  # a valid subdomain but not a label: it has dots
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def label_value_errors(value: str) -> list[str]:
    """`IsValidLabelValue`: empty, or up to 63 alphanumerics, `-`, `_`, `.` starting and ending alphanumeric."""
    errs = []
    if _size(value) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def qualified_name_errors(value: str) -> list[str]:
    """`IsQualifiedName`: label and annotation keys, `[prefix/]name`."""
    errs: list[str] = []
    parts = value.split("/")
    rule = regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
    if len(parts) > 2:
        return [f"a qualified name {rule} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + msg for msg in dns1123_subdomain_errors(prefix))
    if not name:
        errs.append("name part must be non-empty")
    elif _size(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QUALIFIED_NAME.fullmatch(name):
        errs.append("name part " + rule)
    return errs


def _json_type(value: Any) -> str:
    """The JSON type name of a decoded value, for type errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, (list, tuple)) else "object"


def _string_map_errors(value: Any, path: str) -> tuple[dict[str, str], list[Cause]]:
    """Split a decoded map into its well-typed str->str entries and type errors for the rest."""
    if value is None:
        return {}, []
    if not isinstance(value, Mapping):
        return {}, [field_error("type_invalid", path, "must be of type object", _json_type(value))]
    good: dict[str, str] = {}
    causes: list[Cause] = []
    for key, item in value.items():
        if not isinstance(key, str):
            causes.append(field_error("type_invalid", path, "keys must be of type string", _json_type(key)))
        elif not isinstance(item, str):
            causes.append(field_error("type_invalid", f"{path}[{key}]", "must be of type string", _json_type(item)))
        else:
            good[key] = item
    return good, causes


def validate_labels(labels: Any, path: str = "metadata.labels") -> list[Cause]:
    """`ValidateLabels`: every key a qualified name, every value a label value; errors point at the map."""
    good, causes = _string_map_errors(labels, path)
    for key, value in good.items():
        causes.extend(field_error("invalid", path, msg, key) for msg in qualified_name_errors(key))
        causes.extend(field_error("invalid", path, msg, value) for msg in label_value_errors(value))
    return causes


def validate_annotations(
    annotations: Any, path: str = "metadata.annotations", max_total_bytes: int = TOTAL_ANNOTATION_SIZE_LIMIT
) -> list[Cause]:
    """`ValidateAnnotations`: keys are qualified names (case-insensitively) and the map has a size cap."""
    good, causes = _string_map_errors(annotations, path)
    for key in good:
        # Upstream lower-cases the key first: annotation keys may use upper case in the prefix too.
        causes.extend(field_error("invalid", path, msg, key) for msg in qualified_name_errors(key.lower()))
    total = sum(_size(key) + _size(value) for key, value in good.items())
    if total > max_total_bytes:
        unit = "byte" if max_total_bytes == 1 else "bytes"
        causes.append(field_error("too_long", path, f"may not be more than {max_total_bytes} {unit}"))
    return causes


GENERATE_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_GENERATED_PREFIX = 63 - 5  # a label's length minus the random suffix


def generate_name(prefix: str) -> str:
    """`SimpleNameGenerator.GenerateName`: the prefix cut to 58 characters plus five random ones."""
    suffix = "".join(secrets.choice(GENERATE_SUFFIX_ALPHABET) for _ in range(5))
    return prefix[:_MAX_GENERATED_PREFIX] + suffix


__all__ = [
    "GENERATE_SUFFIX_ALPHABET",
    "TOTAL_ANNOTATION_SIZE_LIMIT",
    "dns1123_label_errors",
    "dns1123_subdomain_errors",
    "generate_name",
    "label_value_errors",
    "max_len_error",
    "qualified_name_errors",
    "regex_error",
    "validate_annotations",
    "validate_labels",
]
