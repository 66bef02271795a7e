"""Decoding JSON and YAML documents from clients: one document, bounded in depth, without aliases.

Errors say what is wrong and where (line and column), never quote the document: it may carry a
secret value. A key repeated within one object is reported, never silently resolved to its last
value: `decode_document` refuses it; `decode_with_duplicates` names the duplicated fields so that a
caller can apply `fieldValidation` (Strict refuses, Warn warns, Ignore keeps the last value).
YAML anchors and aliases are refused as soon as the constructor meets a node for the second time,
before anything is expanded: a few hundred bytes of aliases ("billion laughs") cost nothing.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import yaml

from .errors import bad_request

YAML_MEDIA_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml")
# No object of ours nests deeper than a few levels; the limit keeps recursive code far from Python's stack limit.
MAX_DEPTH = 100
ALIASES_REFUSED = "YAML aliases are not accepted"

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: linear and in C


class AliasRefused(yaml.YAMLError):
    problem = ALIASES_REFUSED
    problem_mark = None


class StrictYamlLoader(_Base):
    """Safe YAML without aliases; timestamps stay strings (JSON has none); repeated keys are recorded."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.repeated: dict[int, list[str]] = {}  # id(mapping) -> its keys given more than once

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:  # an alias: refuse, never expand
            raise AliasRefused()
        return super().construct_object(node, deep)

    def construct_yaml_map(self, node: yaml.MappingNode) -> Any:
        data: dict[Any, Any] = {}
        yield data
        mapping = self.construct_mapping(node)
        data.update(mapping)
        if len(mapping) != len(node.value):
            self.repeated[id(data)] = _repeated([key.value for key, _ in node.value])


StrictYamlLoader.add_constructor("tag:yaml.org,2002:map", StrictYamlLoader.construct_yaml_map)
StrictYamlLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def yaml_problem(exc: Exception) -> str:
    """What went wrong and where, without PyYAML's snippet of the document."""
    if isinstance(exc, UnicodeDecodeError):
        return f"the document is not valid UTF-8 (byte {exc.start})"
    problem = getattr(exc, "problem", None) or "the document is not valid YAML"
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def load_yaml(raw: bytes | str) -> tuple[list[Any], list[str]]:
    """Every document of a YAML stream, and the paths of the fields repeated in them (`a.b`, `items[2].c`)."""
    loader = StrictYamlLoader(raw)
    try:
        documents = []
        while loader.check_data():
            documents.append(loader.get_data())
    finally:
        loader.dispose()
    duplicates = [path for document in documents for path in _repeated_paths(document, loader.repeated)]
    return documents, duplicates


# A JSON string token, and whether a colon follows it (then it is a key). Used on JSON that a parser
# already accepted, so every quote outside a string starts a string token.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"(\s*:)?', re.DOTALL)


def json_duplicates(raw: bytes, document: Any) -> list[str]:
    """The paths of keys repeated in one object of an accepted JSON text, in linear time.

    The keys of the text are counted and compared with the keys of the decoded document: the same
    count means no repetition, which is the common case. Only otherwise is the text decoded again,
    noting which objects had a key twice.
    """
    written = sum(1 for match in _JSON_STRING.finditer(raw) if match.group(1))
    if written == _count_keys(document):
        return []
    import json

    repeated: dict[int, list[str]] = {}

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping = dict(pairs)
        if len(mapping) != len(pairs):
            repeated[id(mapping)] = _repeated([key for key, _ in pairs])
        return mapping

    return _repeated_paths(json.loads(raw, object_pairs_hook=pairs_hook), repeated)


def _repeated(keys: list[Any]) -> list[str]:
    seen: set[Any] = set()
    repeated = []
    for key in keys:
        if key in seen:
            repeated.append(str(key))
        seen.add(key)
    return repeated


def _count_keys(document: Any) -> int:
    count, stack = 0, [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += len(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def _repeated_paths(document: Any, repeated: dict[int, list[str]]) -> list[str]:
    if not repeated:
        return []
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            found += [f"{path}.{key}" if path else str(key) for key in repeated.get(id(node), ())]
            stack.extend((value, f"{path}.{key}" if path else str(key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, f"{path}[{index}]") for index, value in enumerate(node))
    return sorted(found)


def decode_with_duplicates(raw: bytes, content_type: str) -> tuple[Any, list[str]]:
    """One JSON or YAML document and the paths of its repeated fields; undecodable is a 400 naming the problem."""
    if not raw.strip():
        raise bad_request("the request body is empty")
    if content_type in YAML_MEDIA_TYPES:
        try:
            documents, duplicates = load_yaml(raw)
        except RecursionError:
            raise bad_request(f"the request body is nested more than {MAX_DEPTH} levels deep") from None
        except yaml.YAMLError as exc:
            raise bad_request(f"the request body is not valid YAML: {yaml_problem(exc)}") from None
        if len(documents) != 1:
            raise bad_request("the request body must hold exactly one YAML document")
        return check_document(documents[0], len(raw)), duplicates
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    return check_document(document, len(raw)), json_duplicates(raw, document)


def decode_document(raw: bytes, content_type: str) -> Any:
    """One JSON or YAML document in which no key repeats (a repeated key is a 400 naming its field)."""
    document, duplicates = decode_with_duplicates(raw, content_type)
    if duplicates:
        raise bad_request(duplicate_fields_message(duplicates))
    return document


def duplicate_fields_message(paths: list[str]) -> str:
    return "strict decoding error: " + duplicate_fields(paths)


def duplicate_fields(paths: list[str]) -> str:
    return ", ".join(f'duplicate field "{path}"' for path in paths)


def check_document(document: Any, size: int) -> Any:
    """Refuse documents nested too deeply (recursive code downstream stays far from the stack limit)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    budget = size + 16
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:  # more values than bytes: cannot happen without aliases; kept as a safety net
            raise bad_request("the request body expands to more values than it holds")
        if depth > MAX_DEPTH:
            raise bad_request(f"the request body is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return document
