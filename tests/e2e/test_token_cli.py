"""`apiserver token create|list|revoke` against a running server, and the admin API under them."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from harness import secure_value
from identities_support import TOKENS_PATH, call

from apiserver.cli import main


def cli_process(server, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    """The installed command in its own process: what a script sees."""
    command = [
        sys.executable,
        "-m",
        "apiserver",
        "token",
        *args,
        "--server",
        server.url,
        "--token",
        token or server.admin_token,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.fixture
def cli(capsys):
    """The same command line run in this process (same code, same HTTP; no interpreter start per call)."""

    def run(server, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main(["token", *args, "--server", server.url, "--token", token or server.admin_token])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def test_create_prints_only_the_token_which_then_works(server):
    server.create_namespace("team-a")
    done = cli_process(server, "create", "--namespace", "team-a", "--role", "editor")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert re.fullmatch(r"sas_[A-Za-z0-9_-]{40,}", token) and done.stdout == token + "\n"
    assert call("POST", server.sv_url("team-a"), token, json=secure_value("made-by-cli")).status_code == 201
    assert call("GET", server.sv_url("default"), token).status_code == 403


def test_a_service_identity_token_decrypts_what_names_it(server, cli):
    body = secure_value("sm-key", value="cli-decrypted-value", decrypters=["synthetic-monitoring"])
    assert server.session.post(server.sv_url(), json=body).status_code == 201
    done = cli(
        server, "create", "--namespace", "default", "--role", "viewer", "--service-identity", "synthetic-monitoring"
    )
    token = done.stdout.strip()
    response = call("POST", f"{server.sv_url(name='sm-key')}/decrypt", token)
    assert response.json() == {"value": "cli-decrypted-value"}


def test_list_shows_a_table_without_secrets_and_revoke_takes_effect_at_once(server, cli):
    user = cli(server, "create", "--namespace", "default", "--role", "viewer", "--expires-in", "24h").stdout.strip()
    service = cli(
        server, "create", "--namespace", "default", "--role", "viewer", "--service-identity", "k6"
    ).stdout.strip()
    listed = cli(server, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "SUBJECT", "NAMESPACES", "ROLE", "CREATED", "EXPIRES", "REVOKED"]
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 2 and all(row[2:4] == ["default", "viewer"] and row[6] == "false" for row in rows)
    assert {row[5] == "<never>" for row in rows} == {True, False}  # only the user token expires
    assert "k6" in [row[1] for row in rows]
    assert user not in listed.stdout and service not in listed.stdout and "sas_" not in listed.stdout

    user_id = next(row[0] for row in rows if row[1] != "k6")
    assert call("GET", server.sv_url(), user).status_code == 200
    done = cli(server, "revoke", user_id)
    assert done.returncode == 0, done.stderr
    assert call("GET", server.sv_url(), user).status_code == 401
    done = cli_process(server, "revoke", service)  # by the token itself, sent in a body
    assert done.returncode == 0, done.stderr
    assert call("GET", server.sv_url(), service).status_code == 401
    assert [line.split()[6] for line in cli(server, "list").stdout.splitlines()[1:]] == ["true", "true"]
    assert service not in server.log() and user not in server.log()


def test_failures_are_one_line_and_a_non_zero_exit(server, cli):
    viewer = cli(server, "create", "--namespace", "default", "--role", "viewer").stdout.strip()
    refused = cli(server, "list", token=viewer)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: ") and "(403)" in refused.stderr
    assert 'cannot list resource "tokens"' in refused.stderr and len(refused.stderr.splitlines()) == 1
    bad = cli(server, "create", "--namespace", "default", "--role", "viewer", "--expires-in", "soon")
    assert bad.returncode == 1 and "expiresIn" in bad.stderr and bad.stdout == ""
    missing = cli(server, "revoke", "tok-0000000000000000")
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_the_admin_api_never_shows_a_secret_again_and_stays_within_the_admins_namespaces(server):
    created = server.session.post(server.url + TOKENS_PATH, json={"namespaces": ["default"], "role": "admin"})
    assert created.status_code == 201
    body = created.json()
    secret, token_id = body["token"], body["id"]
    shown = server.session.get(f"{server.url}{TOKENS_PATH}/{token_id}")
    assert shown.status_code == 200 and secret not in shown.text and "token" not in shown.json()
    assert secret not in server.session.get(server.url + TOKENS_PATH).text
    # An admin of `default` manages tokens of `default` only, and cannot mint a wider one.
    narrow = call("POST", server.url + TOKENS_PATH, secret, json={"namespaces": ["default"], "role": "viewer"})
    assert narrow.status_code == 201
    for namespaces in (["*"], ["default", "team-x"]):
        wider = call("POST", server.url + TOKENS_PATH, secret, json={"namespaces": namespaces, "role": "viewer"})
        assert wider.status_code == 403, wider.text
    assert (
        call("POST", f"{server.url}/api/v1/namespaces", secret, json={"metadata": {"name": "nope"}}).status_code == 403
    )
    listed = call("GET", server.url + TOKENS_PATH, secret).json()["items"]
    assert all(item["namespaces"] == ["default"] for item in listed)
    # The bootstrap admin token is configuration: it cannot be revoked through the API.
    kept = server.session.post(server.url + TOKENS_PATH + "/revoke", json={"token": server.admin_token})
    assert kept.status_code == 400
    assert server.admin_token not in kept.text
    invalid = server.session.post(
        server.url + TOKENS_PATH, json={"namespaces": ["default"], "role": "root", "serviceIdentity": "Not A Label!"}
    )
    assert invalid.status_code == 422
    assert {c["field"] for c in invalid.json()["details"]["causes"]} == {"role", "serviceIdentity"}
    assert server.session.get(f"{server.url}{TOKENS_PATH}?token={secret}").status_code == 200  # ignored, not used


def test_tokens_and_revocations_survive_a_restart(server, cli):
    kept = cli(server, "create", "--namespace", "default", "--role", "viewer").stdout.strip()
    dropped = cli(server, "create", "--namespace", "default", "--role", "viewer").stdout.strip()
    assert cli(server, "revoke", dropped).returncode == 0
    server.restart()
    assert call("GET", server.sv_url(), kept).status_code == 200
    assert call("GET", server.sv_url(), dropped).status_code == 401
    assert not [path for path in server.data_dir.rglob("*") if path.is_file() and kept.encode() in path.read_bytes()]
