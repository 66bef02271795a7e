"""Running the heavy, pure parts of a large write off the event loop.

Validating and recording field ownership cost time in proportion to an object's labels and
annotations. For an object with many of them (a create with 10 000 labels takes a few hundred
milliseconds of CPU) that work runs in a worker thread: the event loop goes on serving other
requests meanwhile (Python hands the interpreter to the loop's thread every few milliseconds).
Small objects, nearly all of them, stay on the loop: a thread costs more than their work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

LARGE_METADATA = 256  # labels plus annotations from which an object's validation leaves the loop


def is_large(obj: Any) -> bool:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return False
    sizes = (len(m) for m in (meta.get("labels"), meta.get("annotations")) if isinstance(m, dict))
    return sum(sizes) >= LARGE_METADATA


async def off_loop_if_large(obj: Any, work: Callable[..., T], *args: Any) -> T:
    """`work(*args)`, in a worker thread when `obj` is large, else right here."""
    if is_large(obj):
        return await asyncio.to_thread(work, *args)
    return work(*args)
