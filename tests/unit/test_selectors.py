"""Label and field selectors against apimachinery's behaviour and wording."""

from __future__ import annotations

import pytest

from apiserver.machinery.errors import ApiError
from apiserver.machinery.selectors import FieldRequirement, FieldSelector, LabelSelector, Requirement

QUALIFIED_NAME_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def label_error(text: str) -> ApiError:
    with pytest.raises(ApiError) as info:
        LabelSelector.parse(text)
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    return info.value


# --- label selectors: parsing -------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   ", "\t\n"])
def test_empty_label_selector_matches_everything(text: str | None) -> None:
    selector = LabelSelector.parse(text)
    assert selector.is_empty() and selector.requirements == () and str(selector) == ""
    assert selector.matches(None) and selector.matches({"a": "b"})


@pytest.mark.parametrize(
    ("text", "requirement"),
    [
        ("a=b", Requirement("a", "=", ("b",))),
        ("a==b", Requirement("a", "==", ("b",))),
        ("a!=b", Requirement("a", "!=", ("b",))),
        ("a in (x,y)", Requirement("a", "in", ("x", "y"))),
        ("a notin (x,y)", Requirement("a", "notin", ("x", "y"))),
        ("a", Requirement("a", "exists")),
        ("!a", Requirement("a", "!")),
        ("a>5", Requirement("a", "gt", ("5",))),
        ("a<10", Requirement("a", "lt", ("10",))),
        ("a=", Requirement("a", "=", ("",))),
        ("a!=", Requirement("a", "!=", ("",))),
        ("example.com/a-b_c.d=V.1_x-y", Requirement("example.com/a-b_c.d", "=", ("V.1_x-y",))),
        ("a in (y,x,y)", Requirement("a", "in", ("x", "y"))),  # a set: sorted, de-duplicated
        ("a in (x,,y)", Requirement("a", "in", ("", "x", "y"))),  # an empty slot is the empty value
        ("a in (,x)", Requirement("a", "in", ("", "x"))),
        ("a in (x,)", Requirement("a", "in", ("", "x"))),
        ("a in ()", Requirement("a", "in", ("",))),  # upstream: "()" is the set holding ""
        ("a notin ()", Requirement("a", "notin", ("",))),
        ("in=notin", Requirement("in", "=", ("notin",))),  # keywords are identifiers outside operator position
        ("a in (in,notin)", Requirement("a", "in", ("in", "notin"))),
    ],
)
def test_single_requirement(text: str, requirement: Requirement) -> None:
    assert LabelSelector.parse(text).requirements == (requirement,)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("  a = b ", "a=b"),
        ("a\t==\tb", "a==b"),
        ("a\n!=\rb", "a!=b"),
        ("x   in   (  a ,  b  )", "x in (a,b)"),
        ("x notin(b,a)", "x notin (a,b)"),
        ("a , b", "a,b"),
        ("! a", "!a"),
        ("a >  3", "a>3"),
    ],
)
def test_whitespace_is_a_delimiter(text: str, canonical: str) -> None:
    assert str(LabelSelector.parse(text)) == canonical


def test_requirements_are_sorted_by_key_and_rendered_canonically() -> None:
    selector = LabelSelector.parse("z notin (c,a),!y,x,w>3,v<4,u!=1,t==2,s=3,r in (b,a)")
    assert [r.key for r in selector.requirements] == ["r", "s", "t", "u", "v", "w", "x", "y", "z"]
    assert str(selector) == "r in (a,b),s=3,t==2,u!=1,v<4,w>3,x,!y,z notin (a,c)"
    assert LabelSelector.parse(str(selector)) == selector


# --- label selectors: matching ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a==b", {"a": "b", "x": "y"}, True),
        ("a!=b", {"a": "c"}, True),
        ("a!=b", {"a": "b"}, False),
        ("a!=b", {}, True),  # a missing key satisfies !=
        ("a!=b", None, True),
        ("a in (x,y)", {"a": "y"}, True),
        ("a in (x,y)", {"a": "z"}, False),
        ("a in (x,y)", {}, False),
        ("a notin (x,y)", {"a": "z"}, True),
        ("a notin (x,y)", {"a": "x"}, False),
        ("a notin (x,y)", {}, True),  # a missing key satisfies notin
        ("a", {"a": ""}, True),
        ("a", {"b": "a"}, False),
        ("!a", {"b": "1"}, True),
        ("!a", {"a": ""}, False),
        ("a=", {"a": ""}, True),
        ("a=", {}, False),
        ("a in ()", {"a": ""}, True),
        ("a in ()", {"a": "x"}, False),
        ("a>5", {"a": "6"}, True),
        ("a>5", {"a": "5"}, False),
        ("a>5", {"a": "-10"}, False),
        ("a>5", {"a": "x"}, False),  # a non-integer label value never matches
        ("a>5", {"a": "6.5"}, False),
        ("a>5", {}, False),
        ("a<5", {"a": "4"}, True),
        ("a<5", {"a": "-4"}, True),
        ("a<5", {"a": "5"}, False),
        ("a<5", {"a": "abc"}, False),
        ("a<5", {"a": "99999999999999999999"}, False),  # beyond int64: ParseInt fails
        ("a>0", {"a": "+1"}, True),  # ParseInt accepts a sign
        ("a>0", {"a": "1_0"}, False),
        ("a=b,c!=d,e", {"a": "b", "e": "f"}, True),
        ("a=b,c!=d,e", {"a": "b", "c": "d", "e": "f"}, False),
        ("a=b,c!=d,e", {"a": "b"}, False),
    ],
)
def test_matching(text: str, labels: dict[str, str] | None, expected: bool) -> None:
    assert LabelSelector.parse(text).matches(labels) is expected


