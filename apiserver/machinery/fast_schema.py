"""A code-generated yes/no check of a schema, run before the full validator.

jsonschema's validator walks the schema interpretively and costs ~300 µs for a SecureValue, most of
a create's validation time; fastjsonschema generates Python code for the same schema that answers
"valid or not" in a few microseconds but reports only its first error, in its own words. So the
compiled check decides the common case (a valid object: no causes), and only an object it rejects
goes to the full validator, which words every cause exactly as before. The two must agree on what
is valid; `tests/unit/test_fast_schema.py` checks that on generated objects.

Only keywords both validators treat alike are compiled. `format` is dropped because jsonschema
(without a format checker, as we run it) ignores it while fastjsonschema would enforce it; a schema
using a keyword outside `_COMPILED` gets no fast check at all rather than a different answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastjsonschema

Check = Callable[[Any], bool]

# Keywords with the same meaning in draft 7 (what fastjsonschema generates) and draft 2020-12.
_COMPILED = {"type", "properties", "required", "additionalProperties", "items", "enum", "const"}
_BOUNDS = {"maxLength", "minLength", "maxItems", "minItems", "maximum", "minimum"}
# Keywords that change nothing about validity.
_ANNOTATIONS = {"title", "description", "deprecated", "format", "$id", "$schema", "$defs", "default", "examples"}


def compile_check(resolved: dict[str, Any]) -> Check | None:
    """A fast validity check for a schema whose `$ref`s are inlined, or None if it uses other keywords."""
    schema = _portable(resolved)
    if schema is None:
        return None
    validate = fastjsonschema.compile(schema, use_default=False, use_formats=False)

    def check(value: Any) -> bool:
        try:
            validate(value)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return check


def _portable(node: Any) -> Any:
    """The schema with annotations removed, or None when a keyword has no identical draft-7 meaning."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS or key.startswith("x-"):
            continue
        if key == "properties":
            properties = {name: _portable(sub) for name, sub in value.items()}
            if any(sub is None for sub in properties.values()):
                return None
            out[key] = properties
        elif key in ("items", "additionalProperties"):
            sub = _portable(value)
            if sub is None:
                return None
            out[key] = sub
        elif key in _COMPILED or key in _BOUNDS:
            out[key] = value
        else:
            return None
    return out
