"""Run real `apiserver serve` processes for tests: a free port, a temporary data directory, real HTTP."""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

ADMIN_TOKEN = "sas_test-admin-token-0123456789abcdef"
GROUP_PATH = "/apis/secret.grafana.app/v1beta1"


# Ports come from a range of our own, below Linux's ephemeral range (32768 and up) where the kernel
# picks client ports, and disjoint per pytest-xdist worker: asking the kernel for a free port and
# releasing it lets two workers be handed the same one, and a test could then reach the other's server.
# The start is random so that separate runs on one machine (developers side by side) rarely meet.
_PORTS_PER_WORKER = 1500
_next_ports: Iterator[int] | None = None


def free_port() -> int:
    global _next_ports
    if _next_ports is None:  # on first use: xdist names the worker only once it runs
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
        first = 20000 + (_PORTS_PER_WORKER * int(worker) if worker.isdigit() else 0) % 12000
        start = random.randrange(_PORTS_PER_WORKER)
        ports = [*range(first + start, first + _PORTS_PER_WORKER), *range(first, first + start)]
        _next_ports = itertools.cycle(ports)
    for port in _next_ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("unreachable: the cycle never ends")


def stop_process_group(process: subprocess.Popen | None) -> None:
    """SIGTERM to a process started with `start_new_session=True` and its children; SIGKILL after 10 s."""
    if process and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@dataclass
class Server:
    """One server process. `session` carries the admin token; `url` ends without a slash."""

    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    admin_token: str = ADMIN_TOKEN
    port: int = 0
    scheme: str = "http"
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.admin_token}"
        self.session.verify = False

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0, ready_path: str = "/readyz") -> Server:
        """Start, and wait until `ready_path` answers 200 (`/livez` for a server expected not to be ready)."""
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        log = open(self.log_path, "ab")
        args = [
            sys.executable,
            "-m",
            "apiserver",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--admin-token",
            self.admin_token,
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}{ready_path}", timeout=1, verify=False).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def stop(self) -> None:
        stop_process_group(self.process)
        self.process = None

    def restart(self) -> Server:
        self.stop()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    # -- conveniences ---------------------------------------------------------------------

    def sv_url(self, namespace: str = "default", name: str = "") -> str:
        base = f"{self.url}{GROUP_PATH}/namespaces/{namespace}/securevalues"
        return f"{base}/{name}" if name else base

    def keeper_url(self, namespace: str = "default", name: str = "") -> str:
        base = f"{self.url}{GROUP_PATH}/namespaces/{namespace}/keepers"
        return f"{base}/{name}" if name else base

    def create_namespace(self, name: str) -> dict:
        response = self.session.post(f"{self.url}/api/v1/namespaces", json={"metadata": {"name": name}})
        assert response.status_code == 201, response.text
        return response.json()


def secure_value(
    name: str | None = None,
    *,
    description: str = "a test value",
    value: str | None = "s3cret",
    decrypters: list[str] | None = None,
    labels: dict[str, str] | None = None,
    **spec,
) -> dict:
    metadata: dict = {}
    if name:
        metadata["name"] = name
    if labels:
        metadata["labels"] = labels
    body_spec: dict = {"description": description, **spec}
    if value is not None:
        body_spec["value"] = value
    if decrypters is not None:
        body_spec["decrypters"] = decrypters
    return {"apiVersion": "secret.grafana.app/v1beta1", "kind": "SecureValue", "metadata": metadata, "spec": body_spec}


def files_containing(directory: Path, needle: bytes) -> list[Path]:
    """Every file under `directory` whose bytes contain `needle` (database, WAL, journal, logs...)."""
    found = []
    for path in directory.rglob("*"):
        if path.is_file() and needle in path.read_bytes():
            found.append(path)
    return found
