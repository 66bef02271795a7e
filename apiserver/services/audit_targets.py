"""Where audit records go: a file, standard output, a Unix socket, or syslog.

Each target writes a batch of whole JSON lines or raises `OSError`; nothing here runs on the
event loop (the audit log calls targets from its own thread). A target never leaves a torn
record behind where it can help it:

- a file is appended with O_APPEND; a batch is written completely (short writes are continued)
  and, with fsync on, made durable with fdatasync before it counts. When a write or the sync
  fails, the file is truncated back to its length before the batch; if even that fails, the torn
  tail is cut at the last newline when the file is next opened (also after a crash).
- a Unix socket (stream) receives newline-terminated records; a batch that fails half-way closes
  the connection, so a reader sees an unterminated last line followed by the end of the stream
  and must drop it. The connection is made again for a later batch.
- syslog (a datagram socket, `/dev/log` by default) receives one datagram per record, so a
  record arrives whole or not at all.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path
from typing import Protocol

log = logging.getLogger("apiserver.audit")
SOCKET_TIMEOUT_SECONDS = 2.0
_TAIL_CHUNK = 65536
_SYSLOG_PRIORITY = b"<86>"  # facility authpriv (10), severity informational (6)


class AuditTarget(Protocol):
    description: str  # in the server's log: the kind and the path
    kind: str  # in /readyz, which is public: no path

    def open(self) -> None:
        """Get ready to write (open a file, connect); raise `OSError` when the target cannot be used."""

    def write(self, lines: list[bytes]) -> None:
        """Write every line (each ends with a newline) completely, or raise `OSError`."""

    def close(self) -> None: ...


def parse_target(spec: str, fsync: bool) -> AuditTarget:
    """`-`/`stdout`, `unix:PATH`, `syslog` or `syslog:PATH`; anything else is a file path."""
    if spec in ("-", "stdout"):
        return StreamTarget()
    if spec.startswith("unix:"):
        return SocketTarget(spec.removeprefix("unix:"))
    if spec == "syslog" or spec.startswith("syslog:"):
        return SyslogTarget(spec.removeprefix("syslog").removeprefix(":") or "/dev/log")
    return FileTarget(Path(spec), fsync)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(28, "No space left on device")
        view = view[written:]


class FileTarget:
    def __init__(self, path: Path, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self.kind = "file"
        self.description = f"file {path}"
        self._fd: int | None = None

    def open(self) -> None:
        if self._fd is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                _cut_torn_tail(self.path, fd)
            except OSError:
                os.close(fd)
                raise
            self._fd = fd

    def write(self, lines: list[bytes]) -> None:
        self.open()
        fd = self._fd
        assert fd is not None
        start = os.fstat(fd).st_size
        data = b"".join(lines)
        try:
            _write_all(fd, data)
            if self.fsync:
                os.fdatasync(fd)
        except OSError as exc:
            self._roll_back(fd, start, len(data), exc)
            raise

    def _roll_back(self, fd: int, start: int, size: int, exc: OSError) -> None:
        """Take a failed batch out again, whole: what was written of it, if anything, is truncated away."""
        try:
            written = os.fstat(fd).st_size - start
            if written > 0:
                log.warning(
                    "audit %s: a batch failed after %d of its %d bytes (%s); cut back to the last whole record",
                    self.description,
                    written,
                    size,
                    exc.strerror,
                )
            os.ftruncate(fd, start)
        except OSError:
            pass  # the torn tail is cut when the file is opened again
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _cut_torn_tail(path: Path, fd: int) -> None:
    """Drop a last line without its newline (a batch cut short by a crash or a failing device)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    with open(path, "rb") as reader:
        end = size
        while end > 0:
            begin = max(0, end - _TAIL_CHUNK)
            reader.seek(begin)
            chunk = reader.read(end - begin)
            if end == size and chunk.endswith(b"\n"):
                return
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                os.ftruncate(fd, begin + newline + 1)
                return
            end = begin
        os.ftruncate(fd, 0)


class StreamTarget:
    """Standard output, written with unbuffered writes of whole batches; there is nothing to sync."""

    description = kind = "stdout"

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdout.fileno() if fd is None else fd

    def open(self) -> None:
        os.fstat(self.fd)  # raises when standard output is closed

    def write(self, lines: list[bytes]) -> None:
        _write_all(self.fd, b"".join(lines))

    def close(self) -> None:
        pass


class _UnixSocket:
    """A connected Unix socket of one type, made again after a failure."""

    socket_type: int
    label: str

    def __init__(self, path: str) -> None:
        self.path = path
        self.kind = self.label
        self.description = f"{self.label} {path}"
        self._sock: socket.socket | None = None

    def open(self) -> None:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, self.socket_type)
            sock.settimeout(SOCKET_TIMEOUT_SECONDS)
            try:
                sock.connect(self.path)
            except OSError:
                sock.close()
                raise
            self._sock = sock

    def write(self, lines: list[bytes]) -> None:
        self.open()
        assert self._sock is not None
        try:
            self._send(self._sock, lines)
        except OSError:
            self.close()
            raise

    def _send(self, sock: socket.socket, lines: list[bytes]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            sock.close()


class SocketTarget(_UnixSocket):
    socket_type, label = socket.SOCK_STREAM, "unix socket"

    def _send(self, sock: socket.socket, lines: list[bytes]) -> None:
        sock.sendall(b"".join(lines))


class SyslogTarget(_UnixSocket):
    socket_type, label = socket.SOCK_DGRAM, "syslog"

    def _send(self, sock: socket.socket, lines: list[bytes]) -> None:
        for line in lines:
            sock.send(_SYSLOG_PRIORITY + b"apiserver-audit: " + line.rstrip(b"\n"))
