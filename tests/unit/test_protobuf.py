"""The Kubernetes protobuf envelope decoder, on bytes laid out as client-go's generated marshallers write them."""

from __future__ import annotations

import pytest

from apiserver.http.protobuf import decode_object
from apiserver.machinery.errors import ApiError


def varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def field(number: int, payload: bytes | str | int) -> bytes:
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + field(1, field(1, api_version) + field(2, kind)) + field(2, raw) + field(3, "") + field(4, "")


def namespace(name: str) -> bytes:
    # gogo-proto writes every string field, empty or not, and a zero Time for creationTimestamp.
    meta = (
        field(1, name)
        + field(2, "")
        + field(3, "")
        + field(4, "")
        + field(5, "")
        + field(6, "")
        + field(7, 0)
        + field(8, field(1, 0) + field(2, 0))
        + field(11, field(1, "team") + field(2, "a"))
        + field(12, field(1, "note") + field(2, "x"))
        + field(99, "unknown to us")
    )
    return field(1, meta) + field(2, b"") + field(3, field(1, ""))


def test_namespace_as_kubectl_sends_it():
    obj = decode_object(envelope("v1", "Namespace", namespace("team-a")))
    assert obj == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team-a", "labels": {"team": "a"}, "annotations": {"note": "x"}},
    }


def test_timestamps_and_negative_numbers():
    meta = field(1, "n") + field(8, field(1, 1_700_000_000)) + field(7, (1 << 64) - 1)
    obj = decode_object(envelope("v1", "Namespace", field(1, meta)))
    assert obj["metadata"] == {"name": "n", "creationTimestamp": "2023-11-14T22:13:20Z", "generation": -1}


@pytest.mark.parametrize(
    "body, code",
    [
        (b"not protobuf", 400),
        (b"k8s\x00\x0a\x05\x0a", 400),  # truncated
        (envelope("v1", "Namespace", b"\x0a\xff"), 400),  # a length running past the end
        (envelope("v1", "Namespace", field(1, field(1, b"\xff\xfe"))), 400),  # a name that is not UTF-8
        (envelope("v1", "Pod", b""), 415),  # a kind this server does not serve as protobuf
    ],
)
def test_bad_bodies_are_client_errors(body, code):
    with pytest.raises(ApiError) as error:
        decode_object(body)
    assert error.value.code == code
