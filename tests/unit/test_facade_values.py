"""Facade keys to SecureValue names: deterministic, valid, case-sensitive, readable."""

from __future__ import annotations

import random

from apiserver.machinery.names import dns1123_subdomain_errors
from apiserver.services.facade_values import name_for_key


def test_names_are_readable_and_deterministic() -> None:
    assert name_for_key("SNOWFLAKE_PASS").startswith("snowflake-pass-")
    assert name_for_key("SNOWFLAKE_PASS") == name_for_key("SNOWFLAKE_PASS")
    assert name_for_key("Ünïcödé key").startswith("unicode-key-")
    assert name_for_key("").startswith("key-") and name_for_key("🔑/%").startswith("key-")


def test_keys_differing_only_by_case_or_punctuation_get_different_names() -> None:
    keys = ["Key", "key", "KEY", "k/ey", "k ey", "k%ey", "k-ey", "k_ey"]
    assert len({name_for_key(k) for k in keys}) == len(keys)


def test_attempts_give_other_names_for_the_same_key() -> None:
    names = [name_for_key("taken", attempt) for attempt in range(5)]
    assert len(set(names)) == 5 and all(n.startswith("taken-") for n in names)


def test_every_name_is_a_valid_dns_subdomain() -> None:
    rng = random.Random(7)
    alphabet = "aZ09-_./%: \t\n\x00ü🔑\u2028" + "".join(chr(c) for c in range(0x20, 0x7F))
    keys = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))) for _ in range(500)]
    keys += ["-" * 80, "." * 10, "x" * 1000, "\ud800"]
    for key in keys:
        name = name_for_key(key)
        assert dns1123_subdomain_errors(name) == [], (key, name)
        assert len(name) <= 63
