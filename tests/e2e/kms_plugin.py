"""A Kubernetes KMS v2 plugin for the tests, built on the KMS v2 proto: a separate process on a Unix socket.

It wraps with its own AES-256-GCM keys, kept in a file of ``<key_id> <base64 key>`` lines that it
re-reads on every call: the last line is its current key (what `Status` reports and `Encrypt`
uses); every line can `Decrypt`. Appending a line is therefore a key rotation of the plugin,
removing one makes what it wrapped undecryptable.

Like real plugins, it needs what its `Encrypt` returned to decrypt: the nonce travels only in an
annotation, and the key is chosen by the `key_id` of the request. Every data key it was given in
plaintext is appended (base64) to a journal file, so that the tests can look for them in the
server's database.

    python kms_plugin.py --socket /tmp/kms.sock --keys keys.txt --journal journal.txt
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import sys
from pathlib import Path

import grpc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for the generated stubs

from apiserver.grpc.generated.kmsv2 import api_pb2, api_pb2_grpc  # noqa: E402

NONCE_ANNOTATION = "nonce.kms.test.example"
VERSION_ANNOTATION = "version.kms.test.example"


class Plugin(api_pb2_grpc.KeyManagementServiceServicer):
    def __init__(self, keys: Path, journal: Path) -> None:
        self.keys_path = keys
        self.journal = journal

    def keys(self) -> list[tuple[str, bytes]]:
        lines = [line.split() for line in self.keys_path.read_text().splitlines() if line.strip()]
        return [(key_id, base64.b64decode(key)) for key_id, key in lines]

    async def Status(self, request, context):
        return api_pb2.StatusResponse(version="v2", healthz="ok", key_id=self.keys()[-1][0])

    async def Encrypt(self, request, context):
        key_id, key = self.keys()[-1]
        nonce = os.urandom(12)
        ciphertext = AESGCM(key).encrypt(nonce, request.plaintext, key_id.encode())
        with self.journal.open("a") as handle:
            handle.write(f"encrypt {request.uid} {base64.b64encode(request.plaintext).decode()}\n")
        return api_pb2.EncryptResponse(
            ciphertext=ciphertext,
            key_id=key_id,
            annotations={NONCE_ANNOTATION: nonce, VERSION_ANNOTATION: b"1"},
        )

    async def Decrypt(self, request, context):
        key = dict(self.keys()).get(request.key_id)
        if key is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown key_id")
        nonce = request.annotations.get(NONCE_ANNOTATION)
        if nonce is None or request.annotations.get(VERSION_ANNOTATION) != b"1":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the annotations of Encrypt are missing")
        try:
            plaintext = AESGCM(key).decrypt(nonce, request.ciphertext, request.key_id.encode())
        except InvalidTag:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the ciphertext does not open")
        with self.journal.open("a") as handle:
            handle.write(f"decrypt {request.uid} {request.key_id}\n")
        return api_pb2.DecryptResponse(plaintext=plaintext)


async def serve(socket: Path, keys: Path, journal: Path) -> None:
    socket.unlink(missing_ok=True)
    server = grpc.aio.server()
    api_pb2_grpc.add_KeyManagementServiceServicer_to_server(Plugin(keys, journal), server)
    server.add_insecure_port(f"unix:{socket}")
    await server.start()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    print("ready", flush=True)
    await stopped.wait()
    await server.stop(None)
    socket.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--journal", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.socket, args.keys, args.journal))


if __name__ == "__main__":
    main()
