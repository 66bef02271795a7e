"""Backup under write load, restore into a new directory, start: every value acknowledged before
the backup began decrypts, the restored store honours the store contract, and a restore without
the right KEK refuses to start, naming the KEK. The same for PostgreSQL's pg_dump/pg_restore."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from harness import Server, secure_value
from keys_support import LOOP_IDENTITY, DecryptLoop, create_values, value_of
from pg import postgres  # noqa: F401  (session fixture)
from test_postgres_replicas import write_kek_file

TESTS = Path(__file__).resolve().parent.parent


class Writer:
    """Creates values one after another until stopped; remembers when each was acknowledged."""

    def __init__(self, server: Server, namespace: str = "default") -> None:
        self.server, self.namespace = server, namespace
        self.acknowledged: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.server.admin_token}"
        i = 0
        while not self._stop.is_set():
            name = f"load-{i:05d}"
            body = secure_value(name, value=value_of(name), decrypters=[LOOP_IDENTITY])
            response = session.post(self.server.sv_url(self.namespace), json=body, timeout=30)
            assert response.status_code == 201, response.text
            self.acknowledged.append((time.monotonic(), name))
            i += 1

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def before(self, moment: float) -> list[str]:
        return [name for at, name in self.acknowledged if at < moment]


def apiserver(*args: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "apiserver", *args], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_backup_under_load_and_restore(server_factory, tmp_path):
    server = server_factory()
    create_values(server, [f"early-{i}" for i in range(20)])
    with DecryptLoop([server], [("default", "early-0")]) as loop:  # its token is in the backup too
        loop.wait_for(1)
    with Writer(server) as writer:
        while len(writer.acknowledged) < 30:
            time.sleep(0.05)
        began = time.monotonic()
        made = apiserver("backup", "--data-dir", str(server.data_dir), "--output", str(tmp_path / "backup.db"))
        while len(writer.before(time.monotonic())) < len(writer.before(began)) + 20:
            time.sleep(0.05)  # writes go on during and after the backup
    assert made.returncode == 0, made.stderr
    kek_file = server.data_dir / "kek"
    (kek_id,) = [line.split()[0] for line in kek_file.read_text().splitlines() if line and not line.startswith("#")]
    assert made.stdout.strip().endswith(f"needs the KEKs: {kek_id}")
    backup = tmp_path / "backup.db"
    assert backup.stat().st_mode & 0o777 == 0o600
    # The KEK, the admin token and the plaintexts are not in the backup.
    kek_key = kek_file.read_text().split()[-1]
    for secret in (kek_key.encode(), base64.b64decode(kek_key), server.admin_token.encode(), b"plaintext-of-"):
        assert secret not in backup.read_bytes(), secret

    # Only into an empty directory.
    refused = apiserver("restore", "--input", str(backup), "--data-dir", str(server.data_dir))
    assert refused.returncode == 1 and "not an empty directory" in refused.stderr
    restored_dir = tmp_path / "restored"
    done = apiserver("restore", "--input", str(backup), "--data-dir", str(restored_dir))
    assert done.returncode == 0, done.stderr
    assert kek_id in done.stdout

    # Without its KEK the restored server refuses to start, naming the KEK; with another key under
    # the same id too.
    for wrong in ("missing", "other-key"):
        attempt = tmp_path / f"attempt-{wrong}"
        shutil.copytree(restored_dir, attempt)
        if wrong == "other-key":
            (attempt / "kek").write_text(f"{kek_id} {base64.b64encode(os.urandom(32)).decode()}\n")
            (attempt / "kek").chmod(0o600)
        failed = subprocess.run(
            [sys.executable, "-m", "apiserver", "serve", "--port", "0", "--data-dir", str(attempt)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert failed.returncode == 2, failed.stderr
        assert f"KEK {kek_id!r}" in failed.stderr and "Traceback" not in failed.stderr, failed.stderr

    shutil.copy2(kek_file, restored_dir / "kek")
    restored = server_factory(data_dir=restored_dir)
    expected = [f"early-{i}" for i in range(20)] + writer.before(began)
    with DecryptLoop([restored], [("default", name) for name in expected]) as loop:
        loop.wait_for(len(expected))
    assert loop.failures == []
    restored.stop()

    # The restored database honours the store contract (each case starts from a copy of it).
    contract = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(TESTS / "store" / "test_store_contract.py"),
            "-k",
            "sqlite",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "STORE_CONTRACT_SQLITE_SEED": str(restored_dir / "apiserver.db")},
        cwd=TESTS.parent,
    )
    assert contract.returncode == 0, contract.stdout[-3000:]
    assert " passed" in contract.stdout


def test_pg_dump_and_pg_restore(postgres, tmp_path, server_factory):
    url = postgres.fresh_url("backup")
    schema = url.rsplit("search_path=", 1)[1]
    kek_file = write_kek_file(tmp_path / "kek")
    server = server_factory("--database-url", url, "--kek-file", str(kek_file))
    create_values(server, [f"early-{i}" for i in range(20)])
    with DecryptLoop([server], [("default", "early-0")]) as loop:
        loop.wait_for(1)
    dump = tmp_path / "apiserver.dump"
    with Writer(server) as writer:
        while len(writer.acknowledged) < 30:
            time.sleep(0.05)
        began = time.monotonic()
        # The documented command (docs/backup.md): one consistent snapshot, in pg_dump's custom format.
        dumped = subprocess.run(
            [
                str(postgres.bin_dir / "pg_dump"),
                "--format=custom",
                "--schema",
                schema,
                "--file",
                str(dump),
                "--dbname",
                postgres.url(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        while len(writer.before(time.monotonic())) < len(writer.before(began)) + 20:
            time.sleep(0.05)
    assert dumped.returncode == 0, dumped.stderr
    server.stop()
    postgres.psql("CREATE DATABASE restored")
    loaded = subprocess.run(
        [str(postgres.bin_dir / "pg_restore"), "--no-owner", "--dbname", postgres.url("restored"), str(dump)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr
    restored_url = f"{postgres.url('restored')}?search_path={schema}"
    restored = server_factory("--database-url", restored_url, "--kek-file", str(kek_file))
    expected = [f"early-{i}" for i in range(20)] + writer.before(began)
    with DecryptLoop([restored], [("default", name) for name in expected]) as loop:
        loop.wait_for(len(expected))
    assert loop.failures == []
    # A write on the restored store goes on from the restored revision.
    assert restored.session.post(restored.sv_url(), json=secure_value("after-restore")).status_code == 201
    restored.stop()

    # With another KEK under the same id, the restored replica refuses to start, naming it.
    other = tmp_path / "other-kek"
    other.write_text(f"kek-shared {base64.b64encode(os.urandom(32)).decode()}\n")
    other.chmod(0o600)
    with pytest.raises(RuntimeError, match="KEK 'kek-shared'"):
        Server(tmp_path / "wrong", ["--database-url", restored_url, "--kek-file", str(other)]).start()
