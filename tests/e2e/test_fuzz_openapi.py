"""A bounded fuzzing run: schemathesis against the OpenAPI v3 documents the server serves.

A real server, the real documents from `/openapi/v3`, schemathesis' own command line with a fixed
seed and a fixed number of examples per operation: no answer may be a 5xx and no connection may
drop (schemathesis counts both as failures and exits non-zero). Two edits to the documents keep
the run inside its budget and deep enough to matter:

- `watch` is left out: a watch is a stream that stays open by design (watches have tests of
  their own), and a fuzzer would only see its read time out;
- the `namespace` path parameter names namespaces that exist, so that generated bodies get past
  the namespace lookup into decoding, validation, encryption and storage. Negative cases still
  send other namespaces.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

SEED = 20261202
EXAMPLES = 25  # per operation and phase
# A guard against a hang, not a timing test: the run is bounded by its examples, and a loaded machine takes minutes.
BUDGET_SECONDS = 540
NAMESPACES = ["default", "fuzz"]


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    return found


def served_documents(server) -> dict[str, dict]:
    """Every group document listed by the `/openapi/v3` index, as served."""
    index = server.session.get(f"{server.url}/openapi/v3", timeout=30)
    assert index.status_code == 200, index.text
    documents = {}
    for group, entry in index.json()["paths"].items():
        response = server.session.get(server.url + entry["serverRelativeURL"], timeout=30)
        assert response.status_code == 200, response.text
        documents[group] = response.json()
    return documents


def fuzzable(document: dict) -> dict:
    """The document without `watch`, with `namespace` naming existing namespaces (see above)."""
    for item in document["paths"].values():
        for operation in [item, *(v for k, v in item.items() if isinstance(v, dict) and k != "parameters")]:
            parameters = operation.get("parameters")
            if not isinstance(parameters, list):
                continue
            operation["parameters"] = [p for p in parameters if p.get("name") != "watch"]
            for parameter in operation["parameters"]:
                if parameter.get("name") == "namespace" and parameter.get("in") == "path":
                    parameter["schema"] = {"type": "string", "enum": NAMESPACES}
    return document


@pytest.mark.parametrize("group", ["apis/secret.grafana.app/v1beta1", "api/v1"])
def test_fuzzing_the_served_openapi_finds_no_5xx_and_no_dropped_connection(server, tmp_path, group):
    cli = _schemathesis()
    server.create_namespace("fuzz")
    documents = served_documents(server)
    assert group in documents
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(fuzzable(documents[group])))
    args = [
        cli,
        "run",
        str(schema),
        "--url",
        server.url,
        "--header",
        f"Authorization: Bearer {server.admin_token}",
        "--checks",
        "not_a_server_error",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--output-truncate",
        "true",
    ]
    try:
        # cwd: the run keeps its example database (.hypothesis) in the test's own directory.
        done = subprocess.run(
            args,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=BUDGET_SECONDS,
            env={**os.environ, "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the fuzzing run took longer than {BUDGET_SECONDS}s:\n{(exc.stdout or b'')[-4000:]!r}")
    summary = done.stdout[-6000:]
    assert done.returncode == 0, f"schemathesis found failures:\n{summary}\n{done.stderr[-2000:]}"
    assert "generated" in summary, summary  # it really ran cases
    # The server took everything and is still fine.
    assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200
    assert "unhandled" not in server.log(), server.log()[-4000:]


# -- defects the fuzzer found, one regression test each ----------------------------------------


@pytest.mark.parametrize("field", ["\u001f", "a\r\nX-Injected: 1", "\u0000", "\u0085"])
def test_an_unknown_field_named_with_control_characters_is_answered_with_an_escaped_warning(server, field):
    """Found by schemathesis: `{"\\u001f": null, ...}` made the Warning header invalid, and aiohttp
    dropped the connection after the create was committed; the client never learnt of it."""
    body = (
        '{"apiVersion":"secret.grafana.app/v1beta1","kind":"SecureValue","metadata":{"name":"odd"},'
        f'{json.dumps(field)}:null,"spec":{{"description":"d","value":"v"}}}}'
    )
    response = server.session.post(
        server.sv_url(), data=body.encode(), headers={"Content-Type": "application/json"}, timeout=20
    )
    assert response.status_code == 201, response.text
    warning = response.headers["Warning"]
    assert warning.startswith('299 - "unknown field \\"') and "X-Injected" not in response.headers
    assert all(c.isprintable() for c in warning), warning
    assert server.session.get(server.sv_url(name="odd")).status_code == 200
