"""`apiserver namespace create|list|delete` in its own process against a running server: what a script sees."""

from __future__ import annotations

import subprocess
import sys

from harness import secure_value


def namespace_cli(server, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "apiserver", "namespace", *args, "--server", server.url]
    command += ["--token", token or server.admin_token]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def namespace_names(server) -> list[str]:
    response = server.session.get(f"{server.url}/api/v1/namespaces")
    assert response.status_code == 200, response.text
    return [item["metadata"]["name"] for item in response.json()["items"]]


def test_create_list_delete(server):
    created = namespace_cli(server, "create", "org-42")
    assert (created.returncode, created.stdout, created.stderr) == (0, "namespace/org-42 created\n", "")
    assert "org-42" in namespace_names(server)

    listed = namespace_cli(server, "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["NAME", "INFLUXDB", "ORG", "ID", "CLOUDFLARE", "ACCOUNT", "ID", "CREATED"]
    by_name = {row.split()[0]: row.split() for row in rows}
    assert by_name["default"][1] == "0000000000000001"
    assert by_name["org-42"][1] == f"{42:016x}"  # org-N is org N, as Grafana numbers its orgs
    assert len(by_name["org-42"][2]) == 32

    deleted = namespace_cli(server, "delete", "org-42")
    assert (deleted.returncode, deleted.stdout) == (0, 'namespace "org-42" deleted\n'), deleted.stderr
    assert "org-42" not in namespace_names(server)


def test_errors_name_the_problem_and_change_nothing(server):
    assert namespace_cli(server, "create", "team-a").returncode == 0

    again = namespace_cli(server, "create", "team-a")
    assert again.returncode == 1 and again.stdout == ""
    assert "AlreadyExists (409)" in again.stderr and "team-a" in again.stderr

    invalid = namespace_cli(server, "create", "Not_A_Name")
    assert invalid.returncode == 1 and "Invalid (422)" in invalid.stderr
    assert "Not_A_Name" not in [n for n in namespace_names(server)]

    missing = namespace_cli(server, "delete", "no-such-namespace")
    assert missing.returncode == 1 and "NotFound (404)" in missing.stderr

    # A namespace that still holds a secure value is not deleted.
    response = server.session.post(server.sv_url("team-a"), json=secure_value("kept"))
    assert response.status_code == 201, response.text
    busy = namespace_cli(server, "delete", "team-a")
    assert busy.returncode == 1 and busy.stdout == ""
    assert "team-a" in namespace_names(server)


def test_only_admins_create_namespaces(server):
    viewer = server.session.post(
        f"{server.url}/apis/auth.apiserver.local/v1/tokens", json={"namespaces": ["default"], "role": "viewer"}
    ).json()["token"]
    refused = namespace_cli(server, "create", "team-b", token=viewer)
    assert refused.returncode == 1 and "Forbidden (403)" in refused.stderr
    assert "team-b" not in namespace_names(server)

    wrong = namespace_cli(server, "list", token="sas_not-a-token")
    assert wrong.returncode == 1 and "Unauthorized (401)" in wrong.stderr
