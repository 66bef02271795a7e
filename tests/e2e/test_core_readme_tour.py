"""The README's curl tour, run as written (only the address changes), so that it cannot rot."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from harness import Server

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "@@status="


def tour_script() -> str:
    text = README.read_text()
    section = text.split("## A tour with curl", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_readme_tour_runs_against_a_live_server(tmp_path):
    if shutil.which("curl") is None or shutil.which("bash") is None:
        pytest.skip("the tour needs curl and bash")
    script = tour_script()
    token = re.search(r"^TOKEN=(\S+)$", script, re.M).group(1)
    assert re.search(r"^\./dev serve .*--admin-token \$TOKEN", script, re.M), "the tour starts the server"
    server = Server(tmp_path / "data", admin_token=token).start()
    try:
        # The tour as written, minus starting the server (the test started it on a free port).
        body = "\n".join(line for line in script.splitlines() if not line.startswith("./dev serve"))
        body = body.replace("http://127.0.0.1:8080", server.url)
        wrapper = f"curl() {{ command curl -w '\\n{MARK}%{{http_code}}\\n' \"$@\"; }}\nset -e\n"
        result = subprocess.run(["bash", "-c", wrapper + body], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        outputs = [chunk.strip() for chunk in result.stdout.split("\n")]
        responses, current = [], []
        for line in outputs:
            if line.startswith(MARK):
                responses.append((int(line[len(MARK) :]), json.loads("\n".join(current))))
                current = []
            elif line:
                current.append(line)
        codes = [code for code, _ in responses]
        assert codes == [201, 200, 200, 200, 200], result.stdout
        created, listed, got, updated, deleted = (body for _, body in responses)
        assert created["status"]["version"] == 1 and "value" not in created["spec"]
        assert [i["metadata"]["name"] for i in listed["items"]] == [created["metadata"]["name"]]
        assert got["metadata"]["uid"] == created["metadata"]["uid"]
        assert updated["status"]["version"] == 2
        assert deleted["status"] == "Success" and deleted["details"]["uid"] == created["metadata"]["uid"]
        for secret in re.findall(r'"value":"([^"]+)"', script):
            assert secret not in result.stdout
    finally:
        server.stop()
