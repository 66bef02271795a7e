"""GET and DECRYPT on PostgreSQL: one replica, then two sharing the database, loaded at once.

A throwaway PostgreSQL (the tests' own, `tests/pg.py`) holds the store; each replica is an
`apiserver serve --database-url` process with the shared KEK file. Two replicas are loaded by two
wrk processes at the same time, half the connections each, and their rates add up; the ratio to
one replica with all the connections is the figure. Every GET and DECRYPT is a consistent read,
so this also measures what the consistent-read check costs.
"""

from __future__ import annotations

import base64
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import procs, wrk
from .client import Client
from .scenarios import REPO, Bench, service_token
from .stats import Result
from .workload import collection_path, item_path, secure_value

NAMESPACE = "default"


@dataclass
class ReplicaFigures:
    get_one: Result
    get_two: Result
    decrypt_one: Result
    decrypt_two: Result


def available() -> str | None:
    """Why the scenario cannot run here, or None."""
    sys.path.insert(0, str(REPO / "tests"))
    from pg import find_bin_dir

    return None if find_bin_dir() else "PostgreSQL binaries (initdb, pg_ctl) not found"


def run(bench: Bench) -> ReplicaFigures:
    from pg import PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    assert bin_dir is not None
    database = PostgresServer(bin_dir).init().start()
    replicas: list[procs.Process] = []
    try:
        url = database.fresh_url("bench")
        kek = bench.workdir / "replicas-kek"
        kek.write_text(f"kek-bench {base64.b64encode(os.urandom(32)).decode()}\n")
        kek.chmod(0o600)
        for index in range(2):
            data_dir = bench.workdir / f"replica-{index}"
            args = ("--database-url", url, "--kek-file", str(kek))
            log = bench.workdir / f"replica-{index}.log"
            replicas.append(procs.apiserver(data_dir, bench.token, log, *args).start())
        first = replicas[0]
        client = Client(first.port, bench.token)
        client.json("POST", collection_path(NAMESPACE), secure_value(1))
        name = secure_value(1)["metadata"]["name"]
        token = service_token(Bench(first, bench.token, bench.workdir, bench.sizes), NAMESPACE)
        assert token is not None, "apiserver token create failed"
        get_path, decrypt_path = item_path(NAMESPACE, name), item_path(NAMESPACE, name) + "/decrypt"
        connections = bench.sizes.connections

        def load(targets: list[procs.Process], path: str, scenario: str, auth: str) -> Result:
            each = max(1, connections // len(targets))
            with ThreadPoolExecutor(len(targets)) as pool:
                runs = [
                    pool.submit(
                        wrk.run,
                        target.url + path,
                        scenario,
                        connections=each,
                        seconds=bench.sizes.seconds,
                        threads=1 if len(targets) > 1 else 2,
                        headers={"Authorization": f"Bearer {auth}"},
                        constants={"BODY": ""} if scenario == "post" else None,
                    )
                    for target in targets
                ]
                results = [run.result() for run in runs]
            return _summed(results)

        return ReplicaFigures(
            get_one=load([first], get_path, "get", bench.token),
            get_two=load(replicas, get_path, "get", bench.token),
            decrypt_one=load([first], decrypt_path, "post", token),
            decrypt_two=load(replicas, decrypt_path, "post", token),
        )
    finally:
        for replica in replicas:
            replica.stop()
        database.destroy()


def _summed(results: list[Result]) -> Result:
    """Runs that went on at the same time: requests add up over the same seconds."""
    seconds = max(r.seconds for r in results)
    return Result(
        requests=sum(r.requests for r in results),
        seconds=seconds,
        p50_ms=max(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
        extra={"rates": [round(r.rate, 1) for r in results]},
    )
