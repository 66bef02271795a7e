"""Keys online on two PostgreSQL replicas: a KEK rotation made through one of them is picked up by
the other without a restart, and a decrypt loop across both sees no failure."""

from __future__ import annotations

import asyncio
import os
import signal

import asyncpg
from cli_runner import Cli
from harness import Server
from keys_support import (
    DecryptLoop,
    append_kek,
    create_values,
    data_keys_of,
    drop_kek,
    keks_by_id,
    keys_status,
    status_json,
    wait_for_active_kek,
)
from pg import postgres  # noqa: F401  (session fixture)
from test_postgres_replicas import write_kek_file


def test_kek_rotation_on_two_replicas(postgres, tmp_path):
    url = postgres.fresh_url("keys")
    kek_file = write_kek_file(tmp_path / "kek")
    env = {"APISERVER_DEK_RETIRE_GRACE_SECONDS": "0"}
    a, b = (
        Server(tmp_path / f"replica{i}", ["--database-url", url, "--kek-file", str(kek_file)], env).start()
        for i in range(2)
    )
    try:
        cli_a, cli_b = Cli(a, tmp_path / "home-a"), Cli(b, tmp_path / "home-b")
        a.create_namespace("team-p")
        names = [f"p-{i}" for i in range(20)]
        create_values(a, names)
        create_values(b, names, namespace="team-p")
        values = [("default", n) for n in names] + [("team-p", n) for n in names]
        before = status_json(cli_b)
        assert before == status_json(cli_a) | {"namespaces": before["namespaces"]}
        assert keks_by_id(before)["kek-shared"] == {
            "id": "kek-shared",
            "provider": "file",
            "active": True,
            "configured": True,
            "dataKeys": 2,
        }

        with DecryptLoop([a, b], values) as loop:
            loop.wait_for(40)
            append_kek(kek_file, "kek-new")
            os.kill(a.process.pid, signal.SIGHUP)  # A at once; B notices the shared file by itself
            wait_for_active_kek(a, "kek-new")
            wait_for_active_kek(b, "kek-new")
            # A new data key made on B is wrapped by the new KEK and opens on A.
            assert cli_b("keys", "rotate-dek", "--namespace", "team-p").rc == 0
            create_values(b, ["after-rotation"], namespace="team-p")
            loop.values.append(("team-p", "after-rotation"))
            loop.wait_for(40)
            rewrap = cli_b("keys", "rewrap")
            assert rewrap.rc == 0 and "re-wrapped 2 data keys under KEK kek-new" in rewrap.out, rewrap.out
            for cli in (cli_a, cli_b):
                after = status_json(cli)
                assert keks_by_id(after)["kek-shared"]["dataKeys"] == 0
                assert keks_by_id(after)["kek-new"]["dataKeys"] == 3
            drop_kek(kek_file, "kek-shared")
            assert cli_a("keys", "reload").rc == 0
            assert cli_b("keys", "reload").rc == 0
            assert [k["id"] for k in status_json(cli_b)["keks"]] == ["kek-new"]

            # Re-encryption through A moves team-p's values off its old data key, which goes.
            (old, _) = data_keys_of(status_json(cli_a), "team-p")
            result = cli_a("keys", "reencrypt", "--namespace", "team-p", "--chunk-size", "7")
            assert result.rc == 0 and f"re-encrypted 20 values; destroyed data keys: {old['id']}" in result.out
            loop.wait_for(40)
        assert loop.failures == []
        assert [k["values"] for k in data_keys_of(keys_status(b), "team-p")] == [21]
        assert asyncio.run(_data_key_ids(url)) == sorted(
            k["id"] for ns in keys_status(a)["namespaces"] for k in ns["dataKeys"]
        )
        assert old["id"] not in asyncio.run(_data_key_ids(url))
    finally:
        a.stop()
        b.stop()


async def _data_key_ids(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return sorted(row[0] for row in await conn.fetch("SELECT id FROM data_keys"))
    finally:
        await conn.close()
