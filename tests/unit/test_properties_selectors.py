"""Property-based tests of label and field selectors: parse and print round trips, matching against
an independent reading of the requirements, and no exception but the typed 400 on any input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apiserver.machinery.errors import BadRequest
from apiserver.machinery.selectors import FieldRequirement, FieldSelector, LabelSelector, Requirement

PROPERTIES = settings(derandomize=True, max_examples=200, deadline=None)


def _bounded(ends: str, middle: str, max_middle: int) -> st.SearchStrategy[str]:
    """`[ends]([middle]*[ends])?`, built directly (from_regex is slow to draw from)."""
    end = st.sampled_from(ends)
    inner = st.text(st.sampled_from(middle), max_size=max_middle)
    return st.one_of(end, st.builds(lambda a, m, b: a + m + b, end, inner, end))


name_part = _bounded("aZ09x", "aZ09x-_.", 20)  # a qualified name's name part
prefix = st.lists(_bounded("a09z", "a09z-", 10), min_size=1, max_size=3).map(".".join)  # a DNS subdomain
keys = st.one_of(name_part, st.builds(lambda p, n: f"{p}/{n}", prefix, name_part))
values = st.one_of(st.just(""), name_part)
integers = st.integers(0, 2**63 - 1).map(str)  # Gt/Lt values must be integers and valid label values too
label_maps = st.dictionaries(st.one_of(keys, st.sampled_from(["app", "tier", "x"])), values, max_size=5)


@st.composite
def requirements(draw) -> Requirement:
    key = draw(st.one_of(keys, st.sampled_from(["app", "tier", "x"])))
    operator = draw(st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"]))
    if operator in ("exists", "!"):
        return Requirement(key, operator)
    if operator in ("gt", "lt"):
        return Requirement(key, operator, (draw(integers),))
    if operator in ("in", "notin"):
        chosen = draw(st.sets(st.one_of(values, st.sampled_from(["a", "b"])), min_size=1, max_size=4))
        return Requirement(key, operator, tuple(sorted(chosen)))
    return Requirement(key, operator, (draw(st.one_of(values, st.sampled_from(["a", "b"]))),))


def meaning(requirement: Requirement, labels: dict[str, str]) -> bool:
    """What a requirement means, read from the Kubernetes documentation rather than the code."""
    present = requirement.key in labels
    value = labels.get(requirement.key)
    op, wanted = requirement.operator, set(requirement.values)
    if op in ("=", "==", "in"):
        return present and value in wanted
    if op in ("!=", "notin"):
        return not present or value not in wanted
    if op == "exists":
        return present
    if op == "!":
        return not present
    try:
        have = int(value) if present and value and value.lstrip("-").isdigit() else None
    except ValueError:
        have = None
    if have is None or not -(2**63) <= have < 2**63:
        return False
    limit = int(requirement.values[0])
    return have > limit if op == "gt" else have < limit


# Whatever a client may send: any characters, and text made of the selector's own symbols.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)
selector_like = st.lists(st.sampled_from(list("ab=!(),<> \t\\/.-_0") + ["in", "notin", "app"]), max_size=30).map(
    "".join
)


@PROPERTIES
@given(st.lists(requirements(), max_size=5))
def test_label_selectors_print_and_parse_back_to_the_same_requirements(reqs):
    text = ",".join(str(r) for r in reqs)
    parsed = LabelSelector.parse(text)
    assert sorted(parsed.requirements, key=lambda r: (r.key, r.operator, r.values)) == sorted(
        reqs, key=lambda r: (r.key, r.operator, r.values)
    )
    assert LabelSelector.parse(str(parsed)) == parsed  # printing a parsed selector is a fixed point


@PROPERTIES
@given(st.lists(requirements(), max_size=5), label_maps)
def test_a_parsed_label_selector_matches_exactly_what_its_requirements_mean(reqs, labels):
    selector = LabelSelector.parse(",".join(str(r) for r in reqs))
    assert selector.matches(labels) == all(meaning(r, labels) for r in reqs)


@PROPERTIES
@given(st.one_of(any_text, selector_like), label_maps)
def test_any_label_selector_text_parses_or_is_a_400_bad_request(text, labels):
    try:
        selector = LabelSelector.parse(text)
    except BadRequest as error:
        assert error.code == 400 and error.message
        return
    assert isinstance(selector.matches(labels), bool)
    assert LabelSelector.parse(str(selector)) == selector


FIELDS = ["metadata.name", "metadata.namespace", "spec.keeper"]
field_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@PROPERTIES
@given(st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(["=", "!="]), field_values), max_size=4))
def test_field_selectors_escape_and_parse_back_any_value(terms):
    reqs = [FieldRequirement(field, op, value) for field, op, value in terms]
    parsed = FieldSelector.parse(",".join(str(r) for r in reqs), FIELDS)
    assert sorted(parsed.requirements, key=str) == sorted(reqs, key=str)
    assert FieldSelector.parse(str(parsed), FIELDS) == parsed


@PROPERTIES
@given(
    st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(["=", "!="]), field_values), max_size=4),
    st.fixed_dictionaries({f: field_values for f in FIELDS}),
)
def test_a_field_selector_matches_exactly_its_terms(terms, fields):
    selector = FieldSelector.parse(",".join(str(FieldRequirement(*t)) for t in terms), FIELDS)
    expected = all((fields[f] == v) == (op == "=") for f, op, v in terms)
    assert selector.matches(fields) == expected


@PROPERTIES
@given(st.one_of(any_text, st.lists(st.sampled_from(list("=!,\\a.") + FIELDS), max_size=20).map("".join)))
def test_any_field_selector_text_parses_or_is_a_400_bad_request(text):
    try:
        selector = FieldSelector.parse(text, FIELDS)
    except BadRequest as error:
        assert error.code == 400 and error.message
        return
    assert FieldSelector.parse(str(selector), FIELDS) == selector
