"""Manifests: multi-document YAML or JSON from files, directories (recursively, in a stable order) or stdin.

Every document keeps where it came from (file and 1-based document index), so a problem can be
reported as `manifests/db.yaml document 2: ...` while the other documents go on. A SecureValue
may name its value indirectly, so that a manifest in git never holds the secret:

    spec:
      valueFrom:
        file: ./secrets/db-password   # relative to the manifest's folder; the bytes as they are
      # or
      valueFrom:
        env: DB_PASSWORD

The value is resolved here, on the client, and sent as `spec.value`.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from ..machinery.documents import yaml_problem
from ..machinery.strategy import ResourceType
from . import kinds

SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


class ManifestError(Exception):
    """A document that cannot be used; the message never contains a value."""


@dataclass
class Document:
    source: str  # the file as given on the command line (or "-")
    index: int  # 1-based position in its file's stream
    obj: dict[str, Any] | None = None
    rtype: ResourceType | None = None
    error: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source} document {self.index}"

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"] if self.obj else ""

    @property
    def folder(self) -> Path:
        return Path.cwd() if self.source == STDIN else Path(self.source).parent

    @property
    def manifest(self) -> dict[str, Any]:
        """The decoded object of a usable document (one without an error)."""
        if self.obj is None:
            raise ValueError(f"{self.where} is not usable: {self.error}")
        return self.obj

    @property
    def kind(self) -> ResourceType:
        """The resource type of a usable document (one without an error)."""
        if self.rtype is None:
            raise ValueError(f"{self.where} is not usable: {self.error}")
        return self.rtype

    def namespace(self, default: str) -> str:
        if self.rtype is None or not self.rtype.namespaced:
            return ""
        return (self.obj or {}).get("metadata", {}).get("namespace") or default


def files(paths: list[str]) -> Iterator[str]:
    """Each path in order; a directory expands to its manifest files, recursively, sorted by path."""
    for given in paths:
        if given == STDIN:
            yield STDIN
            continue
        path = Path(given)
        if path.is_dir():
            found = [
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix in SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            ]
            yield from (str(p) for p in sorted(found, key=lambda p: p.relative_to(path).parts))
        else:
            yield given


def read(paths: list[str], stdin: TextIO | None = None) -> list[Document]:
    """All documents of all paths; unreadable ones carry an `error` instead of an object."""
    documents: list[Document] = []
    for source in files(paths):
        try:
            text = (stdin or sys.stdin).read() if source == STDIN else Path(source).read_text(encoding="utf-8")
        except FileNotFoundError:
            documents.append(Document(source, 0, error=f"{source}: no such file or directory"))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            documents.append(Document(source, 0, error=f"{source}: cannot read: {_one_line(exc)}"))
            continue
        documents.extend(parse(source, text))
    return documents


def parse(source: str, text: str) -> Iterator[Document]:
    index = 0
    stream = yaml.safe_load_all(text)  # JSON is YAML, so one parser serves both
    while True:
        index += 1
        try:
            data = next(stream)
        except StopIteration:
            return
        except yaml.YAMLError as exc:
            # The parser cannot resynchronise inside a broken document: the rest of this file is lost.
            yield Document(source, index, error=f"{source} document {index}: malformed YAML: {yaml_problem(exc)}")
            return
        if data is None:
            continue  # an empty document (`---` at the end), as kubectl skips it
        if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
            for item in data["items"]:
                yield _checked(Document(source, index), item)
            continue
        yield _checked(Document(source, index), data)


def _checked(doc: Document, data: Any) -> Document:
    try:
        if not isinstance(data, dict):
            raise ManifestError(f"expected an object, got {_type_name(data)}")
        if not data.get("apiVersion") or not data.get("kind"):
            raise ManifestError("apiVersion and kind are required")
        rtype = kinds.by_manifest(data.get("apiVersion"), data.get("kind"))
        if rtype is None:
            raise ManifestError(
                f'unknown kind "{data.get("kind")}" of apiVersion "{data.get("apiVersion")}" '
                f"(known: {', '.join(f'{k.api_version} {k.kind}' for k in kinds.KINDS)})"
            )
        meta = data.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            if isinstance(meta, dict) and meta.get("generateName"):
                raise ManifestError(
                    "metadata.name is required: an object with only generateName gets a new name "
                    "on every create, so it cannot be applied again"
                )
            raise ManifestError("metadata.name is required")
        if "namespace" in meta and not isinstance(meta["namespace"], str):
            raise ManifestError("metadata.namespace must be a string")
        spec = data.get("spec")
        if rtype is not kinds.SECURE_VALUES and isinstance(spec, dict) and "valueFrom" in spec:
            raise ManifestError(f"spec.valueFrom is only for {kinds.SECURE_VALUES.kind}")
    except ManifestError as exc:
        doc.error = f"{doc.where}: {exc}"
        return doc
    doc.obj, doc.rtype = data, rtype
    return doc


def resolve_value(doc: Document, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The object to send: `spec.valueFrom` replaced by `spec.value`. Raises ManifestError."""
    assert doc.obj is not None
    obj = copy.deepcopy(doc.obj)
    spec = obj.get("spec")
    if not isinstance(spec, dict) or "valueFrom" not in spec:
        return obj
    source = spec.pop("valueFrom")
    if "value" in spec:
        raise ManifestError(f"{doc.where}: spec.value and spec.valueFrom cannot both be set")
    if not isinstance(source, dict) or len(source) != 1 or not {"file", "env"} & set(source):
        raise ManifestError(f"{doc.where}: spec.valueFrom must be either {{file: PATH}} or {{env: VARIABLE}}")
    if "file" in source:
        spec["value"] = _value_from_file(doc, source["file"])
    else:
        spec["value"] = _value_from_env(doc, source["env"], os.environ if environ is None else environ)
    return obj


def _value_from_file(doc: Document, given: Any) -> str:
    if not isinstance(given, str) or not given:
        raise ManifestError(f"{doc.where}: spec.valueFrom.file must be a path")
    path = doc.folder / Path(given).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"{doc.where}: spec.valueFrom.file: {path}: no such file") from None
    except OSError as exc:
        raise ManifestError(f"{doc.where}: spec.valueFrom.file: {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")  # the bytes as they are: no newline stripped, nothing trimmed
    except UnicodeDecodeError:
        raise ManifestError(f"{doc.where}: spec.valueFrom.file: {path}: not UTF-8 text (values are strings)") from None


def _value_from_env(doc: Document, name: Any, environ: Mapping[str, str]) -> str:
    if not isinstance(name, str) or not name:
        raise ManifestError(f"{doc.where}: spec.valueFrom.env must be a variable name")
    if name not in environ:
        raise ManifestError(f"{doc.where}: spec.valueFrom.env: environment variable {name} is not set")
    return environ[name]


def _type_name(data: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(data), type(data).__name__
    )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
