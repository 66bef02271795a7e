"""InfluxDB answers are encoded as Go's json.MarshalIndent(v, "", "\\t") writes them, by orjson.

The reference is the json module with a tab indent plus Go's HTML-safe escapes (what the facade
used before: exact, but its pure-Python indenting encoder took ~12 ms for a list of 10 000 keys).
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from apiserver.compat.influxdb_errors import json_body

_HTML_SAFE = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}
_TEXT = st.text(st.sampled_from(list('ab <>&\u2028\u2029\n\t"\\\x00\x07\x1f\x7f é😀')), max_size=8)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=20,
)


def _reference(body, pretty: bool) -> bytes:
    if pretty:
        text = json.dumps(body, indent="\t", ensure_ascii=False)
    else:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return text.translate(_HTML_SAFE).encode()


@settings(max_examples=400, deadline=None)
@given(_JSON, st.booleans())
def test_the_encoding_is_the_reference_byte_for_byte(body, pretty):
    assert json_body(body, pretty=pretty) == _reference(body, pretty)


def test_an_indented_list_uses_one_tab_per_level():
    assert json_body({"secrets": ["a", "b"], "links": {}}, pretty=True) == (
        b'{\n\t"secrets": [\n\t\t"a",\n\t\t"b"\n\t],\n\t"links": {}\n}'
    )
