"""`--event-loop uvloop` serves the same API: writes, reads, decrypt and a watch, over real HTTP."""

from __future__ import annotations

import json

import pytest
import requests
from harness import secure_value

pytest.importorskip("uvloop")


def test_uvloop_serves_writes_reads_decrypt_and_watch(server_factory):
    server = server_factory("--event-loop", "uvloop")
    created = server.session.post(server.sv_url(), json=secure_value("on-uvloop", decrypters=["svc"]))
    assert created.status_code == 201, created.text
    assert server.session.get(server.sv_url(name="on-uvloop")).json()["metadata"]["name"] == "on-uvloop"

    token = server.session.post(
        f"{server.url}/apis/auth.apiserver.local/v1/tokens",
        json={"namespaces": ["default"], "role": "viewer", "serviceIdentity": "svc"},
    ).json()["token"]
    decrypted = requests.post(
        server.sv_url(name="on-uvloop") + "/decrypt", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert decrypted.status_code == 200 and decrypted.json() == {"value": "s3cret"}

    rv = created.json()["metadata"]["resourceVersion"]
    with server.session.get(
        server.sv_url(), params={"watch": "true", "resourceVersion": "0"}, stream=True, timeout=10
    ) as watch:
        first = json.loads(next(watch.iter_lines()))
    assert first["type"] == "ADDED" and first["object"]["metadata"]["resourceVersion"] == rv


def test_an_unknown_event_loop_is_refused_before_serving(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "apiserver", "serve", "--data-dir", str(tmp_path / "d"), "--event-loop", "trio"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "--event-loop" in done.stderr
