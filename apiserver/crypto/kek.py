"""Key-encryption keys (KEKs): the keys that wrap the data keys.

Sources: a key file in the data directory (created at first start, mode 0600) or the
``APISERVER_KEK`` environment variable. Both hold several KEKs with ids, the last one being the
active one, so that a KEK can be rotated: append a key, re-wrap the data keys, later drop the old
line. Error messages name files, line numbers and entry numbers, never key material.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .aead import KEY_SIZE
from .errors import DecryptionError, KekConfigError

# Ids end up in the database and in the key file's "<id> <key>" lines: no spaces, ':' or ','.
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_FILE_HINT = "expected '<id> <base64 of 32 bytes>'"


@dataclass(frozen=True)
class Kek:
    """One key-encryption key; its repr shows the id only."""

    id: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or len(self.key) != KEY_SIZE:
            raise ValueError("a KEK must be 32 bytes")
        if not _ID_RE.fullmatch(self.id):
            raise ValueError("a KEK id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class KekRing:
    """The known KEKs; `active` (the last one given) wraps new data keys."""

    def __init__(self, keks: Iterable[Kek]) -> None:
        self._keks: dict[str, Kek] = {}
        for kek in keks:
            if kek.id in self._keks:
                raise KekConfigError(f"duplicate KEK id {kek.id!r}")
            self._keks[kek.id] = kek
        if not self._keks:
            raise KekConfigError("no KEK configured")
        self.active: Kek = list(self._keks.values())[-1]

    def get(self, kek_id: str) -> Kek:
        """The KEK with this id; `DecryptionError` if unknown (a blob names a KEK we lack)."""
        try:
            return self._keks[kek_id]
        except KeyError:
            raise DecryptionError() from None

    def ids(self) -> list[str]:
        """KEK ids in configuration order (the active one last)."""
        return list(self._keks)

    def __repr__(self) -> str:
        return f"KekRing(ids={self.ids()!r}, active={self.active.id!r})"


def new_kek() -> Kek:
    """A fresh random KEK with id ``kek-<8 hex>``."""
    return Kek(id=f"kek-{secrets.token_hex(4)}", key=os.urandom(KEY_SIZE))


def _decode_key(text: str) -> bytes | None:
    """Base64 of exactly 32 bytes, or None (the caller words the error, without the text)."""
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == KEY_SIZE else None


def _line(kek: Kek) -> str:
    return f"{kek.id} {base64.b64encode(kek.key).decode('ascii')}\n"


def _parse_file(path: Path, text: str) -> KekRing:
    keks: list[Kek] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        where = f"KEK file {path}, line {number}"
        if len(parts) != 2:
            raise KekConfigError(f"{where}: malformed line, {_FILE_HINT}")
        kek_id, encoded = parts
        key = _decode_key(encoded)
        if key is None:
            raise KekConfigError(f"{where}: the key is not base64 of 32 bytes")
        if not _ID_RE.fullmatch(kek_id):
            # The id is not echoed: with swapped columns it could be key material.
            raise KekConfigError(f"{where}: invalid KEK id (allowed: letters, digits, '.', '_', '-')")
        if kek_id in seen:
            raise KekConfigError(f"{where}: duplicate KEK id {kek_id!r}")
        seen.add(kek_id)
        keks.append(Kek(kek_id, key))
    if not keks:
        raise KekConfigError(f"KEK file {path} contains no key")
    return KekRing(keks)


def _check_mode(path: Path, mode: int) -> None:
    if os.name == "posix" and mode & 0o077:
        raise KekConfigError(
            f"KEK file {path} is accessible by group or others (mode {mode & 0o777:04o}); run: chmod 600 {path}"
        )


def _read(path: Path) -> str:
    """Read the file, checking the mode of what was opened (no stat/open race)."""
    fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, "r", encoding="utf-8") as handle:
        _check_mode(path, os.fstat(fd).st_mode)
        return handle.read()


def _fsync_dir(directory: Path) -> None:
    # Makes a create/rename durable; not possible on every platform, hence best effort.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_temp(path: Path, text: str) -> Path:
    """Write `text` to a fresh 0600 temp file next to `path`, fsynced."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _create(path: Path) -> None:
    """Create the key file with one fresh KEK, atomically; a concurrent creator may win."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# apiserver key-encryption keys: '<id> <base64 key>', the last line is active\n"
    text += _line(new_kek())
    temp = _write_temp(path, text)
    try:
        # link() fails if `path` exists, so the file appears complete or not at all, and a
        # second process starting at the same time keeps the first one's key.
        os.link(temp, path)
    except FileExistsError:
        pass
    except OSError:
        # Filesystem without hard links: fall back to an exclusive create (tiny non-atomic window).
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _load(path: Path) -> tuple[str, KekRing]:
    try:
        text = _read(path)
    except FileNotFoundError:
        raise KekConfigError(f"KEK file {path} does not exist") from None
    except UnicodeDecodeError:
        raise KekConfigError(f"KEK file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise KekConfigError(f"KEK file {path} cannot be read: {exc.strerror}") from None
    return text, _parse_file(path, text)


def load_kek_file(path: Path, *, create: bool) -> KekRing:
    """Load the KEK file; create it with one fresh key first if missing and `create` is set."""
    path = Path(path)
    if create and not path.exists():
        _create(path)
    return _load(path)[1]


def parse_kek_env(value: str) -> KekRing:
    """Parse ``APISERVER_KEK``: comma-separated ``<id>:<base64 of 32 bytes>``, the last active."""
    keks: list[Kek] = []
    entries = [entry.strip() for entry in value.split(",")]
    for number, entry in enumerate(entries, start=1):
        where = f"APISERVER_KEK entry {number}"
        if not entry:
            if len(entries) == 1:
                raise KekConfigError("APISERVER_KEK is empty")
            raise KekConfigError(f"{where}: empty entry")
        kek_id, sep, encoded = entry.partition(":")
        if not sep:
            raise KekConfigError(f"{where}: expected '<id>:<base64 of 32 bytes>'")
        key = _decode_key(encoded.strip())
        if key is None:
            raise KekConfigError(f"{where}: the key is not base64 of 32 bytes")
        if not _ID_RE.fullmatch(kek_id.strip()):
            raise KekConfigError(f"{where}: invalid KEK id (allowed: letters, digits, '.', '_', '-')")
        keks.append(Kek(kek_id.strip(), key))
    return KekRing(keks)
