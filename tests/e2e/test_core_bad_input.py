"""Limits and bad input. Each is refused in the Status dialect and writes nothing."""

from __future__ import annotations

import json

import pytest
from core_support import assert_status, causes, state
from harness import secure_value

SV = "SecureValue.secret.grafana.app"
NAME_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.fixture(scope="module")
def srv(shared_server):
    created = shared_server.session.post(shared_server.sv_url(), json=secure_value("existing", value="bad-input-v"))
    assert created.status_code == 201, created.text
    return shared_server


def _body(**meta) -> bytes:
    return json.dumps(
        {
            "apiVersion": "secret.grafana.app/v1beta1",
            "kind": "SecureValue",
            "metadata": meta,
            "spec": {"description": "d", "value": "v"},
        }
    ).encode()


# "Billion laughs": 9 levels of 9 aliases each, a few hundred bytes that expand to 9**9 strings.
LAUGHS = b"a0: &a0 [lol]\n" + b"".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n".encode() for i in range(1, 10)
)

# (id, method, on the item "existing"?, body, content type, query, code, reason, exact message or None)
BAD = [
    (
        "too-large-post",
        "POST",
        False,
        b"{" + b" " * (3 * 1024 * 1024) + b"}",
        "application/json",
        "",
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    ),
    (
        "too-large-put",
        "PUT",
        True,
        b"x" * (3 * 1024 * 1024 + 1),
        "application/json",
        "",
        413,
        "RequestEntityTooLarge",
        None,
    ),
    ("json-undecodable", "POST", False, b'{"metadata":', "application/json", "", 400, "BadRequest", None),
    ("json-not-utf8", "POST", False, b'{"metadata":{"name":"\xff"}}', "application/json", "", 400, "BadRequest", None),
    ("json-empty", "POST", False, b"", "application/json", "", 400, "BadRequest", "the request body is empty"),
    ("yaml-undecodable", "POST", False, b"metadata: [\n", "application/yaml", "", 400, "BadRequest", None),
    (
        "yaml-two-documents",
        "POST",
        False,
        b"a: 1\n---\nb: 2\n",
        "application/yaml",
        "",
        400,
        "BadRequest",
        "the request body must hold exactly one YAML document",
    ),
    (
        "yaml-python-tag",
        "POST",
        False,
        b"!!python/object/apply:os.system ['true']\n",
        "application/yaml",
        "",
        400,
        "BadRequest",
        None,
    ),
    (
        "yaml-alias-bomb",
        "POST",
        False,
        LAUGHS,
        "application/yaml",
        "",
        400,
        "BadRequest",
        "the request body is not valid YAML: YAML aliases are not accepted",
    ),
    (
        "yaml-recursive-alias",
        "POST",
        False,
        b"metadata: &a [*a, *a]\n",
        "application/yaml",
        "",
        400,
        "BadRequest",
        "the request body is not valid YAML: YAML aliases are not accepted",
    ),
    (
        "json-nested-too-deep",
        "POST",
        False,
        b'{"spec":' * 150 + b"1" + b"}" * 150,
        "application/json",
        "",
        400,
        "BadRequest",
        "the request body is nested more than 100 levels deep",
    ),
    (
        "json-array",
        "POST",
        False,
        b"[1, 2]",
        "application/json",
        "",
        400,
        "BadRequest",
        "the body of the request must be a SecureValue object",
    ),
    (
        "json-number",
        "POST",
        False,
        b"42",
        "application/json",
        "",
        400,
        "BadRequest",
        "the body of the request must be a SecureValue object",
    ),
    (
        "json-string",
        "POST",
        False,
        b'"a string"',
        "application/json",
        "",
        400,
        "BadRequest",
        "the body of the request must be a SecureValue object",
    ),
    (
        "json-null",
        "PUT",
        True,
        b"null",
        "application/json",
        "",
        400,
        "BadRequest",
        "the body of the request must be a SecureValue object",
    ),
    (
        "yaml-scalar",
        "POST",
        False,
        b"just text\n",
        "application/yaml",
        "",
        400,
        "BadRequest",
        "the body of the request must be a SecureValue object",
    ),
    (
        "metadata-not-object",
        "POST",
        False,
        b'{"metadata":"x","spec":{"description":"d","value":"v"}}',
        "application/json",
        "",
        400,
        "BadRequest",
        "metadata must be an object",
    ),
    (
        "strict-unknown-field",
        "POST",
        False,
        b'{"metadata":{"name":"strict"},"spec":{"description":"d","value":"v","foo":1}}',
        "application/json",
        "fieldValidation=Strict",
        400,
        "BadRequest",
        'strict decoding error: unknown field "spec.foo"',
    ),
    (
        "strict-unknown-fields-put",
        "PUT",
        True,
        b'{"metadata":{"name":"existing"},"spec":{"description":"d","foo":1},"bar":2}',
        "application/json",
        "fieldValidation=Strict",
        400,
        "BadRequest",
        'strict decoding error: unknown field "spec.foo", unknown field "bar"',
    ),
    (
        "field-validation-unsupported",
        "POST",
        False,
        _body(name="fv"),
        "application/json",
        "fieldValidation=Loud",
        400,
        "BadRequest",
        'fieldValidation: Unsupported value: "Loud": supported values: "Ignore", "Strict", "Warn"',
    ),
    (
        "wrong-api-version",
        "POST",
        False,
        b'{"apiVersion":"secret.grafana.app/v1","kind":"SecureValue","metadata":{"name":"wv"},'
        b'"spec":{"description":"d","value":"v"}}',
        "application/json",
        "",
        400,
        "BadRequest",
        "the API version in the data (secret.grafana.app/v1) does not match the expected API version "
        "(secret.grafana.app/v1beta1)",
    ),
    (
        "wrong-kind",
        "PUT",
        True,
        b'{"apiVersion":"secret.grafana.app/v1beta1","kind":"Keeper","metadata":{"name":"existing"},'
        b'"spec":{"description":"d"}}',
        "application/json",
        "",
        400,
        "BadRequest",
        "the kind in the data (Keeper) does not match the expected kind (SecureValue)",
    ),
    (
        "namespace-mismatch",
        "POST",
        False,
        _body(name="nsm", namespace="other"),
        "application/json",
        "",
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
    ),
    (
        "namespace-mismatch-put",
        "PUT",
        True,
        _body(name="existing", namespace="other"),
        "application/json",
        "",
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
    ),
    (
        "name-mismatch",
        "PUT",
        True,
        _body(name="other"),
        "application/json",
        "",
        400,
        "BadRequest",
        "the name of the object (other) does not match the name on the URL (existing)",
    ),
    (
        "labels-not-strings",
        "POST",
        False,
        _body(name="lbl", labels={"team": 5}),
        "application/json",
        "",
        422,
        "Invalid",
        None,
    ),
    ("labels-not-object", "POST", False, _body(name="lbl", labels=["a"]), "application/json", "", 422, "Invalid", None),
    (
        "label-key-invalid",
        "POST",
        False,
        _body(name="lbl", labels={"-bad": "x"}),
        "application/json",
        "",
        422,
        "Invalid",
        None,
    ),
    (
        "label-value-invalid",
        "POST",
        False,
        _body(name="lbl", labels={"ok": "not ok"}),
        "application/json",
        "",
        422,
        "Invalid",
        None,
    ),
    (
        "annotation-key-invalid",
        "POST",
        False,
        _body(name="ann", annotations={"a/b/c": "x"}),
        "application/json",
        "",
        422,
        "Invalid",
        None,
    ),
    (
        "name-invalid",
        "POST",
        False,
        _body(name="Not_A_Name"),
        "application/json",
        "",
        422,
        "Invalid",
        f'{SV} "Not_A_Name" is invalid: metadata.name: Invalid value: "Not_A_Name": {NAME_RULE}',
    ),
    ("name-too-long", "POST", False, _body(name="a" * 254), "application/json", "", 422, "Invalid", None),
    (
        "name-not-string",
        "POST",
        False,
        _body(name=7),
        "application/json",
        "",
        400,
        "BadRequest",
        "metadata.name: must be a string",
    ),
    (
        "resource-version-not-string",
        "PUT",
        True,
        _body(name="existing", resourceVersion=1),
        "application/json",
        "",
        400,
        "BadRequest",
        "metadata.resourceVersion: must be a string",
    ),
    ("generate-name-invalid", "POST", False, _body(generateName="Bad_"), "application/json", "", 422, "Invalid", None),
    (
        "yaml-bad-kind",
        "POST",
        False,
        b"apiVersion: secret.grafana.app/v1beta1\nkind: Secret\nmetadata: {name: y}\n",
        "application/yaml",
        "",
        400,
        "BadRequest",
        None,
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_refused_and_writes_nothing(srv, case):
    _, method, on_item, body, content_type, query, code, reason, message = case
    before = state(srv)
    url = srv.sv_url(name="existing" if on_item else "") + (f"?{query}" if query else "")
    response = srv.session.request(method, url, data=body, headers={"Content-Type": content_type})
    assert_status(response, code, reason, message)
    assert state(srv) == before


def test_invalid_label_and_generate_name_causes(srv):
    response = srv.session.post(
        srv.sv_url(), data=_body(name="lbl", labels={"team": 5}), headers={"Content-Type": "application/json"}
    )
    body = assert_status(response, 422, "Invalid")
    # Reported once, though both the schema and the label rules look at it.
    assert [c[:2] for c in causes(body)] == [("metadata.labels[team]", "FieldValueTypeInvalid")]
    response = srv.session.post(
        srv.sv_url(), data=_body(generateName="Bad_"), headers={"Content-Type": "application/json"}
    )
    body = assert_status(response, 422, "Invalid")
    fields = [c[0] for c in causes(body)]
    assert fields[0] == "metadata.generateName" and "metadata.name" in fields
    assert causes(body)[0][2] == f'Invalid value: "Bad_": {NAME_RULE}'


def test_warn_is_the_default_and_reports_unknown_fields(srv):
    body = secure_value("warned", value="w")
    body["spec"]["foo"] = 1
    response = srv.session.post(srv.sv_url(), json=body)
    assert response.status_code == 201, response.text
    assert response.headers["Warning"] == '299 - "unknown field \\"spec.foo\\""'
    assert "foo" not in srv.session.get(srv.sv_url(name="warned")).json()["spec"]
    body["metadata"]["name"] = "warned-explicit"
    response = srv.session.post(srv.sv_url() + "?fieldValidation=Warn", json=body)
    assert response.headers["Warning"] == '299 - "unknown field \\"spec.foo\\""'
    body["metadata"]["name"] = "warned"
    response = srv.session.put(srv.sv_url(name="warned"), json=body)
    assert response.status_code == 200 and response.headers["Warning"] == '299 - "unknown field \\"spec.foo\\""'


def test_ignore_drops_unknown_fields_silently(srv):
    body = secure_value("ignored", value="i")
    body["spec"]["foo"] = 1
    body["extra"] = {"x": 1}
    response = srv.session.post(srv.sv_url() + "?fieldValidation=Ignore", json=body)
    assert response.status_code == 201, response.text
    assert "Warning" not in response.headers
    stored = srv.session.get(srv.sv_url(name="ignored")).json()
    assert "foo" not in stored["spec"] and "extra" not in stored
