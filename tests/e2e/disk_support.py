"""A real full disk for tests: a small tmpfs mounted as a data directory, filled and freed on demand."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
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


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


@contextlib.contextmanager
def disk_that_fails_writes(base: Path) -> Iterator[tuple[Path, Path]]:
    """A filesystem whose block device returns I/O errors on demand: (mount point, backing directory).

    An ext2 image (no journal to abort, `errors=continue`) bigger than the small tmpfs that holds
    it, attached as a loop device: while the tmpfs is full, the device's writes fail with EIO
    underneath a filesystem that believes it has room, as a failing disk does; once the tmpfs has
    room again, the device works again.
    """
    for tool in ("losetup", "mkfs.ext2"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    with small_tmpfs(base / "backing", "16m") as backing:
        image = backing / "disk.img"
        with open(image, "wb") as out:
            out.truncate(64 * 1024 * 1024)  # sparse: its blocks are allocated as they are written
        made = _run("mkfs.ext2", "-q", "-F", str(image))
        if made.returncode != 0:
            pytest.skip(f"mkfs.ext2 failed: {made.stderr.strip()}")
        attached = _run("losetup", "--find", "--show", str(image))
        if attached.returncode != 0:
            pytest.skip(f"cannot attach a loop device here: {attached.stderr.strip()}")
        device = attached.stdout.strip()
        mount_point = base / "disk"
        mount_point.mkdir(exist_ok=True)
        try:
            mounted = _run("mount", "-o", "errors=continue", device, str(mount_point))
            if mounted.returncode != 0:
                pytest.skip(f"cannot mount a loop device here: {mounted.stderr.strip()}")
            try:
                yield mount_point, backing
            finally:
                _run("umount", "-l", str(mount_point))
        finally:
            _run("losetup", "-d", device)
