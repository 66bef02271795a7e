"""Request bodies decoded as influxd decodes them: Go's `json.Decoder` into the handler's Go type.

InfluxDB answers a bad body with `failed to unmarshal json: <Go's error text>`, and clients show
that text, so the texts here are Go's (`encoding/json` scanner and UnmarshalTypeError):

- only the first JSON value is read; anything after it is ignored; empty input is `EOF`, a
  value cut short is `unexpected EOF`;
- a syntax error anywhere in that value wins over a type error (the value is read whole first);
- the first value of a wrong type names its JSON kind and the Go type; nothing is decoded then;
- `null` leaves Go's zero value (a nil map, `""` for a string element); invalid UTF-8 and lone
  surrogate escapes become U+FFFD.

One deliberate difference: where Go lets the last of two equal keys win, a repeated key here is
refused (`duplicate key "k"`), after any syntax or type error, since a secrets server must not
pick one of two values for the same secret silently.

The scanner is iterative, so deep nesting cannot exhaust the Python stack (Go stops at 10000).
"""

from __future__ import annotations

import json
import re

MAX_DEPTH = 10000  # Go's maxNestingDepth
_SPACE = b" \t\r\n"
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdefABCDEF"
_ESCAPES = b'bfnrt\\/"'
_LITERALS = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}
_KINDS = {ord("{"): "object", ord("["): "array", ord('"'): "string", ord("t"): "bool", ord("f"): "bool"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_GO_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v", 92: "\\\\"}


class GoJSONError(Exception):
    """A body influxd would refuse; `str()` is Go's message (without the `failed to unmarshal json` prefix)."""


def _quote_char(c: int) -> str:
    """Go's `quoteChar`: the byte as a rune, quoted as strconv.Quote would, in single quotes."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    if c in _GO_ESCAPES:
        return f"'{_GO_ESCAPES[c]}'"
    char = chr(c)
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if not char.isprintable():
        return f"'\\u{c:04x}'"
    return f"'{char}'"


def _syntax(c: int, context: str) -> GoJSONError:
    return GoJSONError(f"invalid character {_quote_char(c)} {context}")


class _Scanner:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.i = 0

    def space(self) -> None:
        while self.i < len(self.buf) and self.buf[self.i] in _SPACE:
            self.i += 1

    def peek(self) -> int:
        if self.i >= len(self.buf):
            raise GoJSONError("unexpected EOF")
        return self.buf[self.i]

    def take(self) -> int:
        c = self.peek()
        self.i += 1
        return c

    def expect(self, wanted: int, context: str) -> None:
        self.space()
        c = self.take()
        if c != wanted:
            raise _syntax(c, context)

    def string(self) -> str:
        """A string literal (the opening quote already taken), decoded."""
        start = self.i - 1
        while True:
            c = self.take()
            if c == ord('"'):
                break
            if c == ord("\\"):
                e = self.take()
                if e == ord("u"):
                    for _ in range(4):
                        h = self.take()
                        if h not in _HEX:
                            raise _syntax(h, "in \\u hexadecimal character escape")
                elif e not in _ESCAPES:
                    raise _syntax(e, "in string escape code")
            elif c < 0x20:
                raise _syntax(c, "in string literal")
        text = json.loads(self.buf[start : self.i].decode("utf-8", "replace"))
        return _SURROGATE.sub("\ufffd", text)

    def number(self, first: int) -> None:
        c = first
        if c == ord("-"):
            c = self.take()
            if c not in _DIGITS:
                raise _syntax(c, "in numeric literal")
        if c != ord("0"):
            self._digits()
        if self._at(b"."):
            self.i += 1
            c = self.take()
            if c not in _DIGITS:
                raise _syntax(c, "after decimal point in numeric literal")
            self._digits()
        if self._at(b"eE"):
            self.i += 1
            c = self.take()
            if c in b"+-":
                c = self.take()
            if c not in _DIGITS:
                raise _syntax(c, "in exponent of numeric literal")
            self._digits()

    def _digits(self) -> None:
        while self._at(_DIGITS):
            self.i += 1

    def _at(self, chars: bytes) -> bool:
        return self.i < len(self.buf) and self.buf[self.i] in chars

    def literal(self, first: int) -> None:
        word = _LITERALS[first]
        for expected in word[1:]:
            c = self.take()
            if c != expected:
                raise _syntax(c, f"in literal {word.decode()} (expecting {_quote_char(expected)})")

    def skip_value(self) -> None:
        """Check one complete value from here (Go's scanner), iteratively; leaves `i` after it."""
        stack: list[int] = []
        while True:
            self.space()
            c = self.take()
            if c in (ord("{"), ord("[")):
                if len(stack) >= MAX_DEPTH:
                    raise _syntax(c, "exceeded max depth")
                self.space()
                close = ord("}") if c == ord("{") else ord("]")
                if self.peek() == close:
                    self.i += 1
                else:
                    stack.append(c)
                    if c == ord("{"):
                        self._member_key(self.take())
                    continue
            elif c == ord('"'):
                self.string()
            elif c == ord("-") or c in _DIGITS:
                self.number(c)
            elif c in _LITERALS:
                self.literal(c)
            else:
                raise _syntax(c, "looking for beginning of value")
            if not self._close(stack):
                return

    def _member_key(self, c: int) -> None:
        if c != ord('"'):
            raise _syntax(c, "looking for beginning of object key string")
        self.string()
        self.expect(ord(":"), "after object key")

    def _close(self, stack: list[int]) -> bool:
        """After a value: pop finished containers; True when another value follows inside one."""
        while stack:
            self.space()
            c = self.take()
            in_object = stack[-1] == ord("{")
            if c == ord(","):
                if in_object:
                    self.space()
                    self._member_key(self.take())
                return True
            if c == (ord("}") if in_object else ord("]")):
                stack.pop()
                continue
            raise _syntax(c, "after object key:value pair" if in_object else "after array element")
        return False


def _start(buf: bytes) -> _Scanner:
    """A scanner at the first value, checked whole (so syntax errors come before type errors)."""
    scanner = _Scanner(buf)
    scanner.space()
    if scanner.i >= len(buf):
        raise GoJSONError("EOF")
    start = scanner.i
    scanner.skip_value()
    scanner.i = start
    return scanner


def _kind(c: int) -> str:
    return _KINDS.get(c, "number")


def _members(scanner: _Scanner):
    """(key, first byte of the value) of an object whose `{` is next; the caller consumes each value."""
    scanner.take()
    scanner.space()
    if scanner.peek() == ord("}"):
        return
    while True:
        scanner.space()
        scanner.take()
        key = scanner.string()
        scanner.expect(ord(":"), "after object key")
        scanner.space()
        yield key, scanner.peek()
        scanner.space()
        if scanner.take() == ord("}"):
            return


def decode_string_map(buf: bytes) -> dict[str, str]:
    """Go: `var m map[string]string; json.NewDecoder(body).Decode(&m)` (PATCH …/secrets)."""
    scanner = _start(buf)
    first = scanner.peek()
    if first == ord("n"):
        return {}
    if first != ord("{"):
        raise GoJSONError(f"json: cannot unmarshal {_kind(first)} into Go value of type map[string]string")
    result: dict[str, str] = {}
    wrong: str | None = None
    repeated: str | None = None
    for key, c in _members(scanner):
        if key in result and repeated is None:
            repeated = key
        if c == ord('"'):
            scanner.take()
            result[key] = scanner.string()
        else:
            if c == ord("n"):
                result[key] = ""  # null leaves the map element's zero value
            elif wrong is None:
                wrong = _kind(c)
            scanner.skip_value()
    if wrong is not None:
        raise GoJSONError(f"json: cannot unmarshal {wrong} into Go value of type string")
    if repeated is not None:
        raise _duplicate(repeated)
    return result


def _duplicate(key: str) -> GoJSONError:
    return GoJSONError(f"duplicate key {json.dumps(key)}")


def decode_secret_keys(buf: bytes) -> list[str]:
    """Go: `var b struct{Secrets []string `json:"secrets"`}` (POST …/secrets/delete)."""
    scanner = _start(buf)
    first = scanner.peek()
    if first == ord("n"):
        return []
    if first != ord("{"):
        raise GoJSONError(f"json: cannot unmarshal {_kind(first)} into Go value of type secret.secretsDeleteBody")
    keys: list[str] = []
    wrong: str | None = None
    field = "Go struct field secretsDeleteBody.secrets of type"
    seen = False
    repeated: str | None = None
    for key, c in _members(scanner):
        if key != "secrets" and key.upper() != "SECRETS":  # Go matches field names case-insensitively
            scanner.skip_value()
            continue
        if seen and repeated is None:
            repeated = key
        seen = True
        if c != ord("["):
            if c != ord("n") and wrong is None:
                wrong = f"json: cannot unmarshal {_kind(c)} into {field} []string"
            keys = []
            scanner.skip_value()
            continue
        keys = []
        scanner.take()
        scanner.space()
        if scanner.peek() == ord("]"):
            scanner.take()
            continue
        while True:
            scanner.space()
            c = scanner.peek()
            if c == ord('"'):
                scanner.take()
                keys.append(scanner.string())
            else:
                if c == ord("n"):
                    keys.append("")
                elif wrong is None:
                    wrong = f"json: cannot unmarshal {_kind(c)} into {field} string"
                scanner.skip_value()
            scanner.space()
            if scanner.take() == ord("]"):
                break
    if wrong is not None:
        raise GoJSONError(wrong)
    if repeated is not None:
        raise _duplicate(repeated)
    return keys
