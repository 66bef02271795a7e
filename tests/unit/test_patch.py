"""PATCH media types, body decoding and the merge / strategic / JSON patch mechanisms."""

from __future__ import annotations

import copy

import pytest

from apiserver.machinery import patch
from apiserver.machinery.errors import ApiError

ACCEPTED = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, "
    "application/strategic-merge-patch+json, application/apply-patch+yaml"
)


@pytest.mark.parametrize(
    "header, expected",
    [
        ("application/merge-patch+json", patch.MERGE_PATCH),
        ("application/merge-patch+json; charset=utf-8", patch.MERGE_PATCH),
        ("Application/JSON-Patch+JSON;charset=UTF-8", patch.JSON_PATCH),
        ("application/strategic-merge-patch+json", patch.STRATEGIC_MERGE_PATCH),
        ("application/apply-patch+yaml; charset=utf-8", patch.APPLY_PATCH),
    ],
)
def test_patch_type_strips_parameters(header: str, expected: str) -> None:
    assert patch.patch_type(header) == expected


@pytest.mark.parametrize("header", [None, "", "application/json", "text/plain", "application/apply-patch+cbor"])
def test_unknown_patch_type_is_415(header: str | None) -> None:
    with pytest.raises(ApiError) as err:
        patch.patch_type(header)
    assert (err.value.code, err.value.reason, err.value.message) == (415, "UnsupportedMediaType", ACCEPTED)


def test_patch_type_honours_a_narrower_accepted_list() -> None:
    crd_like = (patch.JSON_PATCH, patch.MERGE_PATCH, patch.APPLY_PATCH)
    with pytest.raises(ApiError) as err:
        patch.patch_type(patch.STRATEGIC_MERGE_PATCH, crd_like)
    assert err.value.message.endswith(
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


def _bad(ptype: str, body: bytes) -> ApiError:
    with pytest.raises(ApiError) as err:
        patch.parse_patch_body(ptype, body)
    assert (err.value.code, err.value.reason) == (400, "BadRequest")
    return err.value


def test_parse_json_bodies() -> None:
    assert patch.parse_patch_body(patch.MERGE_PATCH, b'{"spec":{"a":1}}') == {"spec": {"a": 1}}
    assert patch.parse_patch_body(patch.STRATEGIC_MERGE_PATCH, b'{"a":null}') == {"a": None}
    ops = patch.parse_patch_body(patch.JSON_PATCH, b'[{"op":"remove","path":"/a"}]')
    assert ops == [{"op": "remove", "path": "/a"}]


def test_parse_rejects_undecodable_and_wrongly_shaped_bodies() -> None:
    assert _bad(patch.MERGE_PATCH, b"{nope").message.startswith("error decoding patch: ")
    assert _bad(patch.JSON_PATCH, b"\xff\xfe").message.startswith("error decoding patch: ")
    assert _bad(patch.MERGE_PATCH, b"NaN").message.startswith("error decoding patch: ")
    assert _bad(patch.MERGE_PATCH, b"[1]").message == (
        "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"
    )
    assert _bad(patch.MERGE_PATCH, b"null").message == "Invalid JSON Patch"
    assert _bad(patch.STRATEGIC_MERGE_PATCH, b'"x"').message == (
        "json: cannot unmarshal string into Go value of type map[string]interface {}"
    )
    assert _bad(patch.JSON_PATCH, b'{"op":"add"}').message == (
        "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"
    )
    assert _bad(patch.JSON_PATCH, b'[{"op":"add","path":5}]').message == (
        "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string"
    )
    assert "handlers.jsonPatchOp" in _bad(patch.JSON_PATCH, b'["x"]').message


def test_parse_apply_yaml_and_json() -> None:
    body = b"""
apiVersion: secret.grafana.app/v1beta1
kind: SecureValue
metadata:
  name: foo
  labels: {app: web, enabled: "yes"}
spec:
  description: created 2024-01-01
  when: 2024-01-01T00:00:00Z
  decrypters: [a, b]
"""
    doc = patch.parse_patch_body(patch.APPLY_PATCH, body)
    assert doc["metadata"]["labels"] == {"app": "web", "enabled": "yes"}
    assert doc["spec"]["when"] == "2024-01-01T00:00:00Z"  # timestamps stay strings, as in JSON
    assert doc["spec"]["decrypters"] == ["a", "b"]
    as_json = patch.parse_patch_body(patch.APPLY_PATCH, b'{"apiVersion":"v1","kind":"X","metadata":{"name":"a"}}')
    assert as_json == {"apiVersion": "v1", "kind": "X", "metadata": {"name": "a"}}


def test_parse_apply_rejects_bad_yaml() -> None:
    assert _bad(patch.APPLY_PATCH, b"a: [1, 2").message.startswith("error decoding YAML: ")
    assert _bad(patch.APPLY_PATCH, b"a: 1\n---\nb: 2\n").message.startswith("error decoding YAML: ")
    assert _bad(patch.APPLY_PATCH, b"- a\n- b\n").message == (
        "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array "
        "into Go value of type map[string]interface {}"
    )
    _bad(patch.APPLY_PATCH, b"")


def test_merge_patch_null_deletes_lists_replace_and_inputs_survive() -> None:
    target = {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"description": "d", "decrypters": ["x", "y"], "keeper": "k"},
    }
    before = copy.deepcopy(target)
    body = {
        "metadata": {"labels": {"a": None, "c": "3"}},
        "spec": {"decrypters": ["z"], "keeper": None, "new": {"deep": None, "x": 1}},
    }
    result = patch.apply_merge_patch(target, body)
    assert result == {
        "metadata": {"labels": {"b": "2", "c": "3"}},
        "spec": {"description": "d", "decrypters": ["z"], "new": {"x": 1}},
    }
    assert target == before
    result["spec"]["decrypters"].append("mutated")
    assert body["spec"]["decrypters"] == ["z"]


