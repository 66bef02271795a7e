"""The scenarios: each drives the running server (and its baseline) and returns Results."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import baseline_sqlite, procs, wrk
from .client import Client
from .stats import Result, combine, percentile
from .workload import DECRYPTER, LABEL_SELECTOR, collection_path, item_path, secure_value

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Sizes:
    small: int = 1_000
    large: int = 100_000
    page: int = 500
    seconds: float = 10.0
    connections: int = 64
    watchers: int = 1_000
    watch_writes: int = 40
    watch_spacing: float = 0.3  # seconds between writes: one fan-out is measured at a time
    update_values: int = 16


@dataclass
class Bench:
    server: procs.Process
    token: str
    workdir: Path
    sizes: Sizes
    small_ns: str = "bench-small"
    large_ns: str = "bench-large"
    grpc_port: int = 0  # the server's --grpc-port (0: not served)
    _client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(self.server.port, self.token)
        return self._client

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


def get_by_name(bench: Bench) -> tuple[Result, Result]:
    """GET one value by name with auth, and the bare aiohttp handler answering the same bytes."""
    path = item_path(bench.small_ns, "v-000001")
    status, body = bench.client.request("GET", path)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status}")
    body_file = bench.workdir / "get-body.json"
    body_file.write_bytes(body)
    bare = procs.bare_aiohttp(body_file, bench.workdir / "bare-aiohttp.log").start()
    half = max(1.0, bench.sizes.seconds / 2)
    connections = bench.sizes.connections
    try:
        before = measured(bare, lambda: wrk.run(bare.url + path, "get", connections=connections, seconds=half))
        result = measured(
            bench.server,
            lambda: wrk.run(
                bench.server.url + path,
                "get",
                connections=connections,
                seconds=bench.sizes.seconds,
                headers=bench.auth(),
            ),
        )
        after = measured(bare, lambda: wrk.run(bare.url + path, "get", connections=connections, seconds=half))
    finally:
        bare.stop()
    baseline = combine(before, after)
    result.extra["body_bytes"] = len(body)
    return result, baseline


def get_with_access_log(bench: Bench, data_dir: Path) -> Result:
    """GET by name again on a server started with --access-log (the same data): what the access log costs."""
    server = procs.apiserver(data_dir, bench.token, bench.workdir / "apiserver-access-log.log", "--access-log").start()
    try:
        path = item_path(bench.small_ns, "v-000001")
        return measured(
            server,
            lambda: wrk.run(
                server.url + path,
                "get",
                connections=bench.sizes.connections,
                seconds=bench.sizes.seconds,
                headers=bench.auth(),
            ),
        )
    finally:
        server.stop()


def measured(process: procs.Process, load: Callable[[], Result]) -> Result:
    """Run `load` and add the CPU time `process` spent per request: steadier than rates on a busy machine."""
    before = process.cpu_seconds()
    result = load()
    result.extra["cpu_us_per_request"] = (process.cpu_seconds() - before) / max(result.requests, 1) * 1e6
    return result


def list_page(bench: Bench, namespace: str) -> Result:
    """First page of `page` values under the label selector, one connection (latency, not queueing)."""
    query = urllib.parse.urlencode({"labelSelector": LABEL_SELECTOR, "limit": bench.sizes.page})
    url = f"{bench.server.url}{collection_path(namespace)}?{query}"
    items = len(bench.client.json("GET", f"{collection_path(namespace)}?{query}")["items"])
    result = wrk.run(url, "get", connections=1, threads=1, seconds=bench.sizes.seconds, headers=bench.auth())
    result.extra["items"] = items
    return result


def create(bench: Bench, namespace: str) -> tuple[Result, Result]:
    """POST new values with 64 connections, and the raw one-commit-per-value SQLite loop."""
    template = secure_value(0, name="NAME")
    text = json.dumps(template, separators=(",", ":"))
    prefix, suffix = text.split("NAME")
    status, sample = bench.client.request(
        "POST", collection_path(namespace), json.dumps(secure_value(1, name="c-sample")).encode()
    )
    if status != 201:
        raise RuntimeError(f"create: {status} {sample[:300]!r}")
    half = max(1.0, bench.sizes.seconds / 2)
    raw_db, blob_size = bench.workdir / "raw" / "raw.db", len(template["spec"]["value"]) + 28
    before = baseline_sqlite.run(raw_db, sample, blob_size, seconds=half)
    constants = {
        "NAMESPACE_PATH": collection_path(namespace),
        "BODY_PREFIX": prefix,
        "BODY_SUFFIX": suffix,
        "RUN_ID": str(int(time.time()) % 100000),
    }
    result = measured(
        bench.server,
        lambda: wrk.run(
            bench.server.url + collection_path(namespace),
            "create",
            connections=bench.sizes.connections,
            seconds=bench.sizes.seconds,
            headers=bench.auth(),
            constants=constants,
        ),
    )
    after = baseline_sqlite.run(raw_db, sample, blob_size, seconds=half)
    return result, combine(before, after)


def update_contended(bench: Bench, namespace: str) -> Result:
    """PUT with resourceVersion preconditions: 64 connections racing over a few values."""
    client = bench.client
    versions = {}
    for index in range(bench.sizes.update_values):
        created = client.json("POST", collection_path(namespace), secure_value(index, name=f"u-{index:02d}"))
        versions[created["metadata"]["name"]] = created["metadata"]["resourceVersion"]
    result = wrk.run(
        bench.server.url + collection_path(namespace),
        "update",
        connections=bench.sizes.connections,
        seconds=bench.sizes.seconds,
        headers=bench.auth(),
        constants={"NAMESPACE_PATH": collection_path(namespace), "NAMES": versions, "DESCRIPTION_PREFIX": "upd "},
    )
    result.extra["updated"] = result.extra.get("ok", 0) - result.extra.get("gets", 0)
    return result


def service_token(bench: Bench, namespace: str) -> str | None:
    """A viewer token with the decrypt permission, from the CLI; None when the command is missing."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "apiserver",
            "token",
            "create",
            "--server",
            bench.server.url,
            "--token",
            bench.token,
            "--namespace",
            namespace,
            "--role",
            "viewer",
            "--service-identity",
            DECRYPTER,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    token = completed.stdout.strip()
    return token if completed.returncode == 0 and token and "\n" not in token else None


