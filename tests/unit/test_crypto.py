"""Envelope encryption: AEAD helpers, KEK sources, DEK lifecycle (with an in-memory repository)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import stat
from pathlib import Path

import pytest
from clocks import ManualClock
from fake_data_keys import FakeRepository

from apiserver.crypto import (
    Ciphertext,
    DataKeyRecord,
    DecryptionError,
    Envelope,
    Kek,
    KekConfigError,
    KekRing,
    load_kek_file,
    new_kek,
    open_,
    parse_kek_env,
    seal,
)


def ring(*ids: str) -> KekRing:
    return KekRing(Kek(kek_id, os.urandom(32)) for kek_id in ids or ("kek-test",))


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def envelope(repo: FakeRepository, clock: ManualClock) -> Envelope:
    return Envelope(ring(), repo, rotation_period=100.0, clock=clock)


# --- aead -------------------------------------------------------------------------------------


def test_seal_layout_and_round_trip() -> None:
    key = os.urandom(32)
    blob = seal(key, b"hunter2", b"ad")
    assert blob[0] == 1 and len(blob) == 1 + 12 + len(b"hunter2") + 16
    assert b"hunter2" not in blob
    assert open_(key, blob, b"ad") == b"hunter2"
    assert seal(key, b"hunter2", b"ad") != blob  # fresh nonce each time


@pytest.mark.parametrize(
    "mutate",
    [
        lambda key, blob: (key, blob, b"other"),
        lambda key, blob: (os.urandom(32), blob, b"ad"),
        lambda key, blob: (key, blob[:-1] + bytes([blob[-1] ^ 1]), b"ad"),
        lambda key, blob: (key, b"\x02" + blob[1:], b"ad"),
        lambda key, blob: (key, blob[:20], b"ad"),
        lambda key, blob: (key[:16], blob, b"ad"),
    ],
)
def test_open_failures_are_uniform(mutate) -> None:
    key = os.urandom(32)
    blob = seal(key, b"hunter2", b"ad")
    with pytest.raises(DecryptionError) as info:
        open_(*mutate(key, blob))
    assert str(info.value) == "decryption failed"
    # No chained exception that could carry data into a traceback.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


# --- envelope ---------------------------------------------------------------------------------


async def test_round_trip(envelope: Envelope) -> None:
    ct = await envelope.encrypt("ns", "db-password", 1, b"s3cret")
    assert isinstance(ct, Ciphertext) and ct.data_key_id.startswith("dek-")
    assert len(ct.data_key_id) == 4 + 16
    assert b"s3cret" not in ct.blob
    assert await envelope.decrypt("ns", "db-password", 1, ct) == b"s3cret"
    assert await envelope.decrypt("ns", "db-password", 1, await envelope.encrypt("ns", "db-password", 1, b"")) == b""


@pytest.mark.parametrize(
    ("namespace", "name", "version"),
    [("other", "db-password", 1), ("ns", "other", 1), ("ns", "db-password", 2)],
)
async def test_aad_binds_row(envelope: Envelope, namespace: str, name: str, version: int) -> None:
    await envelope.encrypt("other", "x", 1, b"make a DEK in the other namespace too")
    ct = await envelope.encrypt("ns", "db-password", 1, b"s3cret")
    with pytest.raises(DecryptionError, match=r"^decryption failed$"):
        await envelope.decrypt(namespace, name, version, ct)


async def test_aad_binds_row_with_a_fresh_instance(repo: FakeRepository, clock: ManualClock) -> None:
    # Same checks without the in-memory DEK cache: everything comes from the repository.
    keks = ring()
    ct = await Envelope(keks, repo, clock=clock).encrypt("ns", "a", 1, b"v")
    fresh = Envelope(keks, repo, clock=clock)
    with pytest.raises(DecryptionError):
        await fresh.decrypt("ns", "b", 1, ct)
    assert await fresh.decrypt("ns", "a", 1, ct) == b"v"


async def test_tampered_blob_and_unknown_dek_fail(envelope: Envelope) -> None:
    ct = await envelope.encrypt("ns", "a", 1, b"s3cret")
    flipped = bytearray(ct.blob)
    flipped[15] ^= 0x01
    with pytest.raises(DecryptionError, match=r"^decryption failed$"):
        await envelope.decrypt("ns", "a", 1, Ciphertext(ct.data_key_id, bytes(flipped)))
    with pytest.raises(DecryptionError, match=r"^decryption failed$"):
        await envelope.decrypt("ns", "a", 1, Ciphertext("dek-0000000000000000", ct.blob))


async def test_tampered_wrapped_dek_and_unknown_kek_fail(repo: FakeRepository, clock: ManualClock) -> None:
    keks = ring()
    ct = await Envelope(keks, repo, clock=clock).encrypt("ns", "a", 1, b"s3cret")
    record = repo.records[ct.data_key_id]
    repo.records[record.id] = dataclasses.replace(record, wrapped=record.wrapped[:-1] + bytes([record.wrapped[-1] ^ 1]))
    with pytest.raises(DecryptionError):
        await Envelope(keks, repo, clock=clock).decrypt("ns", "a", 1, ct)
    repo.records[record.id] = record
    with pytest.raises(DecryptionError):
        await Envelope(ring("kek-other"), repo, clock=clock).decrypt("ns", "a", 1, ct)


async def test_wrapped_dek_cannot_move_to_another_namespace(repo: FakeRepository, clock: ManualClock) -> None:
    keks = ring()
    ct = await Envelope(keks, repo, clock=clock).encrypt("ns", "a", 1, b"s3cret")
    record = repo.records[ct.data_key_id]
    repo.records[record.id] = dataclasses.replace(record, namespace="evil")
    with pytest.raises(DecryptionError):
        await Envelope(keks, repo, clock=clock).decrypt("evil", "a", 1, ct)


async def test_one_dek_per_namespace(envelope: Envelope, repo: FakeRepository) -> None:
    a1 = await envelope.encrypt("a", "x", 1, b"1")
    a2 = await envelope.encrypt("a", "y", 1, b"2")
    b1 = await envelope.encrypt("b", "x", 1, b"3")
    assert a1.data_key_id == a2.data_key_id != b1.data_key_id
    assert len(repo.records) == 2
    assert {r.namespace for r in repo.records.values()} == {"a", "b"}


async def test_steady_state_encrypt_and_decrypt_do_not_touch_repository(
    envelope: Envelope, repo: FakeRepository
) -> None:
    ct = await envelope.encrypt("ns", "a", 1, b"v")
    calls = repo.calls
    for version in range(2, 10):
        await envelope.encrypt("ns", "a", version, b"v")
    assert await envelope.decrypt("ns", "a", 1, ct) == b"v"
    assert repo.calls == calls


async def test_existing_active_dek_is_reused_by_a_new_instance(repo: FakeRepository, clock: ManualClock) -> None:
    keks = ring()
    first = await Envelope(keks, repo, clock=clock).encrypt("ns", "a", 1, b"v")
    second = await Envelope(keks, repo, clock=clock).encrypt("ns", "b", 1, b"v")
    assert first.data_key_id == second.data_key_id
    assert len(repo.records) == 1


async def test_concurrent_first_encrypts_create_one_dek(envelope: Envelope, repo: FakeRepository) -> None:
    results = await asyncio.gather(*(envelope.encrypt("ns", f"s{i}", 1, b"v") for i in range(20)))
    assert len({ct.data_key_id for ct in results}) == 1
    assert len(repo.records) == 1


async def test_rotation_after_period(envelope: Envelope, repo: FakeRepository, clock: ManualClock) -> None:
    old = await envelope.encrypt("ns", "a", 1, b"old")
    clock.now += 99.0
    assert (await envelope.encrypt("ns", "a", 2, b"v")).data_key_id == old.data_key_id
    clock.now += 1.0
    new = await envelope.encrypt("ns", "a", 3, b"new")
    assert new.data_key_id != old.data_key_id
    assert repo.records[new.data_key_id].active and not repo.records[old.data_key_id].active
    assert await envelope.decrypt("ns", "a", 1, old) == b"old"
    assert await envelope.decrypt("ns", "a", 3, new) == b"new"


async def test_stale_dek_in_repository_is_not_reused(repo: FakeRepository, clock: ManualClock) -> None:
    keks = ring()
    old = await Envelope(keks, repo, rotation_period=100.0, clock=clock).encrypt("ns", "a", 1, b"v")
    clock.now += 500.0
    new = await Envelope(keks, repo, rotation_period=100.0, clock=clock).encrypt("ns", "a", 2, b"v")
    assert new.data_key_id != old.data_key_id


async def test_rotation_on_demand(envelope: Envelope, repo: FakeRepository) -> None:
    old = await envelope.encrypt("ns", "a", 1, b"old")
    new_id = await envelope.rotate("ns")
    assert new_id != old.data_key_id and new_id.startswith("dek-")
    new = await envelope.encrypt("ns", "a", 2, b"new")
    assert new.data_key_id == new_id
    assert [r.id for r in repo.records.values() if r.active] == [new_id]
    assert await envelope.decrypt("ns", "a", 1, old) == b"old"


async def test_forget_active_picks_up_rotation_by_another_replica(repo: FakeRepository, clock: ManualClock) -> None:
    keks = ring()
    replica1 = Envelope(keks, repo, clock=clock)
    replica2 = Envelope(keks, repo, clock=clock)
    old = await replica1.encrypt("ns", "a", 1, b"v")
    new_id = await replica2.rotate("ns")
    assert (await replica1.encrypt("ns", "a", 2, b"v")).data_key_id == old.data_key_id  # cached
    replica1.forget_active("ns")
    assert (await replica1.encrypt("ns", "a", 3, b"v")).data_key_id == new_id


# --- KEK file ---------------------------------------------------------------------------------


def test_kek_file_created_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "data" / "kek"
    first = load_kek_file(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.active.id.startswith("kek-") and len(first.active.id) == 4 + 8
    again = load_kek_file(path, create=False)
    assert again.active == first.active and again.ids() == first.ids()
    assert load_kek_file(path, create=True).active == first.active  # not overwritten
    assert [p.name for p in path.parent.iterdir()] == ["kek"]  # no temp file left behind


def test_kek_file_missing_without_create(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    with pytest.raises(KekConfigError, match="does not exist") as info:
        load_kek_file(path, create=False)
    assert str(path) in str(info.value)
    assert not path.exists()


def test_kek_file_refused_when_group_or_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    load_kek_file(path, create=True)
    path.chmod(0o644)
    with pytest.raises(KekConfigError, match="chmod 600") as info:
        load_kek_file(path, create=False)
    assert str(path) in str(info.value)


def _write_kek_file(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def test_kek_file_format_last_line_active(tmp_path: Path) -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    path = tmp_path / "kek"
    _write_kek_file(
        path,
        f"# comment\n\nold {base64.b64encode(k1).decode()}\n  # another\nnew {base64.b64encode(k2).decode()}",
    )
    keks = load_kek_file(path, create=False)
    assert keks.ids() == ["old", "new"]
    assert keks.active == Kek("new", k2) and keks.get("old").key == k1
    with pytest.raises(DecryptionError):
        keks.get("nope")


@pytest.mark.parametrize(
    "bad_line",
    [
        "{key}",  # id missing
        "k2 {key} extra",
        "k2 {short}",  # not 32 bytes
        "k2 {key}!",  # not base64
        "{key} k2",  # columns swapped
        "k/2 {key}",  # bad id
        "k1 {key}",  # duplicate id
    ],
)
def test_kek_file_malformed_line_names_line_without_key(tmp_path: Path, bad_line: str) -> None:
    good = base64.b64encode(os.urandom(32)).decode()
    key = base64.b64encode(os.urandom(32)).decode()
    short = base64.b64encode(os.urandom(16)).decode()
    path = tmp_path / "kek"
    _write_kek_file(path, f"# keys\nk1 {good}\n\n" + bad_line.format(key=key, short=short) + "\n")
    with pytest.raises(KekConfigError, match="line 4") as info:
        load_kek_file(path, create=False)
    message = str(info.value)
    for secret in (good, key, short, key[:12], short[:12]):
        assert secret not in message


def test_kek_file_without_keys(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    _write_kek_file(path, "# nothing\n\n")
    with pytest.raises(KekConfigError, match="no key"):
        load_kek_file(path, create=False)


# --- KEK env ----------------------------------------------------------------------------------


def test_parse_kek_env() -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    value = f"a:{base64.b64encode(k1).decode()}, b:{base64.b64encode(k2).decode()}"
    keks = parse_kek_env(value)
    assert keks.ids() == ["a", "b"]
    assert keks.active == Kek("b", k2) and keks.get("a") == Kek("a", k1)
    assert parse_kek_env(f"only:{base64.b64encode(k1).decode()}").active.id == "only"


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("", "empty"),
        ("{key}", "entry 1"),
        ("a:{key},", "entry 2"),
        ("a:{short}", "entry 1"),
        ("a:{key},b:not-base64", "entry 2"),
        ("a:{key},a:{key}", "duplicate"),
        ("a b:{key}", "entry 1"),
    ],
)
def test_parse_kek_env_errors(value: str, match: str) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    short = base64.b64encode(os.urandom(16)).decode()
    with pytest.raises(KekConfigError, match=match) as info:
        parse_kek_env(value.format(key=key, short=short))
    assert key not in str(info.value) and short not in str(info.value)


# --- KEK rotation -----------------------------------------------------------------------------


async def test_appended_kek_then_rewrap_all(tmp_path: Path, repo: FakeRepository, clock: ManualClock) -> None:
    """The operator's rotation (docs/keys.md): append a KEK line to the file, reload, re-wrap."""
    path = tmp_path / "kek"
    old_ring = load_kek_file(path, create=True)
    before = Envelope(old_ring, repo, clock=clock)
    values = {ns: await before.encrypt(ns, "a", 1, ns.encode()) for ns in ("n1", "n2")}

    appended = new_kek()
    with path.open("a") as file:
        file.write(f"{appended.id} {base64.b64encode(appended.key).decode()}\n")
    new_ring = load_kek_file(path, create=False)
    assert new_ring.ids() == [old_ring.active.id, appended.id] and new_ring.active.id == appended.id

    after = Envelope(new_ring, repo, clock=clock)
    assert await after.rewrap_all() == 2
    assert {r.kek_id for r in repo.records.values()} == {appended.id}
    assert await after.rewrap_all() == 0  # idempotent

    # With only the new KEK left, old values still decrypt.
    only_new = Envelope(KekRing([new_ring.active]), repo, clock=clock)
    for ns, ct in values.items():
        assert await only_new.decrypt(ns, "a", 1, ct) == ns.encode()
    # New DEKs are wrapped by the new KEK.
    new_id = await only_new.rotate("n1")
    assert repo.records[new_id].kek_id == appended.id


# --- no key material in reprs -----------------------------------------------------------------


async def test_reprs_hide_key_material(envelope: Envelope, repo: FakeRepository) -> None:
    key = os.urandom(32)
    kek = Kek("kek-1", key)
    keks = KekRing([kek])
    for text in (repr(kek), str(kek), repr(keks)):
        assert "kek-1" in text
        assert key.hex() not in text and repr(key) not in text and base64.b64encode(key).decode() not in text

    ct = await envelope.encrypt("ns", "a", 1, b"plaintext-value")
    record = repo.records[ct.data_key_id]
    for obj in (record, ct, envelope):
        text = repr(obj)
        assert repr(record.wrapped) not in text and record.wrapped.hex() not in text
        assert repr(ct.blob) not in text and "plaintext-value" not in text
    assert record.id in repr(record)
    for dek in envelope._deks.values():  # the cached unwrapped keys too
        assert repr(dek.key) not in repr(dek) and dek.key.hex() not in repr(dek)


def test_kek_rejects_wrong_size_without_echo() -> None:
    with pytest.raises(ValueError) as info:
        Kek("k", b"x" * 16)
    assert "xxxx" not in str(info.value)