# --- label selectors: errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in b)", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a in (b,", "unable to parse requirement: found '', expected: ',', or identifier"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a in (,,)", "unable to parse requirement: found ')', expected: ',', or identifier"),
        ("a in", "unable to parse requirement: found '' expected: '('"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a gt 3", "unable to parse requirement: found 'gt', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("!=b", "found '!=', expected: !, identifier, or 'end of string'"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("(a)", "found '(', expected: !, identifier, or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        ("a,,b", "found ',', expected: identifier after ','"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("a in (b))", "found ')', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        (
            "a>x",
            'unable to parse requirement: values[0]: Invalid value: "x": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        ("a>-1", f'unable to parse requirement: values[0][a]: Invalid value: "-1": {LABEL_VALUE_RULE}'),
        ("a=b*", f'unable to parse requirement: values[0][a]: Invalid value: "b*": {LABEL_VALUE_RULE}'),
        ("a in (ok,-bad)", f'unable to parse requirement: values[0][a]: Invalid value: "-bad": {LABEL_VALUE_RULE}'),
        (
            "a=" + "v" * 64,
            f'unable to parse requirement: values[0][a]: Invalid value: "{"v" * 64}": '
            "must be no more than 63 characters",
        ),
        ("app:web", f'unable to parse requirement: <nil>: Invalid value: "app:web": {QUALIFIED_NAME_RULE}'),
        ("-a=b", f'unable to parse requirement: <nil>: Invalid value: "-a": {QUALIFIED_NAME_RULE}'),
        (
            "a/=b",
            'unable to parse requirement: <nil>: Invalid value: "a/": name part must be non-empty; '
            + QUALIFIED_NAME_RULE,
        ),
        ("/a=b", 'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'),
        (
            "k" * 64,
            f'unable to parse requirement: <nil>: Invalid value: "{"k" * 64}": '
            "name part must be no more than 63 characters",
        ),
        (
            "a/b/c",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')",
        ),
        (
            "Example.com/a",
            'unable to parse requirement: <nil>: Invalid value: "Example.com/a": prefix part a '
            "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
            "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        ("a\x01=b", 'unable to parse requirement: <nil>: Invalid value: "a\\x01": ' + QUALIFIED_NAME_RULE),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    assert label_error(text).message == message


def test_gt_without_value_is_not_an_integer() -> None:
    # "a>" gives the empty value: not an integer, though a fine label value.
    assert label_error("a>").message == (
        'unable to parse requirement: values[0]: Invalid value: "": '
        "for 'Gt', 'Lt' operators, the value must be an integer"
    )


def test_several_value_errors_are_aggregated_in_brackets() -> None:
    assert label_error("a>x_").message == (
        "unable to parse requirement: [values[0]: Invalid value: \"x_\": for 'Gt', 'Lt' operators, the value "
        f'must be an integer, values[0][a]: Invalid value: "x_": {LABEL_VALUE_RULE}]'
    )


def test_nul_reads_as_end_of_input_like_go() -> None:
    assert LabelSelector.parse("\0a=b").is_empty()  # a NUL where a token starts ends the input
    assert label_error("a, \0b").message == "found '', expected: identifier after ','"
    assert str(LabelSelector.parse("a=\0b")) == "a=b"  # a NUL that ends a token is consumed


# --- field selectors ----------------------------------------------------------------------------

ALLOWED = ("metadata.name", "metadata.namespace")


def field_error(text: str, allowed=ALLOWED) -> str:
    with pytest.raises(ApiError) as info:
        FieldSelector.parse(text, allowed)
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    return info.value.message


@pytest.mark.parametrize("text", [None, "", ",", ",,"])
def test_empty_field_selector(text: str | None) -> None:
    selector = FieldSelector.parse(text, ALLOWED)
    assert selector.is_empty() and str(selector) == "" and selector.matches({"metadata.name": "x"})
    assert selector.exact_value("metadata.name") is None


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("metadata.name=a", [FieldRequirement("metadata.name", "=", "a")]),
        ("metadata.name==a", [FieldRequirement("metadata.name", "=", "a")]),  # == is =
        ("metadata.name!=a", [FieldRequirement("metadata.name", "!=", "a")]),
        ("metadata.name=", [FieldRequirement("metadata.name", "=", "")]),
        (
            "metadata.name=a,metadata.namespace!=b",
            [FieldRequirement("metadata.name", "=", "a"), FieldRequirement("metadata.namespace", "!=", "b")],
        ),
        (
            "metadata.namespace=b,metadata.name=a",
            [FieldRequirement("metadata.name", "=", "a"), FieldRequirement("metadata.namespace", "=", "b")],
        ),
        ("metadata.name=a b", [FieldRequirement("metadata.name", "=", "a b")]),  # no whitespace trimming
        ("metadata.name=x!y", [FieldRequirement("metadata.name", "=", "x!y")]),
        (r"metadata.name=a\,b", [FieldRequirement("metadata.name", "=", "a,b")]),
        (r"metadata.name=a\=b", [FieldRequirement("metadata.name", "=", "a=b")]),
        (r"metadata.name=a\\b", [FieldRequirement("metadata.name", "=", "a\\b")]),
        (
            r"metadata.name=a\\,metadata.namespace=b",
            [FieldRequirement("metadata.name", "=", "a\\"), FieldRequirement("metadata.namespace", "=", "b")],
        ),
        (r"metadata.name!=\=\,\\", [FieldRequirement("metadata.name", "!=", "=,\\")]),
    ],
)
def test_field_parse(text: str, requirements: list[FieldRequirement]) -> None:
    assert FieldSelector.parse(text, ALLOWED).requirements == tuple(requirements)


def test_field_string_round_trips_escapes() -> None:
    selector = FieldSelector.parse(r"metadata.name==a\,b\=c\\d,metadata.namespace!=x", ALLOWED)
    assert str(selector) == r"metadata.name=a\,b\=c\\d,metadata.namespace!=x"
    assert FieldSelector.parse(str(selector), ALLOWED) == selector


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("metadata.name=a,junk", "invalid selector: 'metadata.name=a,junk'; can't understand 'junk'"),
        ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
        ("metadata.name==a=b", "invalid field selector: unescaped character in value: 61"),
        (r"metadata.name=a\x", "invalid field selector: invalid escape sequence: \\x"),
        ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
        ("spec.type=x", '"spec.type" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        (
            "metadata.name =x",
            '"metadata.name " is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        ("=x", '"" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        # syntax errors are reported before unknown fields, whatever the order
        (
            "spec.type=x,metadata.name",
            "invalid selector: 'spec.type=x,metadata.name'; can't understand 'metadata.name'",
        ),
    ],
)
def test_field_parse_errors(text: str, message: str) -> None:
    assert field_error(text) == message


def test_unknown_field_lists_every_allowed_field() -> None:
    allowed = ["metadata.name", "metadata.namespace", "spec.keeper"]
    assert field_error("x=1", allowed) == (
        '"x" is not a known field selector: only "metadata.name", "metadata.namespace", "spec.keeper"'
    )
    assert field_error("x=1", frozenset(allowed)).endswith('"metadata.name", "metadata.namespace", "spec.keeper"')


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ("metadata.name=a", {"metadata.name": "a"}, True),
        ("metadata.name=a", {"metadata.name": "b"}, False),
        ("metadata.name!=a", {"metadata.name": "b"}, True),
        ("metadata.name!=a", {"metadata.name": "a"}, False),
        ("metadata.name=", {}, True),  # a missing field reads as ""
        ("metadata.name!=a", {}, True),
        ("metadata.name=a", {}, False),
        ("metadata.name=a,metadata.namespace=b", {"metadata.name": "a", "metadata.namespace": "b"}, True),
        ("metadata.name=a,metadata.namespace=b", {"metadata.name": "a", "metadata.namespace": "c"}, False),
        (r"metadata.name=a\,b", {"metadata.name": "a,b"}, True),
        # list-valued fields mean "contains"
        ("spec.decrypters=x", {"spec.decrypters": ["w", "x"]}, True),
        ("spec.decrypters=x", {"spec.decrypters": ("w",)}, False),
        ("spec.decrypters=x", {"spec.decrypters": []}, False),
        ("spec.decrypters!=x", {"spec.decrypters": ["w"]}, True),
        ("spec.decrypters!=x", {"spec.decrypters": ["x", "y"]}, False),
        ("spec.decrypters!=x", {"spec.decrypters": []}, True),
    ],
)
def test_field_matching(text: str, fields: dict, expected: bool) -> None:
    allowed = ALLOWED + ("spec.decrypters",)
    assert FieldSelector.parse(text, allowed).matches(fields) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metadata.name=a", "a"),
        ("metadata.name==a", "a"),
        ("metadata.namespace=n,metadata.name=a", "a"),
        ("metadata.name!=a", None),
        ("metadata.namespace=a", None),
        (r"metadata.name=a\,b", "a,b"),
        ("metadata.name=", ""),
    ],
)
def test_exact_value(text: str, expected: str | None) -> None:
    assert FieldSelector.parse(text, ALLOWED).exact_value("metadata.name") == expected
