"""The shipped Grafana dashboard parses, and every query names series that a real server exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana-dashboard.json"
SERIES = re.compile(r"\b(apiserver_[a-z0-9_]+)\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_series(server) -> set[str]:
    response = server.session.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    names: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def queries(dashboard: dict) -> list[str]:
    found = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    found += [v["query"]["query"] for v in dashboard["templating"]["list"] if isinstance(v.get("query"), dict)]
    return found


def test_every_query_names_series_the_server_exports(shared_server):
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_series(shared_server)
    assert {"apiserver_request_total", "apiserver_request_duration_seconds_bucket"} <= exported
    used: set[str] = set()
    for expr in queries(dashboard):
        names = set(SERIES.findall(expr))
        assert names, f"a query names no series: {expr}"
        assert names <= exported, f"unknown series {sorted(names - exported)} in {expr}"
        used |= names
    # Every family the server exports has a panel.
    families = {re.sub(r"_(bucket|sum|count|total)$", "", name) for name in exported}
    shown = {re.sub(r"_(bucket|sum|count|total)$", "", name) for name in used}
    assert families <= shown, f"no panel for {sorted(families - shown)}"


def test_panels_have_unique_ids_and_a_datasource_variable():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert any(v["type"] == "datasource" for v in dashboard["templating"]["list"])
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in dashboard["panels"])
