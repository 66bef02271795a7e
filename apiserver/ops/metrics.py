"""The server's Prometheus series: one registry per application, never the process-global one.

Every series is defined here, so that `/metrics`, the dashboard and `docs/observability.md` agree
on names and labels. A module records through the `Metrics` object it was given when the
application was built (``components.metrics``); code built without one (unit tests) gets a
private `Metrics()`, whose numbers go nowhere::

    metrics.record_decrypt("success", "synthetic-monitoring")   # outcome, decrypter identity
    metrics.record_audit_failure()
    metrics.record_dek_cache(hit=True)
    metrics.record_kms_call("Encrypt", "OK", seconds)
    with metrics.time_kms_call("Decrypt") as call:               # the same, timed for you
        ...                                                      # call.code = "Unavailable" on failure

Counts that a component already keeps (objects in the cache, watchers registered) are read only
when Prometheus scrapes, through `add_sampler`, so they cost nothing per request.

Labels have few values: verbs, resource kinds, status codes, surfaces, outcomes, service
identities. Never a name, a namespace, a value, a token or anything else a client chooses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .series import Families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_HIT, _MISS = ("hit",), ("miss",)

# Request latency: kube-apiserver's buckets, trimmed to what a secrets server sees.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0, 60.0)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
KMS_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Sample: the label values (in the sampler's label order) and the value.
Sample = tuple[tuple[str, ...], float]
Sampler = Callable[[], Iterable[Sample]]


@dataclass
class KmsCall:
    """The outcome of a timed KMS call; the caller sets `code` when the call fails."""

    code: str = "OK"


class Metrics:
    """Every series of one application, and the methods that record into them (on the event loop)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        f = self._families = Families()
        self.requests = f.counter(
            "apiserver_request_total",
            "Requests by verb, resource, HTTP (or gRPC) code and surface.",
            ("verb", "resource", "code", "surface"),
        )
        self.request_duration = f.histogram(
            "apiserver_request_duration_seconds",
            "Response latency by verb, resource and surface (watches are not timed).",
            REQUEST_BUCKETS,
            ("verb", "resource", "surface"),
        )
        self.watch_events = f.counter(
            "apiserver_watch_events_total", "Events sent to watchers, by resource.", ("resource",)
        )
        self.commit_duration = f.histogram(
            "apiserver_storage_commit_duration_seconds",
            "Time to make one batch of writes durable (group commit).",
            COMMIT_BUCKETS,
        )
        self.commit_batch_size = f.histogram(
            "apiserver_storage_commit_batch_size", "Transactions sharing one commit.", BATCH_BUCKETS
        )
        self.decrypts = f.counter(
            "apiserver_secret_decrypt_total",
            "Decrypt attempts by outcome (success, not_found, not_authorized, decryption_failed) and decrypter.",
            ("outcome", "decrypter"),
        )
        self.audit_failures = f.counter(
            "apiserver_audit_failures_total",
            "Audit records not written: a failed write, or a request refused while no target works.",
        )
        self.dek_cache = f.counter(
            "apiserver_envelope_dek_cache_total",
            "Data-key lookups by result: hit (unwrapped key in memory) or miss (unwrapped by the KEK).",
            ("result",),
        )
        self.kms_latency = f.histogram(
            "apiserver_envelope_encryption_kms_operations_latency_seconds",
            "KMS plugin calls by method and gRPC status code.",
            KMS_BUCKETS,
            ("method_name", "grpc_status_code"),
        )
        self.loop_lag = f.histogram(
            "apiserver_event_loop_lag_seconds",
            "How much later than asked a probe sleeping 10 ms woke: how long the event loop was held.",
            LOOP_LAG_BUCKETS,
        )
        self.registry.register(f)
        self._samplers = _Samplers()
        self.registry.register(self._samplers)

    # -- recording ----------------------------------------------------------------------------

    def record_request(self, verb: str, resource: str, code: int | str, surface: str, seconds: float | None) -> None:
        """One finished request; `seconds` None for a request not timed (a watch)."""
        self.requests.inc((verb, resource, str(code), surface))
        if seconds is not None:
            self.request_duration.observe(seconds, (verb, resource, surface))

    def record_watch_events(self, resource: str, count: int) -> None:
        self.watch_events.inc((resource,), count)

    def record_commit(self, transactions: int, seconds: float) -> None:
        self.commit_batch_size.observe(transactions)
        self.commit_duration.observe(seconds)

    def record_decrypt(self, outcome: str, decrypter: str) -> None:
        self.decrypts.inc((outcome, decrypter or "none"))

    def record_audit_failure(self, records: int = 1) -> None:
        self.audit_failures.inc((), records)

    def record_dek_cache(self, *, hit: bool) -> None:
        self.dek_cache.inc(_HIT if hit else _MISS)

    def record_loop_lag(self, seconds: float) -> None:
        self.loop_lag.observe(seconds)

    def record_kms_call(self, method: str, code: str, seconds: float) -> None:
        self.kms_latency.observe(seconds, (method, code))

    @contextmanager
    def time_kms_call(self, method: str) -> Iterator[KmsCall]:
        call = KmsCall()
        started = time.perf_counter()
        try:
            yield call
        except BaseException:
            if call.code == "OK":
                call.code = "Unknown"
            raise
        finally:
            self.record_kms_call(method, call.code, time.perf_counter() - started)

    # -- scrape-time values -------------------------------------------------------------------

    def add_sampler(
        self, name: str, documentation: str, labels: tuple[str, ...], sample: Sampler, *, counter: bool = False
    ) -> None:
        """A gauge (or a counter) read when Prometheus scrapes: `sample()` yields (label values, value) pairs."""
        self._samplers.add(name, documentation, labels, sample, counter)

    def exposition(self) -> bytes:
        """The Prometheus text format of every series."""
        return generate_latest(self.registry)


class _Samplers(Collector):
    def __init__(self) -> None:
        self._samplers: list[tuple[str, str, tuple[str, ...], Sampler, bool]] = []

    def add(self, name: str, documentation: str, labels: tuple[str, ...], sample: Sampler, counter: bool) -> None:
        if any(existing == name for existing, *_ in self._samplers):
            raise ValueError(f"a sampler named {name!r} is already registered")
        self._samplers.append((name, documentation, labels, sample, counter))

    def collect(self) -> Iterator[Metric]:
        for name, documentation, labels, sample, counter in self._samplers:
            kind = CounterMetricFamily if counter else GaugeMetricFamily
            family = kind(name, documentation, labels=list(labels))
            for values, value in sample():
                family.add_metric(list(values), value)
            yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())  # names are known only at collection; no clash check against them is needed
