"""Server processes for the benchmark: the real `apiserver serve` and the bare aiohttp baseline."""

from __future__ import annotations

import http.client
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _raise_fd_limit() -> None:
    # 1 000 watchers plus load need more than the common soft limit of 1 024 descriptors.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Process:
    """A server subprocess on 127.0.0.1:port; `startup_seconds` is spawn to first 200 on /readyz."""

    def __init__(self, args: list[str], port: int, log_path: Path) -> None:
        self.args, self.port, self.log_path = args, port, log_path
        self.popen: subprocess.Popen | None = None
        self.startup_seconds = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> Process:
        log = open(self.log_path, "ab")
        started = time.perf_counter()
        self.popen = subprocess.Popen(
            self.args,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_raise_fd_limit,
            cwd=REPO,
        )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.args[2:4]} exited with {self.popen.returncode}; see {self.log_path}")
            if _ready(self.port):
                self.startup_seconds = time.perf_counter() - started
                return self
            time.sleep(0.01)
        raise RuntimeError(f"{self.args[2:4]} did not become ready in {timeout}s; see {self.log_path}")

    def rss_mb(self) -> float:
        """Resident memory of the process now, in MiB (VmRSS from /proc)."""
        assert self.popen is not None
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far (from /proc)."""
        assert self.popen is not None
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)


def _ready(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/readyz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


# The event loop of the server and of the bare-aiohttp baseline alike, so their ratio stays honest.
EVENT_LOOP = "asyncio"
BENCH_CONNECTIONS = 8192


def apiserver(data_dir: Path, admin_token: str, log_path: Path, *extra_args: str) -> Process:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "apiserver",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--admin-token",
        admin_token,
        "--event-loop",
        EVENT_LOOP,
        # Every load comes from one address (this machine), and the watch scenario alone holds 1 000
        # streams: the per-address and total connection bounds that protect a real server would refuse it.
        "--max-connections",
        str(BENCH_CONNECTIONS),
        "--max-connections-per-address",
        str(BENCH_CONNECTIONS),
        *extra_args,
    ]
    return Process(args, port, log_path)


def bare_aiohttp(body_file: Path, log_path: Path) -> Process:
    port = free_port()
    args = [sys.executable, "-m", "bench.baseline_http", "--port", str(port), "--body", str(body_file)]
    return Process([*args, "--event-loop", EVENT_LOOP], port, log_path)
