"""Bodies decoded as influxd's Go `json.Decoder` decodes them, with Go's exact error texts."""

from __future__ import annotations

import pytest

from apiserver.compat.influxdb_json import GoJSONError, decode_secret_keys, decode_string_map

MAP_ERRORS = [
    (b"", "EOF"),
    (b"  \n\t", "EOF"),
    (b"{", "unexpected EOF"),
    (b'{"a":"b"', "unexpected EOF"),
    (b'{"a":"b', "unexpected EOF"),
    (b"nul", "unexpected EOF"),
    (b"-", "unexpected EOF"),
    (b"x", "invalid character 'x' looking for beginning of value"),
    (b'{"a":}', "invalid character '}' looking for beginning of value"),
    (b'{"a" "b"}', "invalid character '\"' after object key"),
    (b'{"a":"b",}', "invalid character '}' looking for beginning of object key string"),
    (b"{a:1}", "invalid character 'a' looking for beginning of object key string"),
    (b'{"a":"b" "c":"d"}', "invalid character '\"' after object key:value pair"),
    (b'{"a":[1 2]}', "invalid character '2' after array element"),
    (b'{"a":"\x01"}', "invalid character '\\x01' in string literal"),
    (b'{"a":"\\q"}', "invalid character 'q' in string escape code"),
    (b'{"a":"\\u12g4"}', "invalid character 'g' in \\u hexadecimal character escape"),
    (b'{"a":-x}', "invalid character 'x' in numeric literal"),
    (b'{"a":1.}', "invalid character '}' after decimal point in numeric literal"),
    (b'{"a":1e}', "invalid character '}' in exponent of numeric literal"),
    (b'{"a":01}', "invalid character '1' after object key:value pair"),
    (b'{"a":tru}', "invalid character '}' in literal true (expecting 'e')"),
    (b'{"a":nul}', "invalid character '}' in literal null (expecting 'l')"),
    (b"{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
    (b"[" * 10001, "invalid character '[' exceeded max depth"),
    # Type errors: the first offending value in document order names its JSON kind.
    (b'{"a":1}', "json: cannot unmarshal number into Go value of type string"),
    (b'{"a":"ok","b":true,"c":1}', "json: cannot unmarshal bool into Go value of type string"),
    (b'{"a":{"b":"c"}}', "json: cannot unmarshal object into Go value of type string"),
    (b'{"a":["b"]}', "json: cannot unmarshal array into Go value of type string"),
    (b'["a"]', "json: cannot unmarshal array into Go value of type map[string]string"),
    (b'"a"', "json: cannot unmarshal string into Go value of type map[string]string"),
    (b"12", "json: cannot unmarshal number into Go value of type map[string]string"),
    (b"false", "json: cannot unmarshal bool into Go value of type map[string]string"),
    # A syntax error anywhere wins over an earlier type error (Go reads the value whole first).
    (b'{"a":1,"b":}', "invalid character '}' looking for beginning of value"),
]


@pytest.mark.parametrize("body,message", MAP_ERRORS, ids=range(len(MAP_ERRORS)))
def test_patch_body_errors_are_gos(body: bytes, message: str) -> None:
    with pytest.raises(GoJSONError) as raised:
        decode_string_map(body)
    assert str(raised.value) == message


def test_a_repeated_key_is_refused_after_syntax_and_type_errors() -> None:
    """Go would keep the last value; this server refuses to choose between two values of a secret."""
    for decode, body, message in (
        (decode_string_map, b'{"a":"1","a":"2"}', 'duplicate key "a"'),
        (decode_string_map, b'{"a":"1","a":2}', "json: cannot unmarshal number into Go value of type string"),
        (decode_string_map, b'{"a":"1","a":"2"', "unexpected EOF"),
        (decode_secret_keys, b'{"secrets":["a"],"SECRETS":["b"]}', 'duplicate key "SECRETS"'),
    ):
        with pytest.raises(GoJSONError) as raised:
            decode(body)
        assert str(raised.value) == message, body


def test_patch_bodies_that_decode() -> None:
    assert decode_string_map(b"{}") == {}
    assert decode_string_map(b"null") == {}
    assert decode_string_map(b' {"a":"1"} trailing junk') == {"a": "1"}
    assert decode_string_map(b'{"k":null}') == {"k": ""}
    assert decode_string_map(b'{"":"empty key","\\u00e9\\ud83d\\udd11":"\\n"}') == {"": "empty key", "é🔑": "\n"}
    assert decode_string_map(b'{"lone":"\\ud800x"}') == {"lone": "\ufffdx"}
    assert decode_string_map('{"ü":"ß"}'.encode()) == {"ü": "ß"}
    assert decode_string_map(b'{"bad utf8":"\xff"}') == {"bad utf8": "\ufffd"}


DELETE_CASES = [
    (b'{"secrets":["a","b"]}', ["a", "b"]),
    (b'{"SECRETS":["a"]}', ["a"]),
    (b'{"secrets":[null]}', [""]),
    (b'{"secrets":null}', []),
    (b'{"secrets":[]}', []),
    (b"{}", []),
    (b"null", []),
    (b'{"other":1,"secrets":["x"]}', ["x"]),
]


@pytest.mark.parametrize("body,keys", DELETE_CASES, ids=range(len(DELETE_CASES)))
def test_delete_bodies(body: bytes, keys: list[str]) -> None:
    assert decode_secret_keys(body) == keys


DELETE_ERRORS = [
    (b"", "EOF"),
    (
        b'{"secrets":"a"}',
        "json: cannot unmarshal string into Go struct field secretsDeleteBody.secrets of type []string",
    ),
    (
        b'{"secrets":["a",1]}',
        "json: cannot unmarshal number into Go struct field secretsDeleteBody.secrets of type string",
    ),
    (b'["a"]', "json: cannot unmarshal array into Go value of type secret.secretsDeleteBody"),
]


@pytest.mark.parametrize("body,message", DELETE_ERRORS, ids=range(len(DELETE_ERRORS)))
def test_delete_body_errors(body: bytes, message: str) -> None:
    with pytest.raises(GoJSONError) as raised:
        decode_secret_keys(body)
    assert str(raised.value) == message
