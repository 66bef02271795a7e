"""Recently read ciphertexts, so a decrypt does not cost a database round-trip.

Services read their secrets on every start of every pod, so the same few values are decrypted
again and again; on SQLite each read is a hop to aiosqlite's thread and back, which profiled as
the largest part of a decrypt's CPU. Only ciphertext is kept (what the database holds anyway),
bounded by total size, least recently used first out.

A version's ciphertext changes only when a value is re-encrypted under a newer data key, and the
old one stays decryptable until its data key is destroyed; a caller whose decryption fails reads
again with `fresh=True` (see `Store.read_payload`). Every change to an object, from this replica
or another, forgets that name's entries, so a re-created value never meets its predecessor's.
"""

from __future__ import annotations

from collections import OrderedDict

Entry = tuple[str, bytes]  # (data key id, blob)
_Key = tuple[str, str, int]  # (namespace, name, version)


class PayloadCache:
    def __init__(self, max_bytes: int = 16 << 20) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[_Key, Entry] = OrderedDict()
        self._versions: dict[tuple[str, str], set[int]] = {}
        # Grows with every forget: a read that began before one must not store what it read, since
        # it may be the ciphertext of a value deleted (and re-created under the same name) meanwhile.
        self.epoch = 0

    def get(self, namespace: str, name: str, version: int) -> Entry | None:
        key = (namespace, name, version)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def remember(self, namespace: str, name: str, version: int, entry: Entry) -> None:
        size = len(entry[1])
        if size > self._max_bytes:
            return
        key = (namespace, name, version)
        self._drop(key)
        self._entries[key] = entry
        self._versions.setdefault((namespace, name), set()).add(version)
        self._bytes += size
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def forget(self, namespace: str, name: str) -> None:
        self.epoch += 1
        for version in self._versions.pop((namespace, name), ()):
            entry = self._entries.pop((namespace, name, version), None)
            if entry is not None:
                self._bytes -= len(entry[1])

    def clear(self) -> None:
        self.epoch += 1
        self._entries.clear()
        self._versions.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: _Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= len(entry[1])
        versions = self._versions.get(key[:2])
        if versions is not None:
            versions.discard(key[2])
            if not versions:
                del self._versions[key[:2]]
