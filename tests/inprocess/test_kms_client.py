"""The KMS v2 client against an in-process plugin on a real Unix socket, with an injected clock:
what it accepts from a plugin, how it classifies failures, the bound on cached data keys."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

import grpc
import pytest
from clocks import ManualClock
from fake_data_keys import FakeRepository

from apiserver.crypto.envelope import Envelope
from apiserver.crypto.errors import DecryptionError, KmsUnavailable
from apiserver.crypto.kms import KmsPlugin, socket_target
from apiserver.crypto.providers import Wrapping
from apiserver.grpc.generated.kmsv2 import api_pb2, api_pb2_grpc


class Plugin(api_pb2_grpc.KeyManagementServiceServicer):
    """Wraps by XOR with a byte (enough for a client test); each answer can be bent by a test."""

    def __init__(self) -> None:
        self.status = api_pb2.StatusResponse(version="v2", healthz="ok", key_id="k1")
        self.encrypt_override: api_pb2.EncryptResponse | None = None
        self.decrypt_code: grpc.StatusCode | None = None
        self.seen: list[api_pb2.DecryptRequest] = []

    async def Status(self, request, context):
        return self.status

    async def Encrypt(self, request, context):
        if self.encrypt_override is not None:
            return self.encrypt_override
        wrapped = bytes(b ^ 0x5A for b in request.plaintext)
        annotations = {"a.example.com": b"x"}
        return api_pb2.EncryptResponse(ciphertext=wrapped, key_id=self.status.key_id, annotations=annotations)

    async def Decrypt(self, request, context):
        self.seen.append(request)
        if self.decrypt_code is not None:
            await context.abort(self.decrypt_code, "no")
        return api_pb2.DecryptResponse(plaintext=bytes(b ^ 0x5A for b in request.ciphertext))


@pytest.fixture
async def plugin():
    directory = Path(tempfile.mkdtemp(prefix="kmsc-", dir="/tmp"))
    servicer = Plugin()
    server = grpc.aio.server()
    api_pb2_grpc.add_KeyManagementServiceServicer_to_server(servicer, server)
    server.add_insecure_port(f"unix:{directory / 's.sock'}")
    await server.start()
    servicer.socket = directory / "s.sock"  # type: ignore[attr-defined]
    servicer.server = server  # type: ignore[attr-defined]
    yield servicer
    await server.stop(None)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def client(plugin):
    clock = ManualClock(1000.0)
    calls: list[tuple[str, str]] = []
    kms = KmsPlugin(plugin.socket, timeout=2.0, status_interval=0, grace=30.0, clock=clock)
    kms.record = lambda method, code, seconds: calls.append((method, code))
    kms.clock = clock  # type: ignore[attr-defined]
    kms.calls = calls  # type: ignore[attr-defined]
    await kms.start()
    yield kms
    await kms.stop()


def test_socket_target_accepts_kube_apiservers_spelling() -> None:
    assert socket_target("unix:///run/kms.sock") == "unix:/run/kms.sock"
    assert socket_target("/run/kms.sock") == "unix:/run/kms.sock"


async def test_wrap_unwrap_give_back_key_id_and_annotations(plugin, client) -> None:
    assert client.active == ("kms", "k1") and client.problem() is None
    key = os.urandom(32)
    wrapping = await client.wrap(key, b"ignored")
    assert (wrapping.provider, wrapping.kek_id, dict(wrapping.annotations)) == ("kms", "k1", {"a.example.com": b"x"})
    assert key not in wrapping.wrapped
    assert await client.unwrap(wrapping, b"ignored") == key
    (request,) = plugin.seen
    assert (request.key_id, dict(request.annotations)) == ("k1", {"a.example.com": b"x"}) and request.uid
    assert ("Encrypt", "OK") in client.calls and ("Decrypt", "OK") in client.calls


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (api_pb2.EncryptResponse(ciphertext=b"", key_id="k1"), "empty ciphertext"),
        (api_pb2.EncryptResponse(ciphertext=b"c" * 1025, key_id="k1"), "ciphertext over 1024 bytes"),
        (api_pb2.EncryptResponse(ciphertext=b"c", key_id=""), "without a key_id"),
        (api_pb2.EncryptResponse(ciphertext=b"c", key_id="k" * 1025), "key_id over 1024 bytes"),
        (api_pb2.EncryptResponse(ciphertext=b"c", key_id="k1", annotations={"Not_DNS": b""}), "not a fully"),
        (api_pb2.EncryptResponse(ciphertext=b"c", key_id="k1", annotations={"a.b": b"v" * 33000}), "over 32768"),
    ],
)
async def test_encrypt_responses_are_checked_as_kube_apiserver_does(plugin, client, response, problem) -> None:
    plugin.encrypt_override = response
    with pytest.raises(KmsUnavailable, match=problem):
        await client.wrap(os.urandom(32), b"")


async def test_a_refusal_is_a_decryption_error_an_outage_is_unavailable(plugin, client) -> None:
    wrapping = await client.wrap(os.urandom(32), b"")
    plugin.decrypt_code = grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(DecryptionError):
        await client.unwrap(wrapping, b"")
    assert client.problem() is None  # the plugin answered: it is not away
    plugin.decrypt_code = grpc.StatusCode.UNAVAILABLE
    with pytest.raises(KmsUnavailable, match="did not answer Decrypt: Unavailable"):
        await client.unwrap(wrapping, b"")
    assert ("Decrypt", "InvalidArgument") in client.calls and ("Decrypt", "Unavailable") in client.calls
    with pytest.raises(DecryptionError):  # a data key of a KEK file is not the plugin's
        await client.unwrap(Wrapping("file", "kek-a", b"w"), b"")


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        (api_pb2.StatusResponse(version="v2", healthz="disk on fire", key_id="k1"), "not healthy: 'disk on fire'"),
        (api_pb2.StatusResponse(version="v1", healthz="ok", key_id="k1"), "speaks version 'v1', not v2"),
        (api_pb2.StatusResponse(version="v2", healthz="ok", key_id=""), "no valid key_id"),
    ],
)
async def test_an_unhealthy_status_starts_the_bound(plugin, client, status, problem) -> None:
    plugin.status = status
    await client.check()
    assert problem in client.problem() and "keep serving for 30 s more" in client.problem()
    assert client.cache_valid()
    client.clock.now += 31
    assert not client.cache_valid() and "cached data keys expired" in client.problem()
    plugin.status = api_pb2.StatusResponse(version="v2", healthz="ok", key_id="k1")
    await client.check()
    assert client.problem() is None and client.cache_valid()


async def test_envelope_bounds_cached_keys_and_rewraps_on_a_key_change(plugin, client) -> None:
    repository = FakeRepository()
    envelope = Envelope(client, repository, clock=client.clock)
    client.on_key_change = lambda: envelope.rewrap_all(provider="kms")
    sealed = await envelope.encrypt("ns", "a", 1, b"value")
    (record,) = repository.records.values()
    assert (record.provider, record.kek_id) == ("kms", "k1")

    plugin.status = api_pb2.StatusResponse(version="v2", healthz="ok", key_id="k2")
    await client.check()  # the key changed: the data key is re-wrapped under k2
    (record,) = repository.records.values()
    assert record.kek_id == "k2" and client.status()["kms"]["keyId"] == "k2"

    await plugin.server.stop(None)  # the plugin goes away
    await client.check()
    assert await envelope.decrypt("ns", "a", 1, sealed) == b"value"  # cached, within the bound
    with pytest.raises(KmsUnavailable):
        await envelope.encrypt("other", "b", 1, b"value")  # a new data key waits
    client.clock.now += 31
    with pytest.raises(KmsUnavailable):
        await envelope.decrypt("ns", "a", 1, sealed)  # past the bound: dropped, the plugin is needed
    assert not envelope.cached_data_key(record.id)
