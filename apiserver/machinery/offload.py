"""Running the heavy, pure parts of a large write off the event loop.

Validating and recording field ownership cost time in proportion to an object's labels and
annotations. For an object with many of them (a create with 10 000 labels takes a few hundred
milliseconds of CPU) that work runs in a worker thread: the event loop goes on serving other
requests meanwhile (Python hands the interpreter to the loop's thread every few milliseconds).
A create is judged by its labels and annotations, an update by the size of the stored object it
changes (known before anything is decoded). Small objects, nearly all of them, stay on the loop:
a thread costs more than their work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

LARGE_METADATA = 256  # labels plus annotations from which an object's validation leaves the loop
# A stored SecureValue with 256 labels and their managedFields encodes to about 20 KiB; one without to 1 KiB.
LARGE_ENCODED_BYTES = 16 * 1024


def is_large(obj: Any) -> bool:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return False
    sizes = (len(m) for m in (meta.get("labels"), meta.get("annotations")) if isinstance(m, dict))
    return sum(sizes) >= LARGE_METADATA


def is_large_encoded(raw: bytes) -> bool:
    """Whether a stored object's JSON is about the size of an object with `LARGE_METADATA` labels."""
    return len(raw) >= LARGE_ENCODED_BYTES


async def off_loop_if_large(obj: Any, work: Callable[..., T], *args: Any) -> T:
    """`work(*args)`, in a worker thread when `obj` is large, else right here."""
    return await off_loop_when(is_large(obj), work, *args)


async def off_loop_when(large: bool, work: Callable[..., T], *args: Any) -> T:
    """`work(*args)`, in a worker thread when `large`, else right here."""
    if large:
        return await asyncio.to_thread(work, *args)
    return work(*args)
