"""The ciphertext cache's bounds and bookkeeping."""

from __future__ import annotations

from apiserver.store.payload_cache import PayloadCache


def test_bounded_by_bytes_least_recently_used_first_out() -> None:
    cache = PayloadCache(max_bytes=10)
    cache.remember("ns", "a", 1, ("k", b"aaaa"))
    cache.remember("ns", "b", 1, ("k", b"bbbb"))
    assert cache.get("ns", "a", 1) == ("k", b"aaaa")  # a is now the most recently used
    cache.remember("ns", "c", 1, ("k", b"cccc"))
    assert cache.get("ns", "b", 1) is None and len(cache) == 2
    cache.remember("ns", "huge", 1, ("k", b"x" * 11))  # larger than the whole cache: not kept
    assert cache.get("ns", "huge", 1) is None and len(cache) == 2


def test_forget_drops_every_version_of_a_name_and_moves_the_epoch() -> None:
    cache = PayloadCache()
    cache.remember("ns", "a", 1, ("k", b"1"))
    cache.remember("ns", "a", 2, ("k", b"2"))
    cache.remember("ns", "b", 1, ("k", b"3"))
    epoch = cache.epoch
    cache.forget("ns", "a")
    assert cache.epoch > epoch
    assert cache.get("ns", "a", 1) is None and cache.get("ns", "a", 2) is None
    assert cache.get("ns", "b", 1) == ("k", b"3")
    cache.remember("ns", "b", 1, ("k", b"4"))  # replacing an entry keeps the byte count right
    cache.clear()
    assert len(cache) == 0
