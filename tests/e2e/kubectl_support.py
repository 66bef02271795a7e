"""kubectl against a real TLS server: binaries, a kubeconfig from `apiserver kubeconfig`, a cache per run.

kubectl sends a token only over https, so these servers serve TLS with `--tls-self-signed`, and the
kubeconfig embeds the certificate the server presents (what a user gets from `apiserver kubeconfig`).
Each runner has its own `KUBECACHEDIR` (kubectl caches discovery for six hours) and its own `HOME`.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from harness import Server

# The kubectl on PATH (a dispatcher choosing its binary by the server's minor version, 1.32 here)
# and the oldest and newest binaries installed beside it.
DISPATCHER = "kubectl"
VERSIONS = (DISPATCHER, "kubectl.1.27", "kubectl.1.33")
GROUP_VERSION = "secret.grafana.app/v1beta1"


def find_kubectl(name: str = DISPATCHER) -> str | None:
    """The path of `name`, on PATH or beside the (resolved) kubectl on PATH."""
    found = shutil.which(name)
    if found:
        return found
    main = shutil.which(DISPATCHER)
    if main:
        beside = Path(os.path.realpath(main)).parent / name
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
    return None


def require_kubectl(name: str = DISPATCHER) -> str:
    path = find_kubectl(name)
    if path is None:
        pytest.skip(f"the {name} binary is absent (not on PATH nor beside kubectl)")
    return path


def start_tls_server(data_dir: Path) -> Server:
    server = Server(data_dir, ["--tls-self-signed"], scheme="https").start()
    server.session.verify = str(data_dir / "tls" / "tls.crt")  # the generated certificate verifies as a root
    server.session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace `verify`
    return server


def write_kubeconfig(server: Server, path: Path, token: str | None = None, namespace: str | None = None) -> Path:
    """`apiserver kubeconfig --server URL --token T`, exactly as a user runs it."""
    args = [
        sys.executable,
        "-m",
        "apiserver",
        "kubeconfig",
        "--server",
        server.url,
        "--token",
        token or server.admin_token,
    ]
    if namespace:
        args += ["--namespace", namespace]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    path.write_text(done.stdout)
    return path


@dataclass
class Kubectl:
    binary: str
    kubeconfig: Path
    home: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.home / "cache"),
            "HOME": str(self.home),
        }

    def run(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
        )

    def ok(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        """Run and require success; returns stdout."""
        done = self.run(*args, stdin=stdin, env=env)
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed ({done.returncode}):\n{done.stderr}"
        return done.stdout

    def fails(self, *args: str, stdin: str | None = None) -> str:
        """Run and require failure; returns stderr."""
        done = self.run(*args, stdin=stdin)
        assert done.returncode != 0, f"kubectl {' '.join(args)} unexpectedly succeeded:\n{done.stdout}"
        return done.stderr

    def stream(self, *args: str) -> LineStream:
        return LineStream(
            subprocess.Popen(
                [self.binary, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env
            )
        )


def make_kubectl(binary: str, server: Server, home: Path, token: str | None = None) -> Kubectl:
    home.mkdir(parents=True, exist_ok=True)
    return Kubectl(binary, write_kubeconfig(server, home / "kubeconfig", token), home)


class LineStream:
    """The output lines of a long-running kubectl (`get -w`), read on a thread so reads can time out."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, predicate, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"no matching line within {timeout}s; saw: {self.seen}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def manifest(*documents: dict) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)


def secure_value_manifest(
    name: str,
    *,
    description: str = "a kubectl value",
    value: str | None = None,
    decrypters: list[str] | None = None,
    labels: dict[str, str] | None = None,
    namespace: str | None = None,
) -> dict:
    metadata: dict = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = labels
    spec: dict = {"description": description}
    if value is not None:
        spec["value"] = value
    if decrypters is not None:
        spec["decrypters"] = decrypters
    return {"apiVersion": GROUP_VERSION, "kind": "SecureValue", "metadata": metadata, "spec": spec}


def keeper_manifest(name: str, description: str = "AWS keeper") -> dict:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Keeper",
        "metadata": {"name": name},
        "spec": {
            "description": description,
            "aws": {
                "region": "us-east-1",
                "assumeRole": {
                    "assumeRoleArn": "arn:aws:iam::123456789012:role/secrets",
                    "externalID": "apiserver-tests",
                },
            },
        },
    }


# -- fixtures shared by the kubectl test modules (imported by name into each module) ----------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One TLS server per test module: kubectl sends a token only over TLS."""
    require_kubectl()
    server = start_tls_server(tmp_path_factory.mktemp("kubectl") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def kubectl(server, tmp_path_factory) -> Kubectl:
    return make_kubectl(require_kubectl(), server, tmp_path_factory.mktemp("kubectl-home"))


@pytest.fixture
def ns(server) -> str:
    """A namespace of the test's own, so tests in one module never see each other's objects."""
    name = unique("kc")
    server.create_namespace(name)
    return name
