"""Point 4 of the CLI issue: every failure is one readable line and a non-zero exit code."""

from __future__ import annotations

from cli_runner import cli, get_sv, names_in, secure_value_yaml, server, write  # noqa: F401 (pytest fixtures)
from harness import free_port


def test_unreachable_server(cli, tmp_path):
    path = write(tmp_path / "m.yaml", secure_value_yaml("x"))
    url = f"http://127.0.0.1:{free_port()}"
    for args in (("get", "sv"), ("apply", "-f", str(path)), ("delete", "sv", "x"), ("diff", "-f", str(path))):
        result = cli(*args, "--server", url)
        assert result.rc == (2 if args[0] == "diff" else 1) and len(result.errors) == 1
        assert result.errors[-1].startswith(f"error: cannot reach the server at {url}: "), result.err
        assert "Connection refused" in result.err


def test_unauthorized(cli):
    result = cli("get", "sv", "--token", "sas_not-a-real-token")
    assert result.rc == 1
    assert result.errors == [
        "error: Unauthorized (401): the server did not accept the token; give one with "
        "--token, APISERVER_TOKEN or the context's token"
    ]
    assert "sas_not-a-real-token" not in result.err
    assert cli("get", "sv", env=cli.env(APISERVER_TOKEN=None)).errors[0].startswith("error: Unauthorized (401)")


def test_forbidden(cli, tmp_path):
    viewer = cli("token", "create", "--namespace", cli.namespace, "--role", "viewer").out.strip()
    assert viewer
    path = write(tmp_path / "m.yaml", secure_value_yaml("x"))
    result = cli("apply", "-f", str(path), "--token", viewer)
    assert result.rc == 1 and result.out == ""
    [error] = result.errors
    assert error.startswith(f"error: {path} document 1: securevalue/x: Forbidden (403): "), error
    assert 'cannot patch resource "securevalues"' in error
    denied = cli("delete", "-l", "app=x", "--token", viewer)
    assert denied.rc == 1 and denied.errors[0].startswith("error: Forbidden (403): ")


def test_invalid_with_causes_and_the_other_documents_go_on(server, cli, tmp_path):
    manifest = (
        secure_value_yaml("first-ok", "fine")
        + "---\n"
        + secure_value_yaml("bad", "a description that is much too long", value="v", decrypters='["Not Valid"]')
        + "---\n"
        + secure_value_yaml("last-ok", "fine too")
    )
    path = write(tmp_path / "values.yaml", manifest)
    result = cli("apply", "-f", str(path))
    assert result.rc == 1
    assert result.lines == ["securevalue/first-ok created", "securevalue/last-ok created"]
    [error] = result.errors
    assert error.startswith(f"error: {path} document 2: securevalue/bad: Invalid (422): ")
    assert "spec.description: Too long" in error and "spec.decrypters[0]: Invalid value" in error
    assert names_in(server, cli.namespace) == ["first-ok", "last-ok"]


def test_malformed_manifests_name_file_and_document(server, cli, tmp_path):
    path = write(
        tmp_path / "broken.yaml",
        secure_value_yaml("before-broken", "ok")
        + "---\n- just\n- a list\n"
        + "---\nkind: SecureValue\n"
        + "---\napiVersion: v9\nkind: Gadget\nmetadata: {name: g}\n"
        + "---\n"
        + secure_value_yaml("after-broken", "ok")
        + "---\nmetadata: {name: [unclosed\n",
    )
    other = write(tmp_path / "other.yaml", secure_value_yaml("other-file", "ok"))
    result = cli("apply", "-f", str(path), "-f", str(other))
    assert result.rc == 1
    assert result.lines == [
        "securevalue/before-broken created",
        "securevalue/after-broken created",
        "securevalue/other-file created",
    ]
    assert result.errors == [
        f"error: {path} document 2: expected an object, got a list",
        f"error: {path} document 3: apiVersion and kind are required",
        f'error: {path} document 4: unknown kind "Gadget" of apiVersion "v9" (known: v1 Namespace, '
        "secret.grafana.app/v1beta1 Keeper, secret.grafana.app/v1beta1 SecureValue)",
        f"error: {path} document 6: malformed YAML: expected ',' or ']', but got '<stream end>' "
        f"at line {len(path.read_text().splitlines()) + 1}, column 1",
    ]
    missing = cli("apply", "-f", str(tmp_path / "nowhere.yaml"))
    assert missing.rc == 1 and missing.errors == [f"error: {tmp_path / 'nowhere.yaml'}: no such file or directory"]


def test_missing_value_file_or_variable_is_named(server, cli, tmp_path):
    path = write(
        tmp_path / "m.yaml",
        secure_value_yaml("from-file", value_from="{file: secret.txt}")
        + "---\n"
        + secure_value_yaml("from-env", value_from="{env: SURELY_UNSET_VARIABLE}")
        + "---\n"
        + secure_value_yaml("both", value_from="{env: HOME, file: x}"),
    )
    result = cli("apply", "-f", str(path))
    assert result.rc == 1 and result.out == ""
    assert result.errors == [
        f"error: {path} document 1: spec.valueFrom.file: {tmp_path / 'secret.txt'}: no such file",
        f"error: {path} document 2: spec.valueFrom.env: environment variable SURELY_UNSET_VARIABLE is not set",
        f"error: {path} document 3: spec.valueFrom must be either {{file: PATH}} or {{env: VARIABLE}}",
    ]
    assert get_sv(server, cli.namespace, "from-file") is None
