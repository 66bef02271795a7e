"""The shape of the benchmark's values: one place, shared by prefill, Lua scripts and baselines."""

from __future__ import annotations

from typing import Any

GROUP_PATH = "/apis/secret.grafana.app/v1beta1"
DECRYPTER = "bench-reader"
VALUE_BYTES = 64
# Half of every namespace carries tier=gold: a page of 500 under this selector scans ~1 000 objects.
LABEL_SELECTOR = "tier=gold"


def value_name(index: int) -> str:
    return f"v-{index:06d}"


def value_text(index: int) -> str:
    return (f"bench-secret-{index:06d}-" * 8)[:VALUE_BYTES]


def secure_value(index: int, name: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "secret.grafana.app/v1beta1",
        "kind": "SecureValue",
        "metadata": {
            "name": name or value_name(index),
            "labels": {"app": "bench", "tier": "gold" if index % 2 == 0 else "silver"},
        },
        "spec": {"description": f"bench value {index}", "value": value_text(index), "decrypters": [DECRYPTER]},
    }


def collection_path(namespace: str) -> str:
    return f"{GROUP_PATH}/namespaces/{namespace}/securevalues"


def item_path(namespace: str, name: str) -> str:
    return f"{collection_path(namespace)}/{name}"
