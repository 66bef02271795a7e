"""A smoke run of `python -m bench` with tiny sizes, so the benchmark cannot rot unnoticed.

Not a timed test: it checks that every scenario ran against a real server and produced sane
figures (requests served without errors, pages full, every watcher got every event).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wrk_installed() -> None:
    sys.path.insert(0, str(REPO))
    from bench.wrk import WrkMissing, ensure_wrk

    try:
        ensure_wrk()  # installs it with bench/setup.sh when missing
    except WrkMissing as exc:
        print(f"skipping the bench smoke run: {exc}")
        pytest.skip(f"the load generator cannot be installed here: {exc}")


def test_bench_entry_point_runs_every_scenario(wrk_installed, tmp_path):
    figures_path = tmp_path / "figures.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--workdir", str(tmp_path / "work"), "--json", str(figures_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,  # ~45 s on a busy 2-core machine; the margin is for a very busy one
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    table = completed.stdout
    assert "FAILED" not in table, table
    for row in (
        "start-up",
        "GET by name",
        "--access-log",
        "LIST page",
        "CREATE durable",
        "UPDATE rv precondition",
        "DECRYPT",
        "DECRYPT over gRPC, bearer token",
        "DECRYPT over gRPC, Grafana access token",
        "REST decrypt",
        "WATCH fan-out",
        "2 replicas",
        "bare aiohttp",
        "raw SQLite",
    ):
        assert row in table, table
    figures = json.loads(figures_path.read_text())
    sizes = figures["sizes"]
    assert 0 < figures["startup_seconds"] < 60
    assert figures["rss_after_start_mb"] > 10
    measured = (
        "get",
        "get_baseline",
        "get_access_log",
        "create",
        "create_baseline",
        "list_small",
        "list_large",
        "decrypt",
        "grpc_decrypt",
        "grpc_decrypt_access_token",
    )
    if "replicas_get_one" in figures:  # absent only where PostgreSQL is not installed (the row says skipped)
        measured += ("replicas_get_one", "replicas_get_two", "replicas_decrypt_one", "replicas_decrypt_two")
    for name in measured:
        assert figures[name]["requests"] > 0, name
        assert figures[name]["errors"] == 0, (name, figures[name])
    assert figures["get_ratio"] > 0 and figures["create_ratio"] > 0
    # gRPC decrypt beside REST decrypt, on the same server in the same run: both ratios computed.
    assert figures["grpc_decrypt_ratio"] > 0 and figures["grpc_decrypt_access_token_ratio"] > 0
    assert figures["grpc_decrypt"]["extra"]["cpu_us_per_request"] > 0 and figures["grpc_decrypt_cpu_ratio"] > 0
    assert figures["get"]["extra"]["cpu_us_per_request"] > 0
    assert figures["list_small"]["extra"]["items"] == min(sizes["page"], sizes["small"] // 2)
    assert figures["list_large"]["extra"]["items"] == sizes["page"]
    update = figures["update"]
    assert update["extra"]["updated"] > 0 and update["extra"]["puts"] > 0
    # Every HTTP error is a precondition failure (409); socket timeouts on a loaded machine are not the server's.
    assert update["extra"]["status_errors"] == update["extra"]["conflicts"]
    assert update["errors"] - update["extra"]["conflicts"] <= max(2, update["requests"] // 100)
    watch = figures["watch"]
    assert watch["requests"] == sizes["watch_writes"] and watch["errors"] == 0
    assert watch["p99_ms"] > 0
    decrypt = figures["decrypt"]
    assert isinstance(decrypt, str) and decrypt.startswith("skipped") or decrypt["errors"] == 0, decrypt
