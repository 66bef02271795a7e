"""SecureValue rules, with exact Kubernetes Status bodies, over real HTTP."""

from __future__ import annotations

import pytest
from core_support import assert_status, causes, state
from harness import secure_value

SV = "SecureValue.secret.grafana.app"
LABEL_VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.fixture(scope="module")
def srv(shared_server):
    return shared_server


def create(srv, body, **params):
    return srv.session.post(srv.sv_url(), json=body, params=params)


def test_every_cause_is_reported_together_in_one_status(srv):
    body = secure_value(
        "all-wrong",
        description="a description far too long!",
        value="v",
        ref="r",
        decrypters=["ok", "ok", "not ok", ""],
        keeper="elsewhere",
    )
    before = state(srv)
    response = create(srv, body)
    assert state(srv) == before
    expected_causes = [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 25 bytes",
            "field": "spec.description",
        },
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: only one of `value` or `ref` can be set",
            "field": "spec",
        },
        {
            "reason": "FieldValueDuplicate",
            "message": 'Duplicate value: "ok": decrypters must be unique',
            "field": "spec.decrypters[1]",
        },
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "not ok": {LABEL_VALUE_RULE}',
            "field": "spec.decrypters[2]",
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "": decrypters cannot be empty if specified',
            "field": "spec.decrypters[3]",
        },
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: \"elsewhere\": the keeper is chosen by the server; it would be 'system' "
            "(spec.keeper is only accepted from older clients when equal)",
            "field": "spec.keeper",
        },
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: a `ref` cannot be used with the system keeper",
            "field": "spec.ref",
        },
    ]
    summary = ", ".join(f"{c['field']}: {c['message']}" for c in expected_causes)
    assert response.status_code == 422
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "reason": "Invalid",
        "code": 422,
        "message": f'{SV} "all-wrong" is invalid: [{summary}]',
        "details": {
            "name": "all-wrong",
            "group": "secret.grafana.app",
            "kind": "SecureValue",
            "causes": expected_causes,
        },
    }


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"value": "v"}, [("spec.description", "FieldValueRequired", "Required value")]),
        (
            {"description": "d"},
            [("spec", "FieldValueRequired", "Required value: either a `value` or `ref` is required")],
        ),
        (
            {"description": "", "value": "v"},
            [
                (
                    "spec.description",
                    "FieldValueInvalid",
                    'Invalid value: "": spec.description in body should be at least 1 chars long',
                )
            ],
        ),
        (
            {"description": "d", "ref": "x" * 1025},
            [
                ("spec.ref", "FieldValueTooLong", "Too long: may not be more than 1024 bytes"),
                ("spec.ref", "FieldValueForbidden", "Forbidden: a `ref` cannot be used with the system keeper"),
            ],
        ),
        (
            {"description": "d", "ref": "arn:aws:secretsmanager:x"},
            [("spec.ref", "FieldValueForbidden", "Forbidden: a `ref` cannot be used with the system keeper")],
        ),
        (
            {"description": "d", "value": "v", "decrypters": [f"svc-{i}" for i in range(65)]},
            [("spec.decrypters", "FieldValueTooMany", "Too many: 65: must have at most 64 items")],
        ),
        (
            {"description": "d", "value": "v", "decrypters": ["x" * 64]},
            [
                (
                    "spec.decrypters[0]",
                    "FieldValueInvalid",
                    f'Invalid value: "{"x" * 64}": must be no more than 63 characters',
                )
            ],
        ),
        (
            {"description": "d", "value": "v", "decrypters": [" svc ", "svc"]},
            [("spec.decrypters[1]", "FieldValueDuplicate", 'Duplicate value: "svc": decrypters must be unique')],
        ),
        (
            {"description": "d", "value": "v", "decrypters": "svc"},
            [
                (
                    "spec.decrypters",
                    "FieldValueTypeInvalid",
                    'Invalid value: "string": spec.decrypters in body must be of type array: "string"',
                )
            ],
        ),
    ],
)
def test_secure_value_rules(srv, spec, expected):
    before = state(srv)
    response = create(
        srv,
        {
            "apiVersion": "secret.grafana.app/v1beta1",
            "kind": "SecureValue",
            "metadata": {"name": "rules"},
            "spec": spec,
        },
    )
    body = assert_status(response, 422, "Invalid")
    assert causes(body) == expected
    assert state(srv) == before


@pytest.mark.parametrize(
    "value, ok",
    [
        ("a" * 24576, True),
        ("a" * 24577, False),
        ("é" * 12288, True),
        ("é" * 12288 + "a", False),  # 2-byte runes: the limit is in bytes
        ("€" * 8192, True),
        ("€" * 8191 + "ab", True),
        ("€" * 8192 + "a", False),
        ("😀" * 6144, True),
        ("😀" * 6144 + "a", False),  # 4-byte runes
    ],
)
def test_value_limit_is_24576_bytes(srv, value, ok):
    name = f"limit-{len(value.encode())}-{len(value)}"
    response = create(srv, secure_value(name, value=value))
    if ok:
        assert response.status_code == 201, response.text
        assert "value" not in response.json()["spec"]
        assert srv.session.delete(srv.sv_url(name=name)).status_code == 200
    else:
        body = assert_status(response, 422, "Invalid")
        assert causes(body) == [("spec.value", "FieldValueTooLong", "Too long: may not be more than 24576 bytes")]
        assert value[:40] not in response.text


