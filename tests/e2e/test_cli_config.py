"""Client configuration (flags, environment, config file contexts), `--help` texts and shell completion."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_runner import Cli, secure_value_yaml, write
from harness import free_port

CLIENT_COMMANDS = ("apply", "get", "diff", "delete")


@pytest.fixture(scope="module")
def cli(shared_server, tmp_path_factory) -> Cli:
    cli = Cli(shared_server, tmp_path_factory.mktemp("home"))
    shared_server.create_namespace("team-c")
    applied = cli(
        "apply",
        "-f",
        "-",
        input=secure_value_yaml("in-default", "d") + "---\n" + secure_value_yaml("in-team-c", "c", namespace="team-c"),
    )
    assert applied.rc == 0, applied.err
    return cli


def _bare_env(cli: Cli, **extra: str) -> dict[str, str]:
    """No APISERVER_URL/TOKEN: only what the test gives."""
    return cli.env(**{"APISERVER_URL": None, "APISERVER_TOKEN": None, **extra})


def test_flags_override_the_environment(cli):
    wrong = f"http://127.0.0.1:{free_port()}"
    env = _bare_env(cli, APISERVER_URL=wrong, APISERVER_TOKEN="sas_wrong")
    assert cli("get", "sv", "-o", "name", env=env).errors[0].startswith(f"error: cannot reach the server at {wrong}")
    ok = cli("get", "sv", "-o", "name", "--server", cli.server.url, "--token", cli.server.admin_token, env=env)
    assert ok.lines == ["securevalue/in-default"], ok.err
    assert cli("get", "sv", "-o", "name", "-n", "team-c").lines == ["securevalue/in-team-c"]
    assert cli("get", "sv", "-o", "name", env=cli.env(APISERVER_NAMESPACE="team-c")).lines == ["securevalue/in-team-c"]


def test_config_file_contexts(cli, tmp_path):
    (tmp_path / "team-c-token").write_text(cli.server.admin_token + "\n")
    config = write(
        tmp_path / "config.yaml",
        f"""
        current-context: local
        contexts:
          local:
            server: {cli.server.url}
            token: {cli.server.admin_token}
          team-c:
            server: {cli.server.url}
            token-file: team-c-token
            namespace: team-c
          down:
            server: http://127.0.0.1:{free_port()}
        """,
    )
    env = _bare_env(cli, APISERVER_CONFIG=str(config))
    assert cli("get", "sv", "-o", "name", env=env).lines == ["securevalue/in-default"]
    assert cli("get", "sv", "-o", "name", "--context", "team-c", env=env).lines == ["securevalue/in-team-c"]
    assert cli("get", "sv", "-o", "name", env={**env, "APISERVER_CONTEXT": "team-c"}).lines == ["securevalue/in-team-c"]
    # A flag beats the context; -n beats the context's namespace.
    assert cli("get", "sv", "-o", "name", "--context", "team-c", "-n", "default", env=env).lines == [
        "securevalue/in-default"
    ]
    assert cli("get", "sv", "--context", "down", env=env).errors[0].startswith("error: cannot reach the server")
    unknown = cli("get", "sv", "--context", "nope", env=env)
    assert unknown.rc == 1
    assert unknown.errors == [f'error: context "nope" is not defined in {config} (contexts: down, local, team-c)']

    # The default location: $XDG_CONFIG_HOME/apiserver/config.yaml.
    inline = config.read_text().replace("token-file: team-c-token", f"token: {cli.server.admin_token}")
    write(cli.home / "xdg" / "apiserver" / "config.yaml", inline)
    default_env = _bare_env(cli, XDG_CONFIG_HOME=str(cli.home / "xdg"), APISERVER_CONTEXT="team-c")
    assert cli("get", "sv", "-o", "name", env=default_env).lines == ["securevalue/in-team-c"]


def test_a_broken_config_file_is_one_line(cli, tmp_path):
    broken = write(tmp_path / "config.yaml", "contexts: [unclosed\n")
    result = cli("get", "sv", "--config", str(broken))
    assert result.rc == 1 and len(result.errors) == 1
    assert result.errors[0].startswith(f"error: config file {broken} is not valid YAML")
    missing = cli("get", "sv", "--config", str(tmp_path / "none.yaml"))
    assert missing.errors == [f"error: config file {tmp_path / 'none.yaml'} does not exist"]


def test_manifest_namespace_must_agree_with_an_explicit_namespace(cli, tmp_path):
    path = write(tmp_path / "m.yaml", secure_value_yaml("in-team-c", "c", namespace="team-c"))
    result = cli("apply", "-f", str(path), "-n", "default")
    assert result.rc == 1
    assert result.errors == [
        f"error: {path} document 1: securevalue/in-team-c: the namespace of the object "
        f'"team-c" does not match --namespace "default"'
    ]
    assert cli("apply", "-f", str(path)).lines == ["securevalue/in-team-c unchanged"]


@pytest.mark.parametrize("command", CLIENT_COMMANDS + ("completion",))
def test_help_explains_with_examples(command):
    done = subprocess.run([sys.executable, "-m", "apiserver", command, "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    examples = done.stdout.split("examples:\n", 1)[1]
    assert f"apiserver {command}" in examples
    if command != "completion":
        assert "--server URL" in done.stdout and "-n NAMESPACE, --namespace NAMESPACE" in done.stdout


def _complete(script: str, words: list[str], env: dict[str, str]) -> list[str]:
    """Run the generated bash function as bash would on TAB and return its candidates."""
    line = " ".join(words)
    program = (
        f'{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _apiserver\nprintf "%s\\n" "${{COMPREPLY[@]}}"\n'
    )
    done = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completion(cli, tmp_path):
    script = cli("completion", "bash").out
    assert "complete -o default -F _apiserver apiserver" in script
    # `apiserver` on PATH is this checkout's, so name completion asks the test server.
    shim = write(tmp_path / "bin" / "apiserver", f'#!/bin/sh\nexec {sys.executable} -m apiserver "$@"\n')
    shim.chmod(0o755)
    env = cli.env(PATH=f"{shim.parent}:/usr/bin:/bin")
    assert _complete(script, ["apiserver", "ge"], env) == ["get"]
    assert set(_complete(script, ["apiserver", "apply", "--dr"], env)) == {"--dry-run"}
    assert "--prune" in _complete(script, ["apiserver", "apply", "--"], env)
    assert _complete(script, ["apiserver", "get", "sec"], env) == ["securevalues", "securevalue"]
    assert _complete(script, ["apiserver", "get", "sv", "-o", "y"], env) == ["yaml"]
    assert _complete(script, ["apiserver", "get", "sv", "in-"], env) == ["in-default"]
    assert _complete(script, ["apiserver", "delete", "sv", "-n", "team-c", "in-"], env) == ["in-team-c"]
    assert _complete(script, ["apiserver", "get", "-n", "team-c", "sv", "in-"], env) == ["in-team-c"]
    assert _complete(script, ["apiserver", "completion", ""], env) == ["bash", "zsh"]
    zsh = cli("completion", "zsh").out
    assert zsh.startswith("#compdef apiserver\n") and "bashcompinit" in zsh and script in zsh


def test_tls_verification(server_factory, tmp_path):
    server = server_factory("--tls-self-signed", scheme="https")
    cli = Cli(server, tmp_path / "home")
    untrusted = cli("get", "ns", "-o", "name")
    assert untrusted.rc == 1 and len(untrusted.errors) == 1
    assert untrusted.errors[0].startswith(f"error: cannot reach the server at {server.url}: ")
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.err
    ca = server.data_dir / "tls" / "tls.crt"
    trusted = cli("get", "ns", "-o", "name", "--certificate-authority", str(ca))
    assert trusted.lines == ["namespace/default"], trusted.err
    assert cli("get", "ns", "-o", "name", "--insecure-skip-tls-verify").lines == ["namespace/default"]
