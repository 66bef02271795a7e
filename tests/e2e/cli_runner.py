"""Run the real `python -m apiserver` client commands as subprocesses against a test server."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from harness import GROUP_PATH, Server

_counter = itertools.count(1)


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def errors(self) -> list[str]:
        return self.err.splitlines()


class Cli:
    """`cli("get", "sv")`: the server's URL and admin token come from the environment, as users set them."""

    def __init__(self, server: Server, home: Path, namespace: str = "default") -> None:
        self.server = server
        self.home = home
        self.namespace = namespace
        home.mkdir(parents=True, exist_ok=True)

    @classmethod
    def in_new_namespace(cls, server: Server, home: Path, test_name: str) -> Cli:
        """A client whose current namespace (APISERVER_NAMESPACE) is new: tests can share one server."""
        slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[-40:].strip("-")
        namespace = f"t{next(_counter)}-{slug}"
        server.create_namespace(namespace)
        return cls(server, home, namespace)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("APISERVER_")}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            APISERVER_URL=self.server.url,
            APISERVER_TOKEN=self.server.admin_token,
        )
        if self.namespace != "default":
            env["APISERVER_NAMESPACE"] = self.namespace
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        cwd: Path | None = None,
        env: dict | None = None,
        timeout: float = 60,
    ) -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "apiserver", *args],
            input=input,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env or self.env(),
            timeout=timeout,
        )
        # No command may end in a traceback, whatever it was given.
        assert "Traceback" not in done.stderr, done.stderr
        return Result(done.returncode, done.stdout, done.stderr)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def secure_value_yaml(
    name: str,
    description: str = "a value",
    *,
    value: str | None = "v",
    labels: str = "",
    namespace: str = "",
    value_from: str = "",
    decrypters: str = "",
) -> str:
    """One SecureValue document; `value_from` is a flow mapping such as `{env: VAR}`."""
    lines = ["apiVersion: secret.grafana.app/v1beta1", "kind: SecureValue", "metadata:", f"  name: {name}"]
    if namespace:
        lines.append(f"  namespace: {namespace}")
    if labels:
        lines.append(f"  labels: {labels}")
    lines += ["spec:", f"  description: {description}"]
    if value_from:
        lines.append(f"  valueFrom: {value_from}")
    elif value is not None:
        lines.append(f"  value: {value}")
    if decrypters:
        lines.append(f"  decrypters: {decrypters}")
    return "\n".join(lines) + "\n"


def get_sv(server: Server, namespace: str, name: str) -> dict | None:
    response = server.session.get(server.sv_url(namespace, name))
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


def names_in(server: Server, namespace: str) -> list[str]:
    listed = server.session.get(server.sv_url(namespace)).json()
    return sorted(item["metadata"]["name"] for item in listed["items"])


def service_token(cli: Cli, namespace: str, identity: str) -> str:
    """A token of a service identity, made with `apiserver token create` (the only stdout line)."""
    made = cli("token", "create", "--namespace", namespace, "--role", "viewer", "--service-identity", identity)
    assert made.rc == 0, made.err
    return made.out.strip()


def decrypt(server: Server, token: str, namespace: str, name: str) -> str:
    url = f"{server.url}{GROUP_PATH}/namespaces/{namespace}/securevalues/{name}/decrypt"
    response = requests.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["value"]


# -- fixtures shared by the CLI test modules (imported by name into each module) --------------------


@pytest.fixture
def server(shared_server):
    """One server for the module; each test works in a namespace of its own."""
    return shared_server


@pytest.fixture
def cli(server, tmp_path, request) -> Cli:
    return Cli.in_new_namespace(server, tmp_path / "home", request.node.name)
