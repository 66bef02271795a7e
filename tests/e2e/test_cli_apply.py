"""`apiserver apply` and `apiserver diff` as users run them: real subprocesses against a real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import Cli, cli, decrypt, get_sv, names_in, secure_value_yaml, server, service_token, write  # noqa: F401 (pytest fixtures)

REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> Path:
    """Manifests in nested folders, a multi-document file, JSON, and values from a file and the environment."""
    write(
        root / "b-values.yaml",
        secure_value_yaml(
            "db-password",
            "database password",
            labels="{app: billing}",
            value_from="{file: secrets/db-password.txt}",
            decrypters="[billing-svc]",
        )
        + "---\n"
        + secure_value_yaml(
            "api-key",
            "api key",
            labels="{app: billing}",
            value_from="{env: BILLING_API_KEY}",
            decrypters="[billing-svc]",
        ),
    )
    write(
        root / "a-first.json",
        '{"apiVersion": "secret.grafana.app/v1beta1", "kind": "SecureValue", '
        '"metadata": {"name": "from-json", "labels": {"app": "billing"}}, '
        '"spec": {"description": "json", "value": "j"}}',
    )
    write(root / "nested" / "deeper" / "c.yml", secure_value_yaml("nested-one", "nested", labels="{app: billing}"))
    (root / "secrets").mkdir(parents=True, exist_ok=True)
    (root / "secrets" / "db-password.txt").write_bytes("pässword with spaces \n\n".encode())
    write(root / "README.md", "not a manifest\n")
    return root


def test_apply_twice_then_after_an_edit(server, cli, tmp_path):
    root = _tree(tmp_path / "manifests")
    env = cli.env(BILLING_API_KEY="key-1")
    first = cli("apply", "-f", str(root), env=env)
    assert first.rc == 0, first.err
    # Stable order: files by path (a-first.json, b-values.yaml, nested/deeper/c.yml), documents in file order.
    assert first.lines == [
        "securevalue/from-json created",
        "securevalue/db-password created",
        "securevalue/api-key created",
        "securevalue/nested-one created",
    ]
    versions = {
        name: get_sv(server, cli.namespace, name)["metadata"]["resourceVersion"]
        for name in names_in(server, cli.namespace)
    }

    second = cli("apply", "-f", str(root), env=env)
    assert second.rc == 0, second.err
    assert second.lines == [
        "securevalue/from-json unchanged",
        "securevalue/db-password unchanged",
        "securevalue/api-key unchanged",
        "securevalue/nested-one unchanged",
    ]
    assert {n: get_sv(server, cli.namespace, n)["metadata"]["resourceVersion"] for n in versions} == versions

    write(
        root / "nested" / "deeper" / "c.yml", secure_value_yaml("nested-one", "nested, edited", labels="{app: billing}")
    )
    third = cli("apply", "-f", str(root), env=env)
    assert third.rc == 0, third.err
    assert third.lines == [
        "securevalue/from-json unchanged",
        "securevalue/db-password unchanged",
        "securevalue/api-key unchanged",
        "securevalue/nested-one configured",
    ]
    assert get_sv(server, cli.namespace, "nested-one")["spec"]["description"] == "nested, edited"

    # A new value from the environment is a change too, though the manifest is the same.
    fourth = cli("apply", "-f", str(root), env=cli.env(BILLING_API_KEY="key-2"))
    assert fourth.lines[2] == "securevalue/api-key configured"
    assert get_sv(server, cli.namespace, "api-key")["status"]["version"] == 2
    for result in (first, second, third, fourth):
        assert "key-1" not in result.out + result.err and "pässword" not in result.out + result.err


def test_value_from_file_and_env_store_the_exact_value(server_factory, tmp_path):
    server = server_factory()  # its own: it is stopped to search its files for the plaintext
    cli = Cli(server, tmp_path / "home")
    root = _tree(tmp_path / "manifests")
    odd = "emoji \U0001f600, DEL \x7f, C1 \x9d, NUL-free \r\n"
    (root / "secrets" / "odd.txt").write_bytes(odd.encode())
    write(
        root / "z-odd.yaml",
        secure_value_yaml("odd", "odd characters", value_from="{file: secrets/odd.txt}", decrypters="[billing-svc]"),
    )
    applied = cli("apply", "-f", str(root), env=cli.env(BILLING_API_KEY="  key with spaces\t"))
    assert applied.rc == 0, applied.err
    token = service_token(cli, cli.namespace, "billing-svc")
    assert decrypt(server, token, cli.namespace, "odd") == odd
    assert cli("apply", "-f", str(root / "z-odd.yaml")).lines == ["securevalue/odd unchanged"]
    # The file's bytes as they are (no newline stripped); the variable's value as it is.
    assert decrypt(server, token, cli.namespace, "db-password") == "pässword with spaces \n\n"
    assert decrypt(server, token, cli.namespace, "api-key") == "  key with spaces\t"
    server.stop()
    from harness import files_containing

    assert files_containing(server.data_dir, "pässword with spaces".encode()) == []


def test_apply_from_stdin_resolves_files_from_the_working_directory(server, cli, tmp_path):
    (tmp_path / "pw").write_text("from-stdin-file")
    manifest = secure_value_yaml("stdin-value", "stdin", value_from="{file: pw}", decrypters="[svc]")
    applied = cli("apply", "-f", "-", input=manifest, cwd=tmp_path)
    assert applied.lines == ["securevalue/stdin-value created"], applied.err
    assert decrypt(server, service_token(cli, cli.namespace, "svc"), cli.namespace, "stdin-value") == "from-stdin-file"


def test_dry_run_changes_nothing(server, cli, tmp_path):
    path = write(tmp_path / "m.yaml", secure_value_yaml("dry", "first", value="one", decrypters="[svc]"))
    planned = cli("apply", "-f", str(path), "--dry-run=server")
    assert planned.rc == 0, planned.err
    assert planned.lines == ["securevalue/dry created (server dry run)"]
    assert get_sv(server, cli.namespace, "dry") is None

    assert cli("apply", "-f", str(path)).lines == ["securevalue/dry created"]
    before = get_sv(server, cli.namespace, "dry")
    write(path, secure_value_yaml("dry", "second", value="two", decrypters="[svc]"))
    planned = cli("apply", "-f", str(path), "--dry-run=server")
    assert planned.lines == ["securevalue/dry configured (server dry run)"], planned.err
    assert get_sv(server, cli.namespace, "dry") == before
    assert decrypt(server, service_token(cli, cli.namespace, "svc"), cli.namespace, "dry") == "one"
    write(path, secure_value_yaml("dry", "first", value="one", decrypters="[svc]"))
    assert cli("apply", "-f", str(path), "--dry-run").lines == ["securevalue/dry unchanged (server dry run)"]


def test_prune_deletes_exactly_the_values_no_longer_named(server, cli, tmp_path):
    other = f"{cli.namespace}-other"
    server.create_namespace(other)
    root = tmp_path / "m"
    for name in ("keep-a", "keep-b", "gone"):
        write(root / f"{name}.yaml", secure_value_yaml(name, name, labels="{app: billing}"))
    write(root / "unlabelled.yaml", secure_value_yaml("unlabelled", "no label"))
    write(root / "other-app.yaml", secure_value_yaml("other-app", "other app", labels="{app: shop}"))
    write(
        root / "elsewhere.yaml", secure_value_yaml("elsewhere", "elsewhere", labels="{app: billing}", namespace=other)
    )
    assert cli("apply", "-f", str(root)).rc == 0
    for name in ("gone", "unlabelled", "other-app", "elsewhere"):
        (root / f"{name}.yaml").unlink()

    planned = cli("apply", "-f", str(root), "--prune", "-l", "app=billing", "--dry-run=server")
    assert planned.lines[-1] == "securevalue/gone pruned (server dry run)", planned.out
    assert "gone" in names_in(server, cli.namespace)

    pruned = cli("apply", "-f", str(root), "--prune", "-l", "app=billing")
    assert pruned.rc == 0, pruned.err
    assert pruned.lines == ["securevalue/keep-a unchanged", "securevalue/keep-b unchanged", "securevalue/gone pruned"]
    assert names_in(server, cli.namespace) == ["keep-a", "keep-b", "other-app", "unlabelled"]
    assert names_in(server, other) == ["elsewhere"]  # no manifest visits "other": not pruned there


def test_prune_is_skipped_when_a_manifest_cannot_be_read(server, cli, tmp_path):
    root = tmp_path / "m"
    write(root / "a.yaml", secure_value_yaml("a", "a", labels="{app: x}"))
    write(root / "b.yaml", secure_value_yaml("b", "b", labels="{app: x}"))
    assert cli("apply", "-f", str(root)).rc == 0
    write(root / "b.yaml", "apiVersion: secret.grafana.app/v1beta1\nkind: SecureValue\nmetadata: {name: b\n")
    result = cli("apply", "-f", str(root), "--prune", "-l", "app=x")
    assert result.rc == 1
    assert "prune skipped" in result.err
    assert names_in(server, cli.namespace) == ["a", "b"]
    assert cli("apply", "-f", str(root), "--prune").rc == 1  # --prune without -l is refused


def test_diff_shows_changes_but_never_a_value(server, cli, tmp_path):
    path = write(
        tmp_path / "m.yaml",
        secure_value_yaml("shown", "before", value="old-value-123")
        + "---\n"
        + secure_value_yaml("same", "same", value="same-value-456"),
    )
    assert cli("apply", "-f", str(path)).rc == 0
    unchanged = cli("diff", "-f", str(path))
    assert (unchanged.rc, unchanged.out) == (0, ""), unchanged.err

    write(
        path,
        secure_value_yaml("shown", "after", value="new-value-789")
        + "---\n"
        + secure_value_yaml("same", "same", value="same-value-456")
        + "---\n"
        + secure_value_yaml("brand-new", "new", value="new-object-value"),
    )
    diff = cli("diff", "-f", str(path))
    assert diff.rc == 1, diff.err
    assert "--- live/securevalue/shown" in diff.out and "+++ merged/securevalue/shown" in diff.out
    assert "-  description: before" in diff.out and "+  description: after" in diff.out
    assert "-  value: '*** (before)'" in diff.out and "+  value: '*** (after)'" in diff.out
    assert "-  version: 1" in diff.out and "+  version: 2" in diff.out
    assert "+++ merged/securevalue/brand-new" in diff.out and "+  value: '***'" in diff.out
    assert "securevalue/same" not in diff.out
    for value in ("old-value-123", "new-value-789", "same-value-456", "new-object-value"):
        assert value not in diff.out + diff.err
    # diff is a dry run: nothing changed.
    assert get_sv(server, cli.namespace, "shown")["spec"]["description"] == "before"
    assert get_sv(server, cli.namespace, "brand-new") is None

    # A changed value alone is reported, without the value.
    write(path, secure_value_yaml("same", "same", value="another-value-000"))
    only_value = cli("diff", "-f", str(path))
    assert only_value.rc == 1
    assert "-  value: '*** (before)'" in only_value.out and "another-value-000" not in only_value.out


def test_apply_of_the_repository_manifests(server, tmp_path):
    """`manifests/` as shipped: created on the first apply, unchanged on the second.

    Documents with only `generateName` (examples for `kubectl create`) cannot be applied, by
    design: each must be reported as such, and must not stop the others.
    """
    cli = Cli(server, tmp_path / "home")  # namespace default, which no other test of this module uses
    root = REPO / "manifests"
    documents = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json")) if root.is_dir() else []
    if not documents:
        pytest.skip("manifests/ holds no examples yet")
    generated = [path for path in documents if "generateName:" in path.read_text()]
    env = cli.env(**{k: "example-value" for k in _variables_named(root)})
    for namespace in _namespaces_named(root):
        server.session.post(f"{server.url}/api/v1/namespaces", json={"metadata": {"name": namespace}})
    first = cli("apply", "-f", str(root), env=env)
    assert first.rc == (1 if generated else 0), first.err
    assert first.lines and all(line.endswith(" created") for line in first.lines), first.out
    assert len(first.errors) == len(generated) and all("cannot be applied again" in e for e in first.errors), first.err
    second = cli("apply", "-f", str(root), env=env)
    assert [line.rsplit(" ", 1)[0] for line in second.lines] == [line.rsplit(" ", 1)[0] for line in first.lines]
    assert all(line.endswith(" unchanged") for line in second.lines), second.out


def _variables_named(root: Path) -> set[str]:
    import re

    found: set[str] = set()
    for path in root.rglob("*"):
        if path.suffix in (".yaml", ".yml", ".json"):
            found |= set(re.findall(r"env:\s*\"?([A-Za-z_][A-Za-z0-9_]*)", path.read_text()))
    return found


def _namespaces_named(root: Path) -> set[str]:
    import re

    found: set[str] = set()
    for path in root.rglob("*"):
        if path.suffix in (".yaml", ".yml", ".json"):
            found |= set(re.findall(r"^\s+namespace:\s*\"?([a-z0-9-]+)", path.read_text(), re.M))
    return found - {"default"}


def test_namespaces_and_keepers_are_applied_first(server, cli, tmp_path):
    team = f"{cli.namespace}-x"
    path = write(
        tmp_path / "m.yaml",
        secure_value_yaml("in-team-x", "team x", namespace=team)
        + """---
