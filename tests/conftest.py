"""Fixtures: real server processes over real HTTP, each on its own data directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import urllib3

sys.path.insert(0, str(Path(__file__).parent))

from harness import Server  # noqa: E402

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


@pytest.fixture
def server_factory(tmp_path):
    """Start servers with extra flags; all are stopped at the end of the test."""
    started: list[Server] = []

    def start(
        *extra_args: str, data_dir: Path | None = None, env: dict[str, str] | None = None, scheme: str = "http"
    ) -> Server:
        server = Server(data_dir or tmp_path / f"data{len(started)}", list(extra_args), env or {}, scheme=scheme)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory) -> Server:
    """A fresh server for one test."""
    return server_factory()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server for a whole module, for tests that only read or use their own names."""
    server = Server(tmp_path_factory.mktemp("shared") / "data")
    server.start()
    yield server
    server.stop()
