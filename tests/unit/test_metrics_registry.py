"""The Metrics object: its own registry, the documented names, and scrape-time samplers."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from apiserver.ops.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_recording_moves_the_documented_series():
    metrics = Metrics()
    metrics.record_request("GET", "securevalues", 200, "native", 0.003)
    metrics.record_decrypt("success", "synthetic-monitoring")
    metrics.record_audit_failure()
    metrics.record_dek_cache(hit=True)
    metrics.record_commit(3, 0.002)
    metrics.record_watch_events("securevalues", 2)
    with pytest.raises(ConnectionError), metrics.time_kms_call("Encrypt"):
        raise ConnectionError
    got = samples(metrics)
    labels = (("code", "200"), ("resource", "securevalues"), ("surface", "native"), ("verb", "GET"))
    assert got[("apiserver_request_total", labels)] == 1
    assert got[("apiserver_secret_decrypt_total", (("decrypter", "synthetic-monitoring"), ("outcome", "success")))] == 1
    assert got[("apiserver_audit_failures_total", ())] == 1
    assert got[("apiserver_envelope_dek_cache_total", (("result", "hit"),))] == 1
    assert got[("apiserver_storage_commit_batch_size_sum", ())] == 3
    assert got[("apiserver_watch_events_total", (("resource", "securevalues"),))] == 2
    kms = (("grpc_status_code", "Unknown"), ("method_name", "Encrypt"))
    assert got[("apiserver_envelope_encryption_kms_operations_latency_seconds_count", kms)] == 1


def test_each_application_has_its_own_registry():
    first, second = Metrics(), Metrics()
    first.record_audit_failure()
    assert samples(second)[("apiserver_audit_failures_total", ())] == 0
    assert REGISTRY.get_sample_value("apiserver_audit_failures_total") is None


def test_samplers_are_read_at_scrape_time():
    metrics = Metrics()
    counts = {"securevalues": 1}
    metrics.add_sampler(
        "apiserver_storage_objects", "Objects.", ("resource",), lambda: [((k,), v) for k, v in counts.items()]
    )
    assert samples(metrics)[("apiserver_storage_objects", (("resource", "securevalues"),))] == 1
    counts["securevalues"] = 5
    assert samples(metrics)[("apiserver_storage_objects", (("resource", "securevalues"),))] == 5
    with pytest.raises(ValueError):
        metrics.add_sampler("apiserver_storage_objects", "again", (), list)