apiVersion: secret.grafana.app/v1beta1
kind: Keeper
metadata: {name: aws-main, namespace: TEAM}
spec:
  description: aws keeper
  aws: {region: us-east-1, assumeRole: {assumeRoleArn: "arn:aws:iam::123456789012:role/secrets", externalID: e}}
---
apiVersion: v1
kind: Namespace
metadata: {name: TEAM, labels: {team: x}}
""".replace("TEAM", team),
    )
    first = cli("apply", "-f", str(path))
    assert first.lines == [f"namespace/{team} created", "keeper/aws-main created", "securevalue/in-team-x created"], (
        first.err
    )
    assert cli("apply", "-f", str(path)).lines == [
        f"namespace/{team} unchanged",
        "keeper/aws-main unchanged",
        "securevalue/in-team-x unchanged",
    ]
    assert cli("diff", "-f", str(path)).rc == 0
    # delete -f goes the other way: contents before their namespace.
    assert cli("delete", "-f", str(path)).lines == [
        "securevalue/in-team-x deleted",
        "keeper/aws-main deleted",
        f"namespace/{team} deleted",
    ]


def test_a_field_owned_by_another_manager_is_a_conflict_until_forced(server, cli, tmp_path):
    path = write(tmp_path / "m.yaml", secure_value_yaml("owned", "one"))
    assert cli("apply", "-f", str(path), "--field-manager", "someone-else").lines == ["securevalue/owned created"]
    write(path, secure_value_yaml("owned", "two"))
    refused = cli("apply", "-f", str(path))
    assert refused.rc == 1
    assert refused.errors == [
        f"error: {path} document 1: securevalue/owned: Conflict (409): Apply failed with 1 "
        'conflict: conflict with "someone-else": .spec.description (another manager owns '
        "these fields; --force-conflicts takes them over)"
    ]
    assert cli("apply", "-f", str(path), "--force-conflicts").lines == ["securevalue/owned configured"]
