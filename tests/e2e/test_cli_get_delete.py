"""`apiserver get` in every output format and `apiserver delete` by file, name and selector."""

from __future__ import annotations

import json

import pytest
import yaml
from cli_runner import cli, get_sv, names_in, secure_value_yaml, server, write  # noqa: F401 (pytest fixtures)


@pytest.fixture
def populated(server, cli, tmp_path):
    cli.team_b = f"{cli.namespace}-b"
    server.create_namespace(cli.team_b)
    manifest = (
        secure_value_yaml(
            "db-password", "database password", labels="{app: billing}", decrypters="[billing-svc, audit]"
        )
        + "---\n"
        + secure_value_yaml("api-key", "api key", labels="{app: billing}")
        + "---\n"
        + secure_value_yaml("shop-token", "shop", labels="{app: shop}")
        + "---\n"
        + secure_value_yaml("b-value", "in team b", namespace=cli.team_b)
    )
    applied = cli("apply", "-f", str(write(tmp_path / "m.yaml", manifest)))
    assert applied.rc == 0, applied.err
    return tmp_path / "m.yaml"


def test_get_table_is_aligned_like_kubectl(cli, populated):
    table = cli("get", "securevalues")
    assert table.rc == 0, table.err
    header, *rows = table.lines
    assert header.split() == ["NAME", "DESCRIPTION", "KEEPER", "DECRYPTERS", "VERSION", "AGE"]
    assert [row.split()[0] for row in rows] == ["api-key", "db-password", "shop-token"]
    # Columns start at the same offset in every line, three spaces after the widest cell.
    assert header.index("DESCRIPTION") == len("db-password") + 3
    for row in rows:
        assert row[header.index("KEEPER") :].startswith("system")
    assert "billing-svc,audit" in table.out

    wide = cli("get", "sv", "-o", "wide")
    assert wide.lines[0].split()[-1] == "REF"

    everywhere = cli("get", "sv", "-A")
    assert everywhere.lines[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert [cli.team_b, "b-value"] in [line.split()[:2] for line in everywhere.lines[1:]]

    selected = cli("get", "sv", "-l", "app=billing")
    assert [line.split()[0] for line in selected.lines[1:]] == ["api-key", "db-password"]
    one = cli("get", "securevalue", "db-password")
    assert [line.split()[0] for line in one.lines] == ["NAME", "db-password"]
    assert cli("get", "sv", "-n", cli.team_b).lines[1].split()[0] == "b-value"


def test_get_yaml_json_and_name(cli, populated):
    one = yaml.safe_load(cli("get", "sv", "db-password", "-o", "yaml").out)
    assert one["kind"] == "SecureValue" and one["metadata"]["name"] == "db-password"
    assert "value" not in one["spec"] and "managedFields" not in one["metadata"]
    assert (
        "managedFields"
        in yaml.safe_load(cli("get", "sv", "db-password", "-o", "yaml", "--show-managed-fields").out)["metadata"]
    )
    listed = json.loads(cli("get", "sv", "-l", "app=billing", "-o", "json").out)
    assert listed["kind"] == "SecureValueList"
    assert [item["metadata"]["name"] for item in listed["items"]] == ["api-key", "db-password"]
    two = yaml.safe_load(cli("get", "sv", "api-key", "shop-token", "-o", "yaml").out)
    assert two["kind"] == "List" and [i["metadata"]["name"] for i in two["items"]] == ["api-key", "shop-token"]
    assert cli("get", "sv", "-o", "name").lines == [
        "securevalue/api-key",
        "securevalue/db-password",
        "securevalue/shop-token",
    ]
    assert f"namespace/{cli.team_b}" in cli("get", "namespaces", "-o", "name").lines
    assert cli("get", "ns").lines[0].split()[0] == "NAME"


def test_get_reports_what_is_missing(cli, populated):
    empty = cli("get", "keepers")
    assert (empty.rc, empty.out, empty.err.strip()) == (0, "", f"No resources found in {cli.namespace} namespace.")
    missing = cli("get", "sv", "api-key", "nope")
    assert missing.rc == 1
    assert missing.lines[1].split()[0] == "api-key"
    assert missing.errors == ['error: NotFound (404): securevalues.secret.grafana.app "nope" not found']
    unknown = cli("get", "secrets")
    assert unknown.rc == 1 and unknown.errors == [
        'error: unknown resource type "secrets": use one of securevalues, keepers, namespaces'
    ]


def test_delete_by_name_file_and_selector(server, cli, populated, tmp_path):
    assert cli("delete", "securevalue", "api-key").lines == ["securevalue/api-key deleted"]
    assert cli("delete", "sv/shop-token", "--dry-run=server").lines == [
        "securevalue/shop-token deleted (server dry run)"
    ]
    assert get_sv(server, cli.namespace, "shop-token") is not None
    missing = cli("delete", "sv", "api-key")
    assert missing.rc == 1 and "NotFound (404)" in missing.err
    assert cli("delete", "sv", "api-key", "--ignore-not-found").rc == 0

    by_label = cli("delete", "-l", "app=billing")
    assert by_label.lines == ["securevalue/db-password deleted"], by_label.err
    assert names_in(server, cli.namespace) == ["shop-token"]

    by_file = cli("delete", "-f", str(populated))
    assert by_file.rc == 1  # two of the file's objects are gone already: reported, the others still deleted
    assert "securevalue/shop-token deleted" in by_file.lines and "securevalue/b-value deleted" in by_file.lines
    assert len(by_file.errors) == 2 and all("m.yaml document" in line for line in by_file.errors)
    assert names_in(server, cli.namespace) == [] and names_in(server, cli.team_b) == []


def test_delete_needs_exactly_one_way(cli, tmp_path):
    for args in ((), ("sv",), ("-f", str(tmp_path / "m.yaml"), "sv", "x"), ("sv", "x", "-l", "a=b")):
        result = cli("delete", *args)
        assert result.rc == 1 and len(result.errors) == 1, (args, result.err)
