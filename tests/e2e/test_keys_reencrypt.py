"""Re-encryption of 10 000 values under the current data key (Grafana's consolidation), resumable,
with its progress output; the data keys that protect nothing are then destroyed."""

from __future__ import annotations

import re
import sqlite3
import time

from cli_runner import Cli
from harness import files_containing
from keys_support import DecryptLoop, create_values, create_values_in_bulk, data_keys_of, keys_status

KEYS = "/apis/ops.apiserver.local/v1/keys"
COUNT = 10_000


def test_reencrypt_ten_thousand_values(server_factory, tmp_path):
    server = server_factory("--cloudflare-secrets-quota", str(COUNT), env={"APISERVER_DEK_RETIRE_GRACE_SECONDS": "0"})
    cli = Cli(server, tmp_path / "home")
    server.create_namespace("bulk")
    # A hundred values the decrypt loop reads (they name its identity), the rest in batches.
    names = [f"loop-{i:03d}" for i in range(100)]
    started = time.monotonic()
    create_values(server, names, namespace="bulk")
    create_values_in_bulk(server, "bulk", COUNT - len(names))
    print(f"created {COUNT} values in {time.monotonic() - started:.1f} s")
    (old,) = data_keys_of(keys_status(server), "bulk")
    assert old["values"] == COUNT
    with sqlite3.connect(server.data_dir / "apiserver.db") as db:
        (old_wrapped,) = db.execute("SELECT wrapped FROM data_keys WHERE id = ?", (old["id"],)).fetchone()
    assert cli("keys", "rotate-dek").rc == 0
    assert keys_status(server)["staleValues"] == COUNT

    sample = [("bulk", name) for name in names]
    with DecryptLoop([server], sample) as loop:
        # One chunk by hand, as an interrupted run would leave it; the command then resumes.
        first = server.session.post(server.url + KEYS + "/reencrypt", json={"limit": 1000})
        assert first.status_code == 200, first.text
        assert (first.json()["reencrypted"], first.json()["remaining"]) == (1000, COUNT - 1000)
        assert first.json()["continue"] and first.json()["destroyedDataKeys"] == []

        started = time.monotonic()
        result = cli("keys", "reencrypt", "--chunk-size", "1000", timeout=120)
        print(f"re-encrypted {COUNT - 1000} values in {time.monotonic() - started:.1f} s")
        loop.wait_for(len(sample))
    assert result.rc == 0, result.err
    assert loop.failures == []

    # Progress on stderr, one line per chunk off a terminal; the final count on stdout.
    progress = [line for line in result.errors if line.startswith("[")]
    assert len(progress) == 9, result.err
    assert progress[0].endswith(f"1000/{COUNT - 1000} values")
    assert progress[-1] == "[" + "#" * 30 + f"] {COUNT - 1000}/{COUNT - 1000} values"
    assert re.fullmatch(rf"re-encrypted {COUNT - 1000} values; destroyed data keys: {old['id']}\n", result.out)

    after = keys_status(server)
    assert after["staleValues"] == 0
    (new,) = data_keys_of(after, "bulk")
    assert new["values"] == COUNT and new["id"] != old["id"]
    with sqlite3.connect(server.data_dir / "apiserver.db") as db:
        ids = [row[0] for row in db.execute("SELECT id FROM data_keys")]
    assert ids == [new["id"]]

    # Nothing left to do: a second run says so and changes nothing.
    again = cli("keys", "reencrypt")
    assert again.rc == 0 and again.out == "re-encrypted 0 values; no data key destroyed\n"
    server.stop()  # the last connection's close checkpoints the WAL into the database file
    assert files_containing(server.data_dir, bytes(old_wrapped)) == []
    server.start()
    with DecryptLoop([server], sample) as loop:
        loop.wait_for(len(sample))
    assert loop.failures == []
