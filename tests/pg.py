"""A throwaway PostgreSQL server for tests, from the machine's PostgreSQL binaries.

`initdb` into a temporary directory, `pg_ctl start` on a free loopback port, one schema per
test (or module), `pg_ctl stop` at the end. initdb refuses to run as root, so as root the
server runs as the `postgres` system user (`runuser`). Tests that need it are skipped, with the
reason printed, only when no PostgreSQL binaries are installed.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from harness import free_port

_counter = itertools.count(1)


def find_bin_dir() -> Path | None:
    """The directory of initdb/pg_ctl: $PG_BIN_DIR, else the newest /usr/lib/postgresql/*/bin, else PATH."""
    candidates = [os.environ.get("PG_BIN_DIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    on_path = shutil.which("pg_ctl")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory, reachable over TCP on 127.0.0.1 with trust auth."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="apiserver-pg-"))
        self.data = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self.port = free_port()
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user:
            os.chmod(self.base, 0o755)
            account = pwd.getpwnam(self._user)
            os.chown(self.base, account.pw_uid, account.pw_gid)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{self.log()}"
            )
        return result

    def init(self) -> PostgresServer:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"
        )
        return self

    def start(self) -> PostgresServer:
        # fsync off: a test database need not survive a power cut, and the machine is shared.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def destroy(self) -> None:
        self.stop("immediate")  # no shutdown checkpoint: the files go anyway
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_url(self, prefix: str = "test") -> str:
        """The URL of a new, empty place for one store: a schema of its own, chosen by `search_path`.

        A schema costs milliseconds where CREATE DATABASE costs a checkpoint; the server sees an
        ordinary URL (asyncpg passes unknown query parameters on as server settings).
        """
        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        self.psql(f'CREATE SCHEMA "{name}"')
        return f"{self.url()}?search_path={name}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-c",
            sql,
        )
        return result.stdout

    def dump(self) -> bytes:
        """`pg_dump` of the whole database (every test's schema), as an operator's backup would hold it."""
        command = [str(self.bin_dir / "pg_dump"), "--dbname", self.url()]
        return subprocess.run(command, capture_output=True, check=True, timeout=120).stdout

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_postgres() -> PostgresServer:
    """A running throwaway server; skips the calling test when PostgreSQL is not installed."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        reason = "PostgreSQL binaries (initdb, pg_ctl) not found: install postgresql or set PG_BIN_DIR"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    server = PostgresServer(bin_dir)
    try:
        return server.init().start()
    except BaseException:
        server.destroy()
        raise


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the whole test session; tests take their own schemas."""
    server = start_postgres()
    yield server
    server.destroy()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A fresh, empty store location for one test."""
    return postgres.fresh_url()
