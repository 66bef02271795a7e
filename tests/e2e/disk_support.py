"""A real full disk for tests: a small tmpfs mounted as a data directory, filled and freed on demand."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

_CHUNK = b"\0" * 65536


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str, *, owner: tuple[int, int] | None = None) -> Iterator[Path]:
    """Mount a tmpfs of `size` at `path` for the block (skipping the test where mounting is not permitted)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        if owner is not None:
            os.chown(path, *owner)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(directory: Path) -> Path:
    """Write a file into `directory` until its filesystem has no byte left; returns the file."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        for chunk in (_CHUNK, _CHUNK[:4096], _CHUNK[:1]):
            while True:
                try:
                    out.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return filler


def free_bytes(directory: Path) -> int:
    stat = os.statvfs(directory)
    return stat.f_bavail * stat.f_frsize