def test_description_counts_runes_not_bytes(srv):
    assert create(srv, secure_value("runes-25", description="é" * 25)).status_code == 201
    body = assert_status(create(srv, secure_value("runes-26", description="é" * 26)), 422, "Invalid")
    assert causes(body)[0][:2] == ("spec.description", "FieldValueTooLong")


def test_decrypters_are_trimmed_and_kept(srv):
    response = create(srv, secure_value("trimmed", decrypters=[" synthetic-monitoring ", "k6"]))
    assert response.status_code == 201, response.text
    assert response.json()["spec"]["decrypters"] == ["synthetic-monitoring", "k6"]
    decrypters = [f"svc-{i}" for i in range(64)]
    assert create(srv, secure_value("sixty-four", decrypters=decrypters)).json()["spec"]["decrypters"] == decrypters


def test_spec_keeper_from_older_clients_only_when_equal(srv):
    response = create(srv, secure_value("old-client", keeper="system"))
    assert response.status_code == 201, response.text
    assert "keeper" not in response.json()["spec"] and response.json()["status"]["keeper"] == "system"


def test_switching_between_value_and_ref_is_refused(srv):
    assert create(srv, secure_value("switch", value="first")).status_code == 201
    before = state(srv)
    response = srv.session.put(srv.sv_url(name="switch"), json=secure_value("switch", value=None, ref="r"))
    body = assert_status(response, 422, "Invalid")
    assert (
        "spec",
        "FieldValueForbidden",
        "Forbidden: cannot set `ref` when `value` was already previously set",
    ) in causes(body)
    response = srv.session.put(srv.sv_url(name="switch"), json=secure_value("switch", value="v", ref="r"))
    body = assert_status(response, 422, "Invalid")
    assert causes(body)[0] == ("spec", "FieldValueForbidden", "Forbidden: only one of `value` or `ref` can be set")
    response = srv.session.put(srv.sv_url(name="switch"), json=secure_value("switch", value=""))
    body = assert_status(response, 422, "Invalid")
    assert causes(body) == [
        ("spec.value", "FieldValueInvalid", "Invalid value: spec.value in body should be at least 1 chars long")
    ]
    assert state(srv) == before


def test_versions_generation_and_uid(srv):
    created = create(srv, secure_value("versions", value="one", labels={"a": "1"})).json()
    uid, rv = created["metadata"]["uid"], created["metadata"]["resourceVersion"]
    assert created["status"] == {"version": 1, "keeper": "system", "externalID": ""}
    assert created["metadata"]["generation"] == 1
    url = srv.sv_url(name="versions")

    # The same spec, the same value (compared after decryption), the same labels: nothing happens.
    same = srv.session.put(url, json=secure_value("versions", value="one", labels={"a": "1"})).json()
    assert (same["metadata"]["resourceVersion"], same["status"]["version"]) == (rv, 1)
    kept = srv.session.put(url, json=secure_value("versions", value=None, labels={"a": "1"})).json()
    assert (kept["metadata"]["resourceVersion"], kept["status"]["version"]) == (rv, 1)
    other_client = srv.session.put(
        url, json=secure_value("versions", value="one", labels={"a": "1"}), headers={"User-Agent": "kubectl/v1.32.0"}
    ).json()
    assert (other_client["metadata"]["resourceVersion"], other_client["status"]["version"]) == (rv, 1)

    new_value = srv.session.put(url, json=secure_value("versions", value="two", labels={"a": "1"})).json()
    assert new_value["status"]["version"] == 2 and new_value["metadata"]["generation"] == 2
    assert int(new_value["metadata"]["resourceVersion"]) > int(rv)

    relabel = srv.session.put(url, json=secure_value("versions", value=None, labels={"a": "2"})).json()
    assert relabel["status"]["version"] == 3 and relabel["metadata"]["generation"] == 2  # not a spec change

    described = srv.session.put(
        url, json=secure_value("versions", description="other", value=None, labels={"a": "2"})
    ).json()
    assert described["status"]["version"] == 4 and described["metadata"]["generation"] == 3
    for body in (same, kept, new_value, relabel, described):
        assert body["metadata"]["uid"] == uid
        assert body["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert srv.session.get(url).json() == described


def test_delete_answers_success_and_destroys_history(srv):
    created = create(srv, secure_value("doomed", value="v1")).json()
    srv.session.put(srv.sv_url(name="doomed"), json=secure_value("doomed", value="v2"))
    response = srv.session.delete(srv.sv_url(name="doomed"))
    assert response.status_code == 200
    assert response.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": "doomed",
            "group": "secret.grafana.app",
            "kind": "securevalues",
            "uid": created["metadata"]["uid"],
        },
    }
    assert_status(
        srv.session.get(srv.sv_url(name="doomed")),
        404,
        "NotFound",
        'securevalues.secret.grafana.app "doomed" not found',
    )
    assert_status(srv.session.delete(srv.sv_url(name="doomed")), 404, "NotFound")
    again = create(srv, secure_value("doomed", value="v3")).json()
    assert again["status"]["version"] == 1 and again["metadata"]["uid"] != created["metadata"]["uid"]


def test_missing_objects_are_404(srv):
    for method in ("GET", "PUT", "DELETE"):
        response = srv.session.request(method, srv.sv_url(name="never"), json=secure_value("never"))
        body = assert_status(response, 404, "NotFound", 'securevalues.secret.grafana.app "never" not found')
        assert body["details"] == {"name": "never", "group": "secret.grafana.app", "kind": "securevalues"}
