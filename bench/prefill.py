"""Prefill a data directory in-process, through the server's own registry and store layers.

Writing 100 000 values through HTTP would take minutes of a shared machine; this runs the same
code a create request runs (validation, managedFields, encryption under the namespace's DEK,
group commit) minus the HTTP edge, committing `chunk` values per transaction. The server must
not be running on the directory meanwhile. Used to measure start-up, resident memory and lists
over large namespaces, which do not depend on how the rows got there.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from apiserver.app import SYSTEM, build_components
from apiserver.config import Settings
from apiserver.machinery.context import RequestContext

from .workload import secure_value


async def prefill(
    data_dir: Path,
    admin_token: str,
    namespaces: dict[str, int],
    *,
    chunk: int = 500,
    empty_namespaces: tuple[str, ...] = (),
) -> dict[str, float]:
    """Create each namespace with `count` values named v-000000...; returns seconds per namespace."""
    components = build_components(Settings(data_dir=data_dir, admin_token=admin_token))
    store = components.store
    await store.open()
    ctx = RequestContext(SYSTEM, default_manager="bench-prefill")
    timings: dict[str, float] = {}
    try:
        for namespace in ("default", *namespaces, *empty_namespaces):
            if store.get("namespaces", "", namespace) is None:
                await components.namespaces.create(ctx, "", {"metadata": {"name": namespace}})
        registry = components.secure_values
        for namespace, count in namespaces.items():
            started = time.perf_counter()
            for first in range(0, count, chunk):
                prepared = [
                    await registry.prepare_create(ctx, namespace, secure_value(i))
                    for i in range(first, min(first + chunk, count))
                ]
                await registry.commit(ctx, prepared)
            timings[namespace] = time.perf_counter() - started
    finally:
        await store.close()
    return timings


def run(data_dir: Path, admin_token: str, namespaces: dict[str, int], **kwargs: Any) -> dict[str, float]:
    return asyncio.run(prefill(data_dir, admin_token, namespaces, **kwargs))
