"""Property-based tests of name validation and generateName (hypothesis, fixed derandomised runs)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from apiserver.machinery.names import (
    GENERATE_SUFFIX_ALPHABET,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    generate_name,
    label_value_errors,
    qualified_name_errors,
    validate_annotations,
    validate_labels,
)

PROPERTIES = settings(derandomize=True, max_examples=200, deadline=None)

# The Kubernetes formats, written out again here as the oracle (validation.go).
LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

# Any text at all, lone surrogates and control characters included; and text near the valid ones.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
name_like = st.text(st.sampled_from("abcz09-._A/"), max_size=300)
texts = st.one_of(any_text, name_like)
alnum = st.sampled_from("abz09")
labels = st.one_of(
    alnum, st.builds(lambda a, m, b: a + m + b, alnum, st.text(st.sampled_from("abz09-"), max_size=61), alnum)
)


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


@PROPERTIES
@given(texts)
def test_a_subdomain_is_valid_exactly_when_it_matches_the_format_within_253_bytes(text):
    errors = dns1123_subdomain_errors(text)
    assert (errors == []) == (SUBDOMAIN.fullmatch(text) is not None and utf8_size(text) <= 253)
    assert all(isinstance(e, str) and e for e in errors)


@PROPERTIES
@given(texts)
def test_a_label_is_valid_exactly_when_it_matches_the_format_within_63_bytes(text):
    errors = dns1123_label_errors(text)
    assert (errors == []) == (LABEL.fullmatch(text) is not None and utf8_size(text) <= 63)
    if not errors:
        assert dns1123_subdomain_errors(text) == []  # every label is a subdomain
    if "." in text and SUBDOMAIN.fullmatch(text):
        assert "must not contain dots" in errors


@PROPERTIES
@given(st.lists(labels, min_size=1, max_size=6))
def test_labels_joined_by_dots_are_a_subdomain_while_short_enough(parts):
    name = ".".join(parts)
    assert (dns1123_subdomain_errors(name) == []) == (len(name) <= 253)


@PROPERTIES
@given(texts)
def test_label_values_and_qualified_names_never_raise_and_agree_on_the_empty_string(text):
    value_errors = label_value_errors(text)
    name_errors = qualified_name_errors(text)
    assert isinstance(value_errors, list) and isinstance(name_errors, list)
    if not name_errors and "/" not in text:
        assert value_errors == []  # a valid unprefixed key is a valid value
    assert label_value_errors("") == [] and qualified_name_errors("") != []


@PROPERTIES
@given(st.dictionaries(texts, texts, max_size=5), st.dictionaries(texts, texts, max_size=5))
def test_label_and_annotation_maps_give_causes_not_exceptions(label_map, annotation_map):
    for causes in (validate_labels(label_map), validate_annotations(annotation_map)):
        assert all(c.field.startswith("metadata.") and c.reason.startswith("FieldValue") for c in causes)


@PROPERTIES
@given(st.one_of(st.integers(), st.lists(st.integers()), st.none(), st.dictionaries(texts, st.integers())))
def test_maps_of_the_wrong_shape_give_causes(value):
    assert validate_labels(value) != [] or value in (None, {})
    assert validate_annotations(value) != [] or value in (None, {})


@PROPERTIES
@given(st.builds(lambda a, rest: a + rest, alnum, st.text(st.sampled_from("abz09-"), max_size=80)))
def test_generate_name_from_a_label_prefix_gives_a_valid_label(prefix):
    name = generate_name(prefix)
    assert dns1123_label_errors(name) == [] and len(name) <= 63
    assert name.startswith(prefix[:58]) and len(name) == min(len(prefix), 58) + 5
    assert set(name[-5:]) <= set(GENERATE_SUFFIX_ALPHABET)


@PROPERTIES
@given(st.lists(labels, min_size=1, max_size=3), st.sampled_from(["", "-", "."]))
def test_generate_name_from_a_subdomain_prefix_gives_a_valid_subdomain(parts, end):
    # generateName prefixes conventionally end in a dash; the cut at 58 characters may leave a dot.
    assert dns1123_subdomain_errors(generate_name(".".join(parts) + end)) == []


@PROPERTIES
@given(texts)
def test_generate_name_never_raises_and_always_adds_five_characters(prefix):
    name = generate_name(prefix)
    assert name[:-5] == prefix[:58] and len(name) == len(prefix[:58]) + 5
