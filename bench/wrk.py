"""Running wrk: a Lua prelude of constants, a scenario script, and report.lua's summary line."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from .stats import Result

LUA_DIR = Path(__file__).parent / "lua"
SETUP_SCRIPT = Path(__file__).parent / "setup.sh"


class WrkMissing(RuntimeError):
    """wrk is not installed and bench/setup.sh could not install it."""


def ensure_wrk() -> str:
    """The path of wrk, installing it with bench/setup.sh when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    completed = subprocess.run(["bash", str(SETUP_SCRIPT)], capture_output=True, text=True)
    found = shutil.which("wrk")
    if not found:
        raise WrkMissing(f"wrk is not installed and bench/setup.sh failed: {completed.stderr.strip()[-300:]}")
    return found


def lua_literal(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid Lua string (same escapes for what we use)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def run(
    url: str,
    scenario: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    constants: dict[str, object] | None = None,
) -> Result:
    """Run `lua/<scenario>.lua` against `url`; the result counts every completed request."""
    wrk = ensure_wrk()
    prelude = "".join(f"{name} = {lua_literal(value)}\n" for name, value in (constants or {}).items())
    parts = ("common.lua", f"{scenario}.lua", "report.lua")
    script = prelude + "".join((LUA_DIR / part).read_text() for part in parts)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as out:
        out.write(script)
    args = [
        wrk,
        "-t",
        str(min(threads, connections)),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        out.name,
    ]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    try:
        completed = subprocess.run(args + [url], capture_output=True, text=True, timeout=seconds + 60)
    finally:
        Path(out.name).unlink(missing_ok=True)
    line = next((row for row in completed.stdout.splitlines() if row.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(
            f"wrk gave no summary (exit {completed.returncode}): "
            f"{completed.stderr.strip()[-500:]} {completed.stdout.strip()[-500:]}"
        )
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
        extra={**data["extra"], "status_errors": data["status"], "bytes": data["bytes"]},
    )
