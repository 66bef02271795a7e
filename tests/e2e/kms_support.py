"""The tests' KMS v2 plugin (kms_plugin.py) as a process that can be stopped, started and rotated."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import pytest

from apiserver.grpc.generated.kmsv2 import api_pb2, api_pb2_grpc

PLUGIN = Path(__file__).with_name("kms_plugin.py")


class PluginProcess:
    def __init__(self, directory: Path) -> None:
        # A short directory of its own: a Unix socket's path must stay under about 100 bytes.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="kms-", dir="/tmp"))
        self.socket = self.socket_dir / "plugin.sock"
        self.keys = directory / "plugin-keys"
        self.journal = directory / "plugin-journal"
        self.log = directory / "plugin.log"
        self.keys.write_text("")
        self.journal.write_text("")
        self.process: subprocess.Popen | None = None

    def add_key(self, key_id: str) -> bytes:
        """A new current key of the plugin (its Status reports it at once)."""
        key = os.urandom(32)
        with self.keys.open("a") as handle:
            handle.write(f"{key_id} {base64.b64encode(key).decode()}\n")
        return key

    def drop_key(self, key_id: str) -> None:
        kept = [line for line in self.keys.read_text().splitlines(keepends=True) if not line.startswith(key_id + " ")]
        self.keys.write_text("".join(kept))

    def start(self) -> PluginProcess:
        log = self.log.open("ab")
        args = [sys.executable, str(PLUGIN), "--socket", str(self.socket), "--keys", str(self.keys)]
        self.process = subprocess.Popen(
            [*args, "--journal", str(self.journal)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            if self.socket.exists() and self.status() is not None:
                return self
            time.sleep(0.05)
        raise RuntimeError(f"the KMS plugin did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def status(self) -> api_pb2.StatusResponse | None:
        """The plugin's Status, asked over its socket as any KMS v2 client would; None if it does not answer."""
        with grpc.insecure_channel(f"unix:{self.socket}") as channel:
            try:
                return api_pb2_grpc.KeyManagementServiceStub(channel).Status(api_pb2.StatusRequest(), timeout=2)
            except grpc.RpcError:
                return None

    def data_keys_seen(self) -> list[bytes]:
        """Every data key the server gave the plugin to wrap, in plaintext."""
        lines = [line.split() for line in self.journal.read_text().splitlines()]
        return [base64.b64decode(parts[2]) for parts in lines if parts[0] == "encrypt"]

    def decrypt_calls(self) -> list[str]:
        """The key_id of every Decrypt the plugin answered."""
        return [line.split()[2] for line in self.journal.read_text().splitlines() if line.startswith("decrypt ")]

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.socket_dir, ignore_errors=True)


@pytest.fixture
def kms_plugin(tmp_path):
    plugin = PluginProcess(tmp_path)
    plugin.add_key("key-1")
    yield plugin.start()
    plugin.close()
