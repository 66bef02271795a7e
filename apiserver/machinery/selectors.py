"""Label and field selectors, parsed and matched the way apimachinery does it.

The label grammar, lexer quirks and error messages follow `k8s.io/apimachinery/pkg/labels/selector.go`
(`Parse`); field selectors follow `pkg/fields/selector.go` plus the apiserver's field-label conversion.
Error messages are kept word for word because clients print them verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from apiserver.machinery.errors import bad_request
from apiserver.machinery.names import label_value_errors, qualified_name_errors

_INT64 = re.compile(r"[+-]?[0-9]+")
_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def _go_quote(value: str) -> str:
    """Go's `%q` for a string, so bad values read the same as upstream's."""

    def escape(ch: str) -> str:
        if ch in _GO_ESCAPES or ch.isprintable():
            return _GO_ESCAPES.get(ch, ch)
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

    return '"' + "".join(map(escape, value)) + '"'


def _invalid(path: str, value: str, detail: str) -> str:
    """`field.Invalid(path, value, detail).Error()`; a nil path prints as `<nil>` upstream."""
    return f"{path}: Invalid value: {_go_quote(value)}: {detail}"


def _parse_int64(text: str) -> int | None:
    """`strconv.ParseInt(text, 10, 64)`, or None where Go would fail."""
    return int(text) if _INT64.fullmatch(text) and -(2**63) <= int(text) < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    """One label requirement; `values` is sorted and de-duplicated, as upstream's string set."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op, present = self.operator, self.key in labels
        if op in ("in", "=", "=="):
            return present and labels[self.key] in self.values
        if op in ("notin", "!="):  # a missing key satisfies a negative requirement
            return not present or labels[self.key] not in self.values
        if op in ("exists", "!"):
            return present == (op == "exists")
        if op in ("gt", "lt") and present and len(self.values) == 1:  # non-integers never compare
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            return have is not None and want is not None and (have > want if op == "gt" else have < want)
        return False

    def __str__(self) -> str:
        if self.operator in ("exists", "!"):
            return self.key if self.operator == "exists" else "!" + self.key
        joined = ",".join(self.values)
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({joined})"
        symbol = {"gt": ">", "lt": "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{joined}"


def _new_requirement(key: str, op: str, values: list[str]) -> Requirement:
    """`NewRequirement`: validates values per operator and aggregates the errors."""
    errs: list[str] = []  # the parser never yields an empty set or a wrong value count
    if op in ("gt", "lt"):
        for i, value in enumerate(values):
            if _parse_int64(value) is None:
                errs.append(_invalid(f"values[{i}]", value, "for 'Gt', 'Lt' operators, the value must be an integer"))
    for i, value in enumerate(values):
        if msgs := label_value_errors(value):
            errs.append(_invalid(f"values[{i}][{key}]", value, "; ".join(msgs)))
    if errs:
        unique = list(dict.fromkeys(errs))  # utilerrors.Aggregate drops repeated messages
        raise _ParseError(unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]")
    return Requirement(key, op, tuple(values))


class _ParseError(Exception):
    pass


# Token kinds are the symbols and keywords themselves, plus "id" and "eos".
_TOKENS = frozenset({")", ",", "!", "==", "=", ">", "in", "<", "!=", "notin", "("})
# Binary operator tokens -> selection.Operator spellings ("exists" and "!" are the unary ones).
_OPERATORS = {"in": "in", "notin": "notin", "=": "=", "==": "==", "!=": "!=", ">": "gt", "<": "lt"}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_DELIMITERS = _SPECIAL | _WHITESPACE | {"\0"}


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokenise like upstream's `Lexer`, down to how it treats a NUL byte (Go's `read()` returns 0)."""
    items: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end or text[pos] == "\0":
            items.append(("eos", ""))
            return items
        start = pos
        if text[pos] in _SPECIAL:  # the longest run that is still a token: "!=", but "=(" is "=", "("
            while pos < end and text[pos] in _SPECIAL and text[start : pos + 1] in _TOKENS:
                pos += 1
        else:
            while pos < end and text[pos] not in _DELIMITERS:
                pos += 1
        word = text[start:pos]
        items.append((word if word in _TOKENS else "id", word))
        if pos < end and text[pos] == "\0":  # a NUL that ends a token is consumed, not unread
            pos += 1


class _Parser:
    """Recursive descent over the scanned tokens, mirroring upstream's `Parser` step by step."""

    def __init__(self, text: str) -> None:
        self.items, self.pos = _lex(text), 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        """The next token; where values are expected, `in`/`notin` are plain identifiers."""
        tok, lit = self.items[self.pos]
        return ("id" if values and tok in ("in", "notin") else tok), lit

    def take(self, values: bool = True) -> tuple[str, str]:
        item = self.peek(values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while (tok := self.peek())[0] != "eos":
            if tok[0] not in ("id", "!"):
                raise _ParseError(f"found '{tok[1]}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.requirement())
            except _ParseError as err:
                raise _ParseError(f"unable to parse requirement: {err}") from None
            tok = self.take()
            if tok[0] == "eos":
                break
            if tok[0] != ",":
                raise _ParseError(f"found '{tok[1]}', expected: ',' or 'end of string'")
            if (tok := self.peek())[0] not in ("id", "!"):
                raise _ParseError(f"found '{tok[1]}', expected: identifier after ','")
        return requirements

    def requirement(self) -> Requirement:
        tok, key = self.take()
        negated = tok == "!"
        if negated:
            tok, key = self.take()
        if tok != "id":
            raise _ParseError(f"found '{key}', expected: identifier")
        if msgs := qualified_name_errors(key):
            raise _ParseError(_invalid("<nil>", key, "; ".join(msgs)))
        if negated:  # unary; whatever follows the key is left for parse() to reject
            return _new_requirement(key, "!", [])
        if self.peek()[0] in ("eos", ","):
            return _new_requirement(key, "exists", [])
        tok, lit = self.take(values=False)
        if tok not in _OPERATORS:
            raise _ParseError(f"found '{lit}', expected: {', '.join(_OPERATORS.values())}")
        op = _OPERATORS[tok]
        values = self.value_set() if op in ("in", "notin") else self.exact_value()
        return _new_requirement(key, op, sorted(values))

    def value_set(self) -> set[str]:
        tok, lit = self.take()
        if tok != "(":
            raise _ParseError(f"found '{lit}' expected: '('")
        tok, lit = self.peek()
        if tok == ")":  # "()" is the set holding the empty value, as upstream
            self.take()
            return {""}
        if tok not in ("id", ","):
            raise _ParseError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifiers()
        self.take()  # identifiers() only returns with ')' next
        return values

    def identifiers(self) -> set[str]:
        """A comma list where empty slots (`(,a)`, `(a,,b)`, `(a,)`) stand for the empty value."""
        values: set[str] = set()
        while True:
            tok, lit = self.take()
            if tok == "id":
                values.add(lit)
                tok, lit = self.peek()
                if tok == ")":
                    return values
                if tok != ",":
                    raise _ParseError(f"found '{lit}', expected: ',' or ')'")
            elif tok == ",":  # upstream's exact steps, quirks included: "(,,)" is an error, "(a,,,)" is not
                if not values:
                    values.add("")
                tok = self.peek()[0]
                if tok == ")":
                    values.add("")
                    return values
                if tok == ",":
                    self.take()
                    values.add("")
            else:
                raise _ParseError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.peek()[0] in ("eos", ","):
            return {""}
        tok, lit = self.take()
        if tok != "id":
            raise _ParseError(f"found '{lit}', expected: identifier")
        return {lit}


@dataclass(frozen=True)
class LabelSelector:
    """A parsed label selector: the AND of its requirements, sorted by key."""

    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        """Parse `labelSelector`; raise a 400 `ApiError` worded like apimachinery on bad syntax."""
        if not text:
            return cls()
        try:
            found = _Parser(text).parse()
        except _ParseError as err:
            raise bad_request(str(err)) from None
        return cls(tuple(sorted(found, key=lambda r: r.key)))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def is_empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


@dataclass(frozen=True)
class FieldRequirement:
    """One field term; `==` is normalised to `=`, as upstream's `hasTerm`."""

    field: str
    operator: str  # "=" or "!="
    value: str

    def matches(self, fields: Mapping[str, str | Sequence[str]]) -> bool:
        have = fields.get(self.field, "")  # upstream's Fields.Get: a missing field is ""
        equal = self.value in have if isinstance(have, (list, tuple)) else have == self.value
        return equal if self.operator == "=" else not equal

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{self.operator}{escaped}"


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not backslash-escaped; the escapes stay in the terms."""
    terms, start = [], 0
    for match in re.finditer(r"\\.|,", text, re.S):  # an escape pair is skipped whole
        if match.group() == ",":
            terms.append(text[start : match.start()])
            start = match.end()
    return terms + [text[start:]]


def _unescape_one(match: re.Match[str]) -> str:
    escaped, bare = match.groups()
    if bare:  # upstream prints the rune with %v, i.e. as its code point
        raise _ParseError(f"invalid field selector: unescaped character in value: {ord(bare)}")
    if len(escaped) != 1 or escaped not in "\\,=":
        raise _ParseError(f"invalid field selector: invalid escape sequence: \\{escaped}")
    return escaped


def _unescape(value: str) -> str:
    """`fields.UnescapeValue`: only `\\\\`, `\\,` and `\\=` are escapes; bare `,` and `=` are errors."""
    return re.sub(r"\\(.?)|([,=])", _unescape_one, value, flags=re.S)


@dataclass(frozen=True)
class FieldSelector:
    """A parsed field selector: the AND of equality/inequality terms on known fields."""

    requirements: tuple[FieldRequirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None, allowed: Collection[str]) -> FieldSelector:
        """Parse `fieldSelector`; unknown fields are rejected after the syntax check, as upstream."""
        if not text:
            return cls()
        terms: list[FieldRequirement] = []
        try:
            for part in sorted(_split_terms(text)):
                if not part:
                    continue
                match = re.search("!=|==|=", part)  # the first operator wins; keys cannot be escaped
                if match is None:
                    raise _ParseError(f"invalid selector: '{text}'; can't understand '{part}'")
                op = "!=" if match.group() == "!=" else "="
                terms.append(FieldRequirement(part[: match.start()], op, _unescape(part[match.end() :])))
        except _ParseError as err:
            raise bad_request(str(err)) from None
        known = list(allowed) if isinstance(allowed, Sequence) else sorted(allowed)
        for term in terms:
            if term.field not in known:
                only = ", ".join(_go_quote(f) for f in known)
                raise bad_request(f"{_go_quote(term.field)} is not a known field selector: only {only}")
        return cls(tuple(terms))

    def matches(self, fields: Mapping[str, str | Sequence[str]]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def is_empty(self) -> bool:
        return not self.requirements

    def exact_value(self, field: str) -> str | None:
        """The value an `=` term pins `field` to, so callers can turn a scan into a lookup."""
        for r in self.requirements:
            if r.field == field and r.operator == "=":
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


__all__ = ["FieldRequirement", "FieldSelector", "LabelSelector", "Requirement"]
