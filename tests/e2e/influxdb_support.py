"""Helpers of the InfluxDB facade tests: orgs, tokens from the real CLI, the official client."""

from __future__ import annotations

import subprocess
import sys
import uuid

from harness import Server
from influxdb_client import InfluxDBClient

ORG_ID_ANNOTATION = "compat.apiserver.local/influxdb-org-id"
KEY_ANNOTATION = "compat.apiserver.local/key"


def new_org(server: Server, prefix: str = "influx") -> tuple[str, str]:
    """A fresh namespace and its org ID."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    namespace = server.create_namespace(name)
    return name, namespace["metadata"]["annotations"][ORG_ID_ANNOTATION]


def token(server: Server, namespace: str, *args: str) -> str:
    """A token made by `apiserver token create` (the operational contract)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "apiserver",
            "token",
            "create",
            "--server",
            server.url,
            "--token",
            server.admin_token,
            "--namespace",
            namespace,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def client(server: Server, token_value: str | None = None) -> InfluxDBClient:
    return InfluxDBClient(url=server.url, token=token_value or server.admin_token, org="default", timeout=20_000)


def native_keys(server: Server, namespace: str) -> dict[str, dict]:
    """Facade key -> SecureValue, read through the native API."""
    items = server.session.get(server.sv_url(namespace)).json()["items"]
    return {
        (item["metadata"].get("annotations") or {}).get(KEY_ANNOTATION, item["metadata"]["name"]): item
        for item in items
    }