def decrypt(bench: Bench) -> Result | str:
    """POST .../decrypt with a service token; a note (str) when the route or the tokens are missing."""
    token = service_token(bench, bench.small_ns)
    if token is None:
        return "skipped: `apiserver token create --service-identity` is not available yet"
    path = item_path(bench.small_ns, "v-000001") + "/decrypt"
    status, body = bench.client.request("POST", path, token=token)
    if status == 404 and b"could not find the requested resource" in body:
        return "skipped: the decrypt route is not there yet"
    if status != 200:
        return f"skipped: decrypt answered {status} {body[:200]!r}"
    return measured(
        bench.server,
        lambda: wrk.run(
            bench.server.url + path,
            "post",
            connections=bench.sizes.connections,
            seconds=bench.sizes.seconds,
            headers=bench.auth(token),
            constants={"BODY": ""},
        ),
    )


def grpc_decrypt(bench: Bench, *, access_token: bool = False) -> Result | str:
    """DecryptSecureValues of the value REST decrypt reads, from bench.grpc_load in a process of its own.

    With `access_token`, as Grafana calls: a token from POST /v1/sign-access-token in X-Access-Token
    (an ES256 signature verified per call); otherwise the same bearer token as the REST decrypt.
    """
    if not bench.grpc_port:
        return "skipped: the server has no gRPC port"
    token = service_token(bench, bench.small_ns)
    if token is None:
        return "skipped: `apiserver token create --service-identity` is not available yet"
    credential = ["--token", token]
    if access_token:
        body = {"namespace": bench.small_ns, "audiences": ["secret.grafana.app"]}
        status, answer = bench.client.request("POST", "/v1/sign-access-token", body, token=token)
        if status != 200:
            return f"skipped: the token exchange answered {status} {answer[:200]!r}"
        credential = ["--access-token", json.loads(answer)["data"]["token"]]
    args = [sys.executable, "-m", "bench.grpc_load", "--target", f"127.0.0.1:{bench.grpc_port}", *credential]
    args += ["--namespace", bench.small_ns, "--name", "v-000001", "--seconds", str(bench.sizes.seconds)]
    args += ["--connections", str(bench.sizes.connections), "--channels", str(GRPC_CHANNELS)]
    return measured(bench.server, lambda: _grpc_load(args, bench.sizes.seconds))


GRPC_CHANNELS = 4  # HTTP/2 connections shared by the callers, as a client-side load balancer would open


def _grpc_load(args: list[str], seconds: float) -> Result:
    completed = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=seconds + 60)
    line = next((row for row in completed.stdout.splitlines() if row.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"bench.grpc_load gave no summary (exit {completed.returncode}): {completed.stderr[-500:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["errors"],
        extra={"error_codes": data["error_codes"], "channels": GRPC_CHANNELS},
    )


def watch_fanout(bench: Bench, namespace: str) -> Result:
    """N watchers in another process; per write, the time until the last watcher has the event."""
    client = bench.client
    client.json("POST", collection_path(namespace), secure_value(0, name="w-0"))
    watchers = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.watch_fanout",
            "--port",
            str(bench.server.port),
            "--token",
            bench.token,
            "--namespace",
            namespace,
            "--watchers",
            str(bench.sizes.watchers),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        preexec_fn=procs._raise_fd_limit,
    )
    try:
        assert watchers.stdout is not None and watchers.stdin is not None
        line = watchers.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"watchers did not get ready: {line!r}")
        sent: dict[str, float] = {}
        acked: list[float] = []
        for k in range(1, bench.sizes.watch_writes + 1):
            name = f"w-{k}"
            sent[name] = time.monotonic()
            client.json("POST", collection_path(namespace), secure_value(k, name=name))
            acked.append(time.monotonic() - sent[name])
            time.sleep(bench.sizes.watch_spacing)  # let one fan-out finish before the next write
        time.sleep(min(1.0, 3 * bench.sizes.watch_spacing))
        watchers.stdin.write("DONE\n")
        watchers.stdin.flush()
        output = watchers.communicate(timeout=60)[0]
    finally:
        if watchers.poll() is None:
            watchers.kill()
            watchers.wait()
    to_last: list[float] = []
    to_median: list[float] = []
    missing = 0
    for line in output.splitlines():
        record = json.loads(line)
        if record["name"] not in sent:
            continue
        times = sorted(record["times"])
        missing += bench.sizes.watchers - record["count"]
        to_last.append(times[-1] - sent[record["name"]])
        to_median.append(times[len(times) // 2] - sent[record["name"]])
    missing += (len(sent) - len(to_last)) * bench.sizes.watchers
    to_last.sort()
    to_median.sort()
    acked.sort()
    return Result(
        requests=len(to_last),
        seconds=0.0,
        p50_ms=percentile(to_last, 50) * 1000,
        p99_ms=percentile(to_last, 99) * 1000,
        errors=missing,
        extra={
            "median_watcher_p50_ms": percentile(to_median, 50) * 1000,
            "write_ack_p50_ms": percentile(acked, 50) * 1000,
            "watchers": bench.sizes.watchers,
        },
    )
