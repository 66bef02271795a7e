"""The request observer's labels: from the matched route's template, never from the client's path."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apiserver.app import COMPONENTS, create_app
from apiserver.config import Settings
from apiserver.http.observe import resource_of, surface_of

ADMIN = "labels-admin-token"


@pytest.mark.parametrize(
    ("template", "resource"),
    [
        ("/apis/secret.grafana.app/v1beta1/namespaces/{namespace}/securevalues", "securevalues"),
        ("/apis/secret.grafana.app/v1beta1/namespaces/{namespace}/securevalues/{name}", "securevalues"),
        ("/apis/secret.grafana.app/v1beta1/namespaces/{namespace}/securevalues/{name}/decrypt", "securevalues/decrypt"),
        ("/apis/secret.grafana.app/v1beta1/namespaces/{namespace}/keepers/{name}/activate", "keepers/activate"),
        ("/apis/secret.grafana.app/v1beta1/securevalues", "securevalues"),
        ("/api/v1/namespaces/{name}", "namespaces"),
        ("/api/v2/orgs/{org_id}/secrets{tail}", "secrets"),
        ("/client/v4/accounts/{account_id}/secrets_store/stores/{store_id}/secrets", "secrets"),
        (
            "/client/v4/accounts/{account_id}/secrets_store/stores/{store_id}/secrets/{secret_id}/duplicate",
            "secrets/duplicate",
        ),
        ("/readyz/{check}", "readyz"),
    ],
)
def test_resource_of_a_template(template, resource):
    assert resource_of(template) == resource


def test_surfaces():
    assert surface_of("/api/v2/orgs") == "influxdb"
    assert surface_of("/api/v1/namespaces") == "native"
    assert surface_of("/client/v4/accounts") == "cloudflare"
    assert surface_of("/apis/ops.apiserver.local/v1/keys") == "ops"
    assert surface_of("/apis/auth.apiserver.local/v1/tokens") == "auth"
    assert surface_of("/ui/") == "ui"
    assert surface_of("/nowhere") == "other"


def samples(text: str) -> dict[tuple, float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_unmatched_paths_count_under_their_own_surface(tmp_path, aiohttp_client):
    app = create_app(Settings(data_dir=tmp_path / "data", admin_token=ADMIN))
    client = await aiohttp_client(app)
    auth = {"Authorization": f"Bearer {ADMIN}"}
    assert (await client.get("/client/v4/nothing-here", headers=auth)).status == 404
    assert (await client.get("/nothing-here-either", headers=auth)).status == 404
    assert (await client.get("/api/v1/namespaces/default", headers=auth)).status == 200
    assert (await client.get("/api/v1/namespaces", headers=auth)).status == 200
    got = samples(app[COMPONENTS].metrics.exposition().decode())

    def count(verb, resource, code, surface):
        key = (("code", code), ("resource", resource), ("surface", surface), ("verb", verb))
        return got.get(("apiserver_request_total", key), 0)

    assert count("GET", "", "404", "cloudflare") == 1
    assert count("GET", "", "404", "other") == 1
    assert count("GET", "namespaces", "200", "native") == 1
    assert count("LIST", "namespaces", "200", "native") == 1
    assert "nothing-here" not in app[COMPONENTS].metrics.exposition().decode()
