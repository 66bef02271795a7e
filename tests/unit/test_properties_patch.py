"""Property-based tests of patch application: JSON merge patch (RFC 7386), the strategic merge patch
reduced to it, and JSON patch (RFC 6902). Failures are typed API errors, never other exceptions."""

from __future__ import annotations

import copy
import json

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from apiserver.machinery.errors import ApiError, BadRequest, Invalid
from apiserver.machinery.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_json_patch,
    apply_merge_patch,
    parse_patch_body,
    strip_strategic_directives,
)

PROPERTIES = settings(derandomize=True, max_examples=200, deadline=None)

keys = st.sampled_from(["a", "b", "c", "spec", "metadata", "x/y", "~0", ""])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(st.sampled_from("ab~/"), max_size=3))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=10,
)
documents = st.dictionaries(keys, values, max_size=4)
patches = st.dictionaries(keys, values, max_size=4)


def rfc7386(target, patch):
    """The merge algorithm exactly as RFC 7386 section 2 writes it, as the oracle."""
    if isinstance(patch, dict):
        if not isinstance(target, dict):
            target = {}
        result = dict(target)
        for name, value in patch.items():
            if value is None:
                result.pop(name, None)
            else:
                result[name] = rfc7386(result.get(name), value)
        return result
    return patch


@PROPERTIES
@given(documents, st.one_of(patches, values))
def test_merge_patch_is_rfc_7386(target, patch):
    before = copy.deepcopy(target)
    assert apply_merge_patch(target, patch) == rfc7386(target, patch)
    assert target == before  # the target is not modified in place


@PROPERTIES
@given(documents, patches)
def test_merge_patch_is_idempotent(target, patch):
    once = apply_merge_patch(target, patch)
    assert apply_merge_patch(once, patch) == once


@PROPERTIES
@given(documents)
def test_the_empty_merge_patch_changes_nothing(target):
    assert apply_merge_patch(target, {}) == target


@PROPERTIES
@given(documents, patches)
def test_merging_a_patch_sets_every_non_null_value_it_names(target, patch):
    result = apply_merge_patch(target, patch)
    for key, value in patch.items():
        if value is None:
            assert key not in result
        elif not isinstance(value, dict):
            assert result[key] == value
        else:
            assert isinstance(result[key], dict)


@PROPERTIES
@given(documents, patches)
def test_a_strategic_patch_without_directives_merges_like_a_merge_patch(target, patch):
    plain = without_directives(patch)
    assert strip_strategic_directives(plain) == plain
    assert apply_merge_patch(target, strip_strategic_directives(plain)) == apply_merge_patch(target, plain)


def without_directives(patch):
    """The patch without top-level `$` keys (the generated keys never start with one below the top)."""
    return {k: v for k, v in patch.items() if not k.startswith("$")}


@PROPERTIES
@given(documents, patches, st.sampled_from(["$patch", "$retainKeys", "$setElementOrder/spec"]))
def test_strategic_directives_never_reach_the_merged_object(target, patch, directive):
    smp = {**patch, "nested": {directive: "replace", "a": 1}, directive: ["x"]}
    merged = apply_merge_patch(target, strip_strategic_directives(smp))

    def keys_of(value):
        if isinstance(value, dict):
            for key, inner in value.items():
                yield key
                yield from keys_of(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from keys_of(inner)

    assert not any(k.startswith("$") for k in keys_of(merged) if k not in keys_of(target))


@PROPERTIES
@given(documents, documents)
def test_a_json_patch_made_from_a_diff_turns_one_document_into_the_other(source, destination):
    ops = jsonpatch.make_patch(source, destination).patch
    assert apply_json_patch(source, ops) == destination


@PROPERTIES
@given(documents, documents)
def test_json_patch_test_operations_pass_on_the_document_and_fail_elsewhere(document, other):
    ops = [{"op": "test", "path": "", "value": document}]
    assert apply_json_patch(document, ops) == document
    if other != document:
        try:
            apply_json_patch(other, ops)
        except Invalid:
            pass
        else:
            raise AssertionError("a failed test operation must refuse the patch")


operation = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"])},
    optional={
        "path": st.sampled_from(["", "/a", "/a/0", "/b/-", "/x~1y", "/~0", "/spec/a", "a", "/a/9"]),
        "from": st.sampled_from(["", "/a", "/b", "/c/0"]),
        "value": values,
    },
)


@PROPERTIES
@given(documents, st.lists(operation, max_size=5))
def test_any_json_patch_applies_or_is_a_422_invalid(document, ops):
    before = copy.deepcopy(document)
    try:
        result = apply_json_patch(document, ops)
    except Invalid as error:
        assert error.code == 422
    else:
        assert isinstance(result, dict)
    assert document == before  # never applied in place, not even halfway


bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda v: json.dumps(v).encode(), st.one_of(values, st.lists(operation, max_size=3))),
)


@PROPERTIES
@given(st.sampled_from([JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH]), bodies)
def test_any_patch_body_decodes_or_is_a_400_bad_request(ptype, body):
    try:
        document = parse_patch_body(ptype, body)
    except BadRequest as error:
        assert error.code == 400
        return
    except ApiError as error:  # a body over the nesting or size limits
        assert error.code in (400, 413, 422), error
        return
    if ptype == JSON_PATCH:
        assert isinstance(document, list)
    else:
        assert isinstance(document, dict)
