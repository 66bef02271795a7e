"""`--log-format json`: one JSON object a line, with the request fields, and never a value or a token."""

from __future__ import annotations

import json
import time

from harness import secure_value
from identities_support import call, create_token

SECRET = "log-secret-value-Hk27pq"


def test_json_lines_carry_the_request_fields_and_no_secret(server_factory):
    server = server_factory("--log-format", "json", "--access-log")
    token, _ = create_token(server, serviceIdentity="svc-logs", role="viewer")
    created = server.session.post(
        server.sv_url(),
        json=secure_value("logged", value=SECRET, decrypters=["svc-logs"]),
        headers={"X-Request-Id": "rid-create-1"},
    )
    assert created.status_code == 201
    decrypted = call("POST", f"{server.sv_url(name='logged')}/decrypt", token)
    assert decrypted.json() == {"value": SECRET}
    assert call("GET", server.sv_url(name="logged"), "wrong-token-Qx81").status_code == 401
    assert server.session.put(server.sv_url(name="logged"), data=b"{not json").status_code == 400
    deadline = time.monotonic() + 10
    while '"rid-create-1"' not in server.log() or "securevalues/decrypt" not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    server.stop()
    text = server.log()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line)
    assert any(line["message"].startswith("serving on http://") for line in lines)
    requests_logged = [line for line in lines if line["logger"] == "apiserver.access"]
    create = next(line for line in requests_logged if line.get("request_id") == "rid-create-1")
    assert (create["surface"], create["verb"], create["resource"], create["status"]) == (
        "native",
        "POST",
        "securevalues",
        201,
    )
    assert isinstance(create["duration"], float) and create["duration"] >= 0
    assert create["time"].endswith("Z") and create["level"] == "INFO"
    statuses = {(line["resource"], line["status"]) for line in requests_logged}
    assert {("securevalues/decrypt", 200), ("securevalues", 401), ("securevalues", 400)} <= statuses
    assert all(len(line["request_id"]) > 0 for line in requests_logged)
    for secret in (SECRET, token, server.admin_token, "wrong-token-Qx81"):
        assert secret not in text


def test_text_is_the_default(server):
    server.session.get(server.sv_url())
    first = server.log().splitlines()[0]
    assert not first.startswith("{")
