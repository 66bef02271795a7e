"""Helpers of the audit tests: a Unix-socket audit receiver that can go away and come back."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests


class SocketReceiver:
    """Accepts the server's audit connections at `path` and keeps every complete line it receives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[bytes] = []
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> SocketReceiver:
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Go away as a crashed collector does: the listener and every connection closed, the path gone."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self.path.unlink(missing_ok=True)

    def records(self) -> list[dict]:
        with self._lock:
            return [json.loads(line) for line in self.lines]

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        pending = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except OSError:
                return
            if not chunk:
                return  # an unterminated last line is a record cut short: dropped, as a reader must
            pending += chunk
            *complete, pending = pending.split(b"\n")
            with self._lock:
                self.lines.extend(complete)


class SyslogReceiver:
    """A syslog socket (Unix datagrams) at `path`, keeping every datagram; it can go away and return."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.datagrams: list[bytes] = []
        self._sock: socket.socket | None = None

    def start(self) -> SyslogReceiver:
        self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(self.path))
        self._sock = sock
        threading.Thread(target=self._receive, args=(sock,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.path.unlink(missing_ok=True)

    def _receive(self, sock: socket.socket) -> None:
        while True:
            try:
                self.datagrams.append(sock.recv(65536))
            except OSError:
                return


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.1)


def every_line_parses(path: Path) -> list[dict]:
    """The file's records; fails on a torn or otherwise unparsable line (the file must end with a newline)."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), data[-200:]
    return [json.loads(line) for line in data.splitlines()]


def readyz(url: str) -> requests.Response:
    return requests.get(f"{url}/readyz", timeout=10)
