"""A gRPC load generator for the decrypt service: `python -m bench.grpc_load ...` in its own process.

No Go tool such as ghz can be installed here (none is packaged for Debian or PyPI), so the load
comes from grpcio's asyncio client, the same stack Python callers use: `--connections` concurrent
callers spread over `--channels` HTTP/2 connections, each calling `DecryptSecureValues` in a loop
for `--seconds`. It runs in a process of its own, so its CPU is not the server's; it prints one
`BENCH_JSON {...}` line of totals and latencies, like the wrk scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import grpc

from apiserver.grpc.generated.decryptv1 import decrypt_pb2 as v1
from apiserver.grpc.generated.decryptv1 import decrypt_pb2_grpc as v1_grpc
from apiserver.grpc.generated.decryptv1beta1 import decrypt_pb2 as v1beta1
from apiserver.grpc.generated.decryptv1beta1 import decrypt_pb2_grpc as v1beta1_grpc

from .stats import percentile

PACKAGES = {"decryptv1beta1": (v1beta1, v1beta1_grpc), "decryptv1": (v1, v1_grpc)}


async def _caller(stub, request, metadata, deadline: float, latencies: list[float], errors: list[str]) -> None:
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            response = await stub.DecryptSecureValues(request, metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError as exc:
            errors.append(exc.code().name)
            continue
        if any(r.WhichOneof("result") != "value" for r in response.decrypted_values.values()):
            errors.append("error_message")
            continue
        latencies.append(time.perf_counter() - started)


async def run(args: argparse.Namespace) -> dict[str, object]:
    messages, services = PACKAGES[args.package]
    request = messages.SecureValueDecryptRequest(namespace=args.namespace, names=[args.name])
    metadata = (
        (("x-access-token", args.access_token),) if args.access_token else (("authorization", f"Bearer {args.token}"),)
    )
    channels = [grpc.aio.insecure_channel(args.target) for _ in range(args.channels)]
    stubs = [services.SecureValueDecrypterStub(channel) for channel in channels]
    await stubs[0].DecryptSecureValues(request, metadata=metadata, timeout=10)  # warm: connected, checked
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + args.seconds
    await asyncio.gather(
        *(
            _caller(stubs[i % len(stubs)], request, metadata, deadline, latencies, errors)
            for i in range(args.connections)
        )
    )
    duration = time.perf_counter() - started
    for channel in channels:
        await channel.close()
    latencies.sort()
    return {
        "requests": len(latencies) + len(errors),
        "duration_us": int(duration * 1e6),
        "errors": len(errors),
        "error_codes": sorted(set(errors)),
        "p50_us": int(percentile(latencies, 50) * 1e6),
        "p99_us": int(percentile(latencies, 99) * 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_load", description=__doc__)
    parser.add_argument("--target", required=True, help="host:port of the gRPC server")
    parser.add_argument("--token", help="one of our tokens, sent as authorization: Bearer")
    parser.add_argument("--access-token", help="a Grafana access token, sent as X-Access-Token (instead)")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--package", choices=tuple(PACKAGES), default="decryptv1beta1")
    parser.add_argument("--connections", type=int, default=64, help="concurrent callers")
    parser.add_argument("--channels", type=int, default=4, help="HTTP/2 connections they share")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print("BENCH_JSON " + json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
