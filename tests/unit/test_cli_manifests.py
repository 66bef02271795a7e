"""Reading manifests and printing tables for the client commands, without a server."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from apiserver.cli import manifests, printers
from apiserver.cli.manifests import ManifestError

SV = "apiVersion: secret.grafana.app/v1beta1\nkind: SecureValue\nmetadata: {{name: {name}}}\nspec: {spec}\n"


def test_directories_are_read_recursively_in_path_order(tmp_path):
    for rel in ("b.yaml", "a/z.yml", "a/b.json", ".hidden/x.yaml", "notes.txt", "c/.x.yaml"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert [Path(p).relative_to(tmp_path).as_posix() for p in manifests.files([str(tmp_path)])] == [
        "a/b.json",
        "a/z.yml",
        "b.yaml",
    ]


def test_documents_keep_their_index_and_lists_expand(tmp_path):
    text = (
        "---\n"
        + SV.format(name="one", spec="{description: d, value: v}")
        + "---\n---\n"
        + "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: ns1}}\n"
        + "---\n42\n"
    )
    docs = list(manifests.parse("f.yaml", text))
    assert [(d.index, d.name, d.error) for d in docs] == [
        (1, "one", None),
        (3, "ns1", None),
        (4, "", "f.yaml document 4: expected an object, got a number"),
    ]


def test_stdin_is_read_once(tmp_path):
    docs = manifests.read(["-"], stdin=io.StringIO(SV.format(name="x", spec="{description: d}")))
    assert [(d.source, d.name) for d in docs] == [("-", "x")]


def test_value_from_is_resolved_and_never_echoed(tmp_path):
    (tmp_path / "pw").write_bytes(b"line one\r\nline two\n")
    path = tmp_path / "m.yaml"
    path.write_text(
        SV.format(name="f", spec="{description: d, valueFrom: {file: pw}}")
        + "---\n"
        + SV.format(name="e", spec="{description: d, valueFrom: {env: TOKEN}}")
        + "---\n"
        + SV.format(name="both", spec="{description: d, value: x, valueFrom: {env: TOKEN}}")
    )
    from_file, from_env, both = manifests.read([str(path)])
    assert manifests.resolve_value(from_file)["spec"] == {"description": "d", "value": "line one\r\nline two\n"}
    assert manifests.resolve_value(from_env, {"TOKEN": "t0k"})["spec"] == {"description": "d", "value": "t0k"}
    assert from_env.obj["spec"]["valueFrom"] == {"env": "TOKEN"}  # the document itself is left as it was
    with pytest.raises(ManifestError, match="environment variable TOKEN is not set"):
        manifests.resolve_value(from_env, {})
    with pytest.raises(ManifestError, match="cannot both be set") as raised:
        manifests.resolve_value(both, {"TOKEN": "t0k"})
    assert "t0k" not in str(raised.value)


def test_value_from_only_for_secure_values():
    [doc] = manifests.parse(
        "k.yaml",
        "apiVersion: secret.grafana.app/v1beta1\nkind: Keeper\nmetadata: {name: k}\n"
        "spec: {description: d, valueFrom: {env: X}}\n",
    )
    assert doc.error == "k.yaml document 1: spec.valueFrom is only for SecureValue"


def test_table_alignment_and_namespaces():
    body = {
        "columnDefinitions": [{"name": "Name"}, {"name": "Age"}, {"name": "Ref", "priority": 1}],
        "rows": [
            {"cells": ["a-long-name", "5s", "r"], "object": {"metadata": {"namespace": "ns-one"}}},
            {"cells": ["b", "10d", None], "object": {"metadata": {"namespace": "x"}}},
        ],
    }
    assert printers.table(body) == "NAME          AGE\na-long-name   5s\nb             10d\n"
    assert printers.table(body, all_namespaces=True, wide=True).splitlines() == [
        "NAMESPACE   NAME          AGE   REF",
        "ns-one      a-long-name   5s    r",
        "x           b             10d   <none>",
    ]