def test_merge_patch_rfc7386_examples() -> None:
    assert patch.apply_merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert patch.apply_merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert patch.apply_merge_patch({"a": "foo"}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}
    assert patch.apply_merge_patch({}, {}) == {}


def test_strategic_directives_are_stripped() -> None:
    smp = {
        "$retainKeys": ["spec"],
        "metadata": {"labels": {"$patch": "replace", "a": "1"}, "annotations": {"$patch": "delete"}},
        "spec": {
            "$setElementOrder/decrypters": [{"name": "x"}],
            "$deleteFromPrimitiveList/finalizers": ["f"],
            "decrypters": ["x", {"$patch": "replace"}, {"name": "y", "$patch": "delete"}],
            "description": "d",
        },
    }
    stripped = patch.strip_strategic_directives(smp)
    assert stripped == {
        "metadata": {"labels": {"a": "1"}, "annotations": None},
        "spec": {"decrypters": ["x"], "description": "d"},
    }
    live = {"metadata": {"labels": {"a": "0", "b": "2"}, "annotations": {"n": "v"}}, "spec": {"decrypters": []}}
    assert patch.apply_merge_patch(live, stripped) == {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"decrypters": ["x"], "description": "d"},
    }


def test_json_patch_operations() -> None:
    target = {"metadata": {"labels": {"a": "1"}}, "spec": {"description": "d", "decrypters": ["x"]}}
    before = copy.deepcopy(target)
    ops = [
        {"op": "test", "path": "/spec/description", "value": "d"},
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "replace", "path": "/spec/description", "value": "e"},
        {"op": "add", "path": "/spec/decrypters/-", "value": "y"},
        {"op": "copy", "from": "/spec/description", "path": "/spec/copy"},
        {"op": "move", "from": "/spec/copy", "path": "/spec/moved"},
        {"op": "remove", "path": "/metadata/labels/a"},
    ]
    assert patch.apply_json_patch(target, ops) == {
        "metadata": {"labels": {"b": "2"}},
        "spec": {"description": "e", "decrypters": ["x", "y"], "moved": "e"},
    }
    assert target == before


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/spec/description", "value": "other"}],
        [{"op": "replace", "path": "/spec/missing/deeper", "value": 1}],
        [{"op": "remove", "path": "/spec/missing"}],
        [{"op": "add", "path": "no-slash", "value": 1}],
        [{"op": "frobnicate", "path": "/spec"}],
        [{"path": "/spec"}],
        [{"op": "replace", "path": "", "value": ["not", "an", "object"]}],
    ],
)
def test_json_patch_failure_is_a_bare_422(ops: list) -> None:
    with pytest.raises(ApiError) as err:
        patch.apply_json_patch({"spec": {"description": "d"}}, ops)
    assert (err.value.code, err.value.reason) == (422, "Invalid")
    assert err.value.message == "the server rejected our request due to an error in our request"
    assert err.value.causes == [] and err.value.kind == "" and err.value.name == ""


def test_json_patch_operation_limit_is_413() -> None:
    ops = [{"op": "test", "path": "/a", "value": 1}] * 10001
    with pytest.raises(ApiError) as err:
        patch.apply_json_patch({"a": 1}, ops)
    assert (err.value.code, err.value.reason) == (413, "RequestEntityTooLarge")
    assert err.value.message == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    )
    assert patch.apply_json_patch({"a": 1}, ops[:10000]) == {"a": 1}


def test_yaml_errors_never_quote_the_body():
    secret = "TOPSECRET-VALUE-42"
    bodies = [
        f"spec:\n  value: {secret}\n  bad: [unclosed\n",
        f"spec: {{value: {secret}\n",
        f"a: b\n- {secret}\n",
        f"spec:\n\tvalue: {secret}\n",
    ]
    for body in bodies:
        with pytest.raises(ApiError) as info:
            patch.parse_patch_body(patch.APPLY_PATCH, body.encode())
        assert info.value.code == 400
        assert secret not in info.value.message
