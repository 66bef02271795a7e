"""The gRPC decrypt rows of the table, beside REST decrypt and measured on the same server in the same run.

The ratio is gRPC's rate over REST's. The two loads come from different clients (wrk for REST,
bench.grpc_load for gRPC), so each row also gives the server's CPU time per call, which does not
depend on how fast the client is: that is the fairer comparison on a 2-core machine where the
client competes with the server.
"""

from __future__ import annotations

from . import scenarios
from .report import Report, Row, verdict
from .scenarios import Bench
from .stats import Result


def _cpu(result: Result) -> float:
    return float(result.extra.get("cpu_us_per_request", 0.0))


def add(bench: Bench, report: Report, rest: Result) -> None:
    conns = bench.sizes.connections
    for key, title, access_token in (
        ("grpc_decrypt", f"DECRYPT over gRPC, bearer token ({conns} callers)", False),
        ("grpc_decrypt_access_token", f"DECRYPT over gRPC, Grafana access token ({conns} callers)", True),
    ):
        result = scenarios.grpc_decrypt(bench, access_token=access_token)
        if isinstance(result, str):
            report.add(Row(title, note=result), **{key: result})
            continue
        ratio = result.rate / rest.rate if rest.rate else 0.0
        cpu_ratio = _cpu(rest) / _cpu(result) if _cpu(result) else 0.0
        note = (
            f"server CPU {_cpu(result):.0f} us/call vs REST decrypt {_cpu(rest):.0f} us/request "
            f"(ratio {cpu_ratio:.2f}x); grpcio asyncio client, {result.extra['channels']} channels"
        )
        if result.errors:
            note += (
                f"; {result.errors:,} errors of {result.requests:,} calls ({', '.join(result.extra['error_codes'])})"
            )
        report.add(
            Row(
                title,
                f"{result.rate:,.0f}",
                f"{result.p50_ms:.2f}",
                f"{result.p99_ms:.2f}",
                f"REST decrypt {rest.rate:,.0f}/s",
                f"{ratio:.2f}x",
                ">= 1.0x" if not access_token else "",
                verdict(ratio >= 1.0 and not result.errors) if not access_token else "",
                note,
            ),
            **{key: vars(result), f"{key}_ratio": ratio, f"{key}_cpu_ratio": cpu_ratio},
        )
