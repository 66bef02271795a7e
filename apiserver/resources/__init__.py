"""The kinds this server serves: `secret.grafana.app/v1beta1` SecureValue and Keeper, and core v1 Namespace."""

from __future__ import annotations

from pathlib import Path

from ..machinery.schema import ObjectSchema

GROUP = "secret.grafana.app"
VERSION = "v1beta1"
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"

# Annotations the facades use: a facade key, and a namespace's facade IDs (docs/architecture.md).
FACADE_KEY = "compat.apiserver.local/key"
INFLUXDB_ORG_ID = "compat.apiserver.local/influxdb-org-id"
CLOUDFLARE_ACCOUNT_ID = "compat.apiserver.local/cloudflare-account-id"


def load_schema(kind_file: str) -> ObjectSchema:
    return ObjectSchema.load(SCHEMAS / kind_file)
