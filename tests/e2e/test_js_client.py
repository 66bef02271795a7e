"""The Kubernetes JavaScript client (`@kubernetes/client-node`, on Node 22) against a real server.

create, get, list with a label selector, merge patch, a watch, and an informer on a quiet
collection that stays connected past the client's 30-second watch inactivity timeout without
reconnecting.
"""

from __future__ import annotations

import json
import os
import subprocess

from identities_support import create_token
from js_support import JS_DIR, ensure_node_client

INFORMER_SECONDS = 35


def test_client_node_crud_watch_and_a_quiet_informer(server):
    node = ensure_node_client()
    assert subprocess.run([str(node), "--version"], capture_output=True, text=True).stdout.startswith("v22")
    server.create_namespace("js")
    server.create_namespace("js-quiet")
    token, _ = create_token(server, namespaces=["js", "js-quiet"], role="editor")
    env = {
        **os.environ,
        "SERVER": server.url,
        "TOKEN": token,
        "NAMESPACE": "js",
        "QUIET_NAMESPACE": "js-quiet",
        "INFORMER_SECONDS": str(INFORMER_SECONDS),
    }
    done = subprocess.run(
        [str(node), "client.mjs"], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=INFORMER_SECONDS + 60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["created"]["name"] == "from-js" and report["created"]["hasValue"] is False  # write-only
    assert report["got"] == {"description": "made by client-node", "uid": True}
    assert report["selected"] == ["from-js"]
    assert report["patched"] == {"description": "patched by js", "version": 2}
    assert report["watched"] == ["ADDED from-js", "ADDED other-js", "MODIFIED from-js"]
    assert "watchError" not in report

    informer = report["informer"]
    assert informer["seconds"] > 30  # past the client's watch inactivity timeout
    assert informer["errors"] == [] and informer["added"] == []
    assert informer["connects"] == 1, f"the informer reconnected: {informer}"
    assert "js-secret-value" not in done.stdout + done.stderr + server.log()
