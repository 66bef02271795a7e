"""Every example manifest in manifests/ is created through the API, as YAML and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from core_support import reveal_offline
from harness import ADMIN_TOKEN, GROUP_PATH

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
OURS = {
    ("secret.grafana.app/v1beta1", "SecureValue"): "securevalues",
    ("secret.grafana.app/v1beta1", "Keeper"): "keepers",
    ("v1", "Namespace"): "namespaces",
}


def documents() -> list[tuple[str, str, dict]]:
    """(file, raw YAML text, decoded document) of every API object in manifests/, namespaces first."""
    found = []
    for path in sorted(MANIFESTS.glob("*.y*ml")):
        for text in path.read_text().split("\n---\n"):
            document = yaml.safe_load(text)
            if isinstance(document, dict) and (document.get("apiVersion"), document.get("kind")) in OURS:
                found.append((path.name, text, document))
    return sorted(found, key=lambda item: item[2]["kind"] != "Namespace")


def _collection(server, document: dict) -> str:
    resource = OURS[(document["apiVersion"], document["kind"])]
    if resource == "namespaces":
        return f"{server.url}/api/v1/namespaces"
    namespace = document.get("metadata", {}).get("namespace", "default")
    return f"{server.url}{GROUP_PATH}/namespaces/{namespace}/{resource}"


def test_there_are_examples_of_each_kind():
    kinds = [document["kind"] for _, _, document in documents()]
    assert kinds.count("SecureValue") >= 3 and kinds.count("Keeper") >= 4


@pytest.mark.parametrize("encoding", ["yaml", "json"])
def test_every_manifest_is_created(server, encoding):
    created = []
    for filename, text, document in documents():
        if encoding == "yaml":
            response = server.session.post(
                _collection(server, document), data=text.encode(), headers={"Content-Type": "application/yaml"}
            )
        else:
            response = server.session.post(
                _collection(server, document), data=json.dumps(document), headers={"Content-Type": "application/json"}
            )
        assert response.status_code == 201, (filename, response.text)
        body = response.json()
        assert body["kind"] == document["kind"]
        assert body["spec"].get("description") == document["spec"].get("description") or document["kind"] == "Namespace"
        assert "value" not in body.get("spec", {})
        assert "Warning" not in response.headers, (filename, response.headers["Warning"])  # no unknown fields
        created.append((document, body))
        url = f"{_collection(server, document)}/{body['metadata']['name']}"
        assert server.session.get(url).json() == body
    # The values decrypt to exactly what the manifests hold (multi-line values byte for byte).
    server.stop()
    values = {
        b["metadata"]["name"]: d["spec"]["value"].encode()
        for d, b in created
        if d["kind"] == "SecureValue" and d.get("metadata", {}).get("namespace", "default") == "default"
    }
    assert reveal_offline(server.data_dir, ADMIN_TOKEN, "default", list(values)) == values
