"""`python -m bench`: start the server on a fresh data directory, load it, measure, print a table.

Every figure is printed with its ratio to a baseline measured in the same run on the same
machine: a bare aiohttp handler (the HTTP ceiling of one Python process) and a raw SQLite loop
with one durable commit per value (the storage ceiling). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import grpc_rows, prefill, procs, replicas, scenarios, wrk
from .report import Report, Row, machine, verdict
from .scenarios import Bench, Sizes
from .stats import Result

ADMIN_TOKEN = "sas_bench-admin-token-0123456789abcdef"
SCENARIOS = ("get", "list", "create", "update", "decrypt", "watch", "replicas")
TINY = Sizes(
    small=100,
    large=1_000,
    page=50,
    seconds=1.0,
    connections=8,
    watchers=20,
    watch_writes=3,
    watch_spacing=0.1,
    update_values=4,
)


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _rate(result: Result) -> str:
    return f"{result.rate:,.0f}"


def run(sizes: Sizes, workdir: Path, only: tuple[str, ...]) -> Report:
    report = Report()
    report.figures["machine_before"] = machine()
    data_dir = workdir / "data"
    started = time.perf_counter()
    timings = prefill.run(
        data_dir,
        ADMIN_TOKEN,
        {"bench-small": sizes.small, "bench-large": sizes.large},
        empty_namespaces=("bench-create", "bench-update", "bench-watch"),
    )
    print(
        f"prefilled {sizes.small + sizes.large:,} values in {time.perf_counter() - started:.1f}s "
        f"(in-process, through the registry and store)",
        file=sys.stderr,
    )
    grpc_port = procs.free_port()
    server = procs.apiserver(data_dir, ADMIN_TOKEN, workdir / "apiserver.log", "--grpc-port", str(grpc_port))
    server.start()
    try:
        rss = server.rss_mb()
        total = sizes.small + sizes.large
        report.add(
            Row(
                f"start-up, {total:,} values",
                p50=f"{server.startup_seconds:.2f} s",
                target="< 5 s",
                verdict=verdict(server.startup_seconds < 5),
            ),
            startup_seconds=server.startup_seconds,
            prefill_seconds=timings,
        )
        report.add(
            Row(
                f"RSS after start, {total:,} values",
                p50=f"{rss:.0f} MiB",
                target="< 300 MiB",
                verdict=verdict(rss < 300),
            ),
            rss_after_start_mb=rss,
        )
        bench = Bench(server, ADMIN_TOKEN, workdir, sizes, grpc_port=grpc_port)
        for name in SCENARIOS:
            if name in only:
                print(f"running {name}...", file=sys.stderr)
                try:
                    globals()[f"_{name}"](bench, report)
                except Exception as exc:  # one broken scenario must not cost the figures of the others
                    print(f"bench: {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                    report.add(Row(name, verdict="FAILED", note=f"failed: {type(exc).__name__}: {exc}"))
        rss_end = server.rss_mb()
        report.add(Row("RSS at the end of the run", p50=f"{rss_end:.0f} MiB"), rss_end_mb=rss_end)
    finally:
        server.stop()
    if "get" in only:
        print("running get with --access-log...", file=sys.stderr)
        _get_with_access_log(bench, data_dir, report)
    report.figures["machine_after"] = machine()
    return report


def _get(bench: Bench, report: Report) -> None:
    result, baseline = scenarios.get_by_name(bench)
    ratio = result.rate / baseline.rate if baseline.rate else 0.0
    report.add(
        Row(
            f"GET by name ({bench.sizes.connections} conn, auth)",
            _rate(result),
            _ms(result.p50_ms),
            _ms(result.p99_ms),
            f"bare aiohttp {_rate(baseline)}/s",
            f"{ratio:.2f}x",
            ">= 0.7x",
            verdict(ratio >= 0.7 and not result.errors),
            _cpu_note(result, baseline),
        ),
        get=vars(result),
        get_baseline=vars(baseline),
        get_ratio=ratio,
    )


def _get_with_access_log(bench: Bench, data_dir: Path, report: Report) -> None:
    result = scenarios.get_with_access_log(bench, data_dir)
    baseline = Result(**report.figures["get_baseline"])
    ratio = result.rate / baseline.rate if baseline.rate else 0.0
    report.add(
        Row(
            "GET by name, --access-log",
            _rate(result),
            _ms(result.p50_ms),
            _ms(result.p99_ms),
            f"bare aiohttp {_rate(baseline)}/s",
            f"{ratio:.2f}x",
            "",  # informational: what the access log costs; the target is on the default (log off)
            "",
            _cpu_note(result, baseline),
        ),
        get_access_log=vars(result),
        get_access_log_ratio=ratio,
    )


def _cpu_note(result: Result, baseline: Result) -> str:
    ours, bare = result.extra.get("cpu_us_per_request"), baseline.extra.get("cpu_us_per_request")
    if not ours or not bare:
        return _errors(result)
    return f"server CPU {ours:.0f} us/request vs bare aiohttp {bare:.0f} us/request (ratio {bare / ours:.2f}x)" + (
        f"; {_errors(result)}" if result.errors else ""
    )


def _list(bench: Bench, report: Report) -> None:
    small = scenarios.list_page(bench, bench.small_ns)
    large = scenarios.list_page(bench, bench.large_ns)
    ratio = large.p99_ms / small.p99_ms if small.p99_ms else 0.0
    page = bench.sizes.page
    report.add(
        Row(
            f"LIST page {page}, {bench.sizes.small:,} values",
            _rate(small),
            _ms(small.p50_ms),
            _ms(small.p99_ms),
            note=_errors(small),
        ),
        list_small=vars(small),
    )
    report.add(
        Row(
            f"LIST page {page}, {bench.sizes.large:,} values",
            _rate(large),
            _ms(large.p50_ms),
            _ms(large.p99_ms),
            f"p99 at {bench.sizes.small:,}",
            f"{ratio:.2f}x",
            "p99 < 50, <= 1.3x",
            verdict(large.p99_ms < 50 and ratio <= 1.3 and not large.errors),
            _errors(large),
        ),
        list_large=vars(large),
        list_p99_ratio=ratio,
    )


def _create(bench: Bench, report: Report) -> None:
    result, baseline = scenarios.create(bench, "bench-create")
    ratio = result.rate / baseline.rate if baseline.rate else 0.0
    report.add(
        Row(
            f"CREATE durable ({bench.sizes.connections} conn)",
            _rate(result),
            _ms(result.p50_ms),
            _ms(result.p99_ms),
            f"raw SQLite {_rate(baseline)}/s",
            f"{ratio:.2f}x",
            ">= 1.0x",
            verdict(ratio >= 1.0 and not result.errors),
            f"server CPU {result.extra['cpu_us_per_request']:.0f} us/request; raw SQLite "
            f"{baseline.seconds / max(baseline.requests, 1) * 1e6:.0f} us/commit (wall)"
            + (f"; {_errors(result)}" if result.errors else ""),
        ),
        create=vars(result),
        create_baseline=vars(baseline),
        create_ratio=ratio,
    )


def _update(bench: Bench, report: Report) -> None:
    result = scenarios.update_contended(bench, "bench-update")
    updated = result.extra["updated"] / result.seconds if result.seconds else 0.0
    report.add(
        Row(
            f"UPDATE rv precondition ({bench.sizes.connections} conn, {bench.sizes.update_values} values)",
            _rate(result),
            _ms(result.p50_ms),
            _ms(result.p99_ms),
            note=f"{updated:,.0f} successful updates/s; {result.extra.get('conflicts', 0):,} conflicts (409) "
            f"and {result.extra.get('gets', 0):,} re-reads among {result.requests:,} requests",
        ),
        update=vars(result),
    )


def _decrypt(bench: Bench, report: Report) -> None:
    result = scenarios.decrypt(bench)
    if isinstance(result, str):
        report.add(Row("DECRYPT by service token", note=result), decrypt=result)
        return
    # The same HTTP ceiling as GET's: a decrypt is a small request answered with a small body.
    baseline = Result(**report.figures["get_baseline"]) if "get_baseline" in report.figures else None
    ratio = result.rate / baseline.rate if baseline and baseline.rate else 0.0
    report.add(
        Row(
            f"DECRYPT by service token, audited ({bench.sizes.connections} conn)",
            _rate(result),
            _ms(result.p50_ms),
            _ms(result.p99_ms),
            f"bare aiohttp {_rate(baseline)}/s" if baseline else "",
            f"{ratio:.2f}x" if baseline else "",
            ">= 0.5x" if baseline else "",
            verdict(ratio >= 0.5 and not result.errors) if baseline else "",
            _cpu_note(result, baseline) if baseline else _errors(result),
        ),
        decrypt=vars(result),
        decrypt_ratio=ratio,
    )
    grpc_rows.add(bench, report, result)


def _replicas(bench: Bench, report: Report) -> None:
    missing = replicas.available()
    if missing:
        report.add(Row("GET/DECRYPT, 2 PostgreSQL replicas", note=f"skipped: {missing}"), replicas=missing)
        return
    figures = replicas.run(bench)
    for verb, one, two in (
        ("GET", figures.get_one, figures.get_two),
        ("DECRYPT", figures.decrypt_one, figures.decrypt_two),
    ):
        ratio = two.rate / one.rate if one.rate else 0.0
        report.add(
            Row(
                f"{verb} on PostgreSQL, 2 replicas ({bench.sizes.connections} conn)",
                _rate(two),
                _ms(two.p50_ms),
                _ms(two.p99_ms),
                f"1 replica {_rate(one)}/s",
                f"{ratio:.2f}x",
                ">= 1.5x",
                verdict(ratio >= 1.5 and not two.errors and not one.errors),
                f"per replica {two.extra['rates']} req/s" + (f"; {_errors(two)}" if two.errors else ""),
            ),
            **{f"replicas_{verb.lower()}_one": vars(one), f"replicas_{verb.lower()}_two": vars(two)},
            **{f"replicas_{verb.lower()}_ratio": ratio},
        )


def _watch(bench: Bench, report: Report) -> None:
    result = scenarios.watch_fanout(bench, "bench-watch")
    report.add(
        Row(
            f"WATCH fan-out to {bench.sizes.watchers:,} (write -> last watcher)",
            "",
            _ms(result.p50_ms),
            _ms(result.p99_ms),
            target="p99 <= 200",
            verdict=verdict(result.p99_ms <= 200 and not result.errors),
            note=f"{result.requests} writes; median watcher p50 {result.extra['median_watcher_p50_ms']:.1f} ms; "
            f"write acknowledged p50 {result.extra['write_ack_p50_ms']:.1f} ms; "
            f"{result.errors} events missing",
        ),
        watch=vars(result),
    )


def _errors(result: Result) -> str:
    return f"{result.errors:,} errors of {result.requests:,} requests" if result.errors else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (a smoke run, seconds long)")
    parser.add_argument("--seconds", type=float, help="duration of each load run")
    parser.add_argument("--large", type=int, help="values in the large namespace (default 100000)")
    parser.add_argument("--watchers", type=int, help="concurrent watchers (default 1000)")
    parser.add_argument("--only", help=f"comma-separated scenarios among {','.join(SCENARIOS)}")
    parser.add_argument("--workdir", type=Path, help="keep data and logs here (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument(
        "--event-loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="event loop of the server and of the bare-aiohttp baseline alike (default asyncio)",
    )
    args = parser.parse_args(argv)
    procs.EVENT_LOOP = args.event_loop
    sizes = TINY if args.tiny else Sizes()
    for name in ("seconds", "large", "watchers"):
        if getattr(args, name) is not None:
            setattr(sizes, name, getattr(args, name))
    only = tuple(args.only.split(",")) if args.only else SCENARIOS
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    try:
        wrk.ensure_wrk()
    except wrk.WrkMissing as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 3
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="apiserver-bench-"))
    if args.workdir and (workdir / "data").exists():
        shutil.rmtree(workdir / "data")  # always a fresh data directory
    for log in workdir.glob("*.log") if args.workdir else ():
        log.unlink()
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        report = run(sizes, workdir, only)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(report.render())
    failed = [row.scenario for row in report.rows if row.verdict == "FAILED"]
    m = report.figures["machine_before"]
    print(
        f"\nmachine: {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}, "
        f"load average {m['loadavg']} before, {report.figures['machine_after']['loadavg']} after"
    )
    if args.json:
        args.json.write_text(json.dumps({"sizes": vars(sizes), **report.figures}, indent=2, default=str))
    if failed:
        print(f"bench: failed scenarios: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
