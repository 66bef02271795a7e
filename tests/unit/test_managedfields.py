"""Server-side apply and managedFields bookkeeping (a compact structured-merge-diff)."""

from __future__ import annotations

import copy
import json

import pytest

from apiserver.machinery import managedfields as mf
from apiserver.machinery.errors import ApiError

GV = "secret.grafana.app/v1beta1"
T0, T1, T2 = "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"


def config(description: str = "d", labels: dict | None = None, **spec) -> dict:
    obj = {
        "apiVersion": GV,
        "kind": "SecureValue",
        "metadata": {"name": "foo", "namespace": "default"},
        "spec": {"description": description, **spec},
    }
    if labels is not None:
        obj["metadata"]["labels"] = labels
    return obj


def stored(obj: dict, managed: list[dict]) -> dict:
    """What the registry would persist: server metadata plus the managedFields."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update(uid="u1", resourceVersion="5", creationTimestamp=T0, managedFields=managed)
    obj["status"] = {"phase": "Succeeded"}
    return obj


def entry(result_managed: list[dict], manager: str, operation: str | None = None) -> dict:
    found = [e for e in result_managed if e["manager"] == manager and operation in (None, e["operation"])]
    assert len(found) == 1, result_managed
    return found[0]


def test_field_set_and_fields_v1_round_trip() -> None:
    obj = stored(config(labels={"app": "web"}, decrypters=["a"], empty={}, nothing=None), [])
    paths = mf.field_set(obj)
    assert paths == {
        ("metadata", "labels", "app"),
        ("spec", "description"),
        ("spec", "decrypters"),
        ("spec", "empty"),
        ("spec", "nothing"),
    }
    encoded = mf.encode_fields_v1(paths | {("spec",)})
    assert encoded == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {".": {}, "f:decrypters": {}, "f:description": {}, "f:empty": {}, "f:nothing": {}},
    }
    assert list(encoded["f:spec"])[0] == "."
    assert mf.decode_fields_v1(encoded) == paths | {("spec",)}


def test_record_update_on_create_and_update() -> None:
    obj = stored(config(labels={"app": "web"}), [])
    managed = mf.record_update(None, obj, "kubectl-create", api_version=GV, now=T0)
    assert managed == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": GV,
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {".": {}, "f:description": {}}},
        }
    ]
    live = stored(config(labels={"app": "web"}), managed)
    new = copy.deepcopy(live)
    new["spec"]["description"] = "edited"
    new["metadata"]["labels"]["tier"] = "db"
    after = mf.record_update(live, new, "kubectl-edit", api_version=GV, now=T1)
    assert entry(after, "kubectl-create")["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {},
    }  # still owns the map itself
    assert entry(after, "kubectl-create")["time"] == T0
    assert entry(after, "kubectl-edit")["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:tier": {}}},
        "f:spec": {"f:description": {}},
    }
    # A write that changes nothing leaves managedFields (and times) alone.
    assert mf.record_update(live, copy.deepcopy(live), "other", api_version=GV, now=T2) == managed


def test_record_update_honours_managed_fields_set_by_the_request() -> None:
    live = stored(config(), mf.record_update(None, stored(config(), []), "a", api_version=GV, now=T0))
    reset = copy.deepcopy(live)
    reset["metadata"]["managedFields"] = []
    assert mf.record_update(live, reset, "b", api_version=GV, now=T1) == []
    replaced = copy.deepcopy(live)
    replaced["metadata"]["managedFields"] = [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": GV,
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:description": {}}},
        }
    ]
    assert mf.record_update(live, replaced, "b", api_version=GV, now=T1) == replaced["metadata"]["managedFields"]
    garbage = copy.deepcopy(live)
    garbage["metadata"]["managedFields"] = [{"operation": "Bogus"}]
    assert mf.record_update(live, garbage, "b", api_version=GV, now=T1) == live["metadata"]["managedFields"]


def test_apply_creates_and_reapply_is_idempotent() -> None:
    applied = config(labels={"app": "web"}, decrypters=["x"])
    before = copy.deepcopy(applied)
    first = mf.server_side_apply(None, applied, "kubectl", force=False, api_version=GV, now=T0)
    assert applied == before
    assert first.obj["spec"] == {"description": "d", "decrypters": ["x"]}
    assert first.managed_fields == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": GV,
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:decrypters": {}, "f:description": {}},
            },
        }
    ]
    assert first.obj["metadata"]["managedFields"] == first.managed_fields
    live = stored(first.obj, first.managed_fields)
    second = mf.server_side_apply(live, applied, "kubectl", force=False, api_version=GV, now=T1)
    assert second.managed_fields == first.managed_fields  # time kept: nothing changed
    assert second.obj == live


def csa_live(description: str, last_applied: str | None = None) -> dict:
    """An object last written by kubectl's client-side apply (an Update manager)."""
    obj = config(description)
    if last_applied is not None:
        obj["metadata"]["annotations"] = {mf.LAST_APPLIED: last_applied}
    managed = mf.record_update(None, stored(obj, []), "kubectl-client-side-apply", api_version=GV, now=T0)
    return stored(obj, managed)


def test_conflict_with_client_side_apply_manager() -> None:
    live = csa_live("a")
    with pytest.raises(ApiError) as err:
        mf.server_side_apply(live, config("b"), "kubectl", force=False, api_version=GV, now=T1)
    exc = err.value
    assert (exc.code, exc.reason) == (409, "Conflict")
    assert exc.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using '
        "secret.grafana.app/v1beta1: .spec.description"
    )
    assert [(c.reason, c.message, c.field) for c in exc.causes] == [
        (
            "FieldManagerConflict",
            'conflict with "kubectl-client-side-apply" using secret.grafana.app/v1beta1',
            ".spec.description",
        )
    ]


def test_several_conflicts_are_listed_per_manager() -> None:
    live = csa_live("a")
    live["spec"]["keeper"] = "k1"
    live["metadata"]["managedFields"].append(
        {
            "manager": "helm",
            "operation": "Apply",
            "apiVersion": GV,
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:keeper": {}}},
        }
    )
    with pytest.raises(ApiError) as err:
        mf.server_side_apply(live, config("b", keeper="k2"), "python", force=False, api_version=GV, now=T1)
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "helm":\n- .spec.keeper\n'
        'conflicts with "kubectl-client-side-apply" using secret.grafana.app/v1beta1:\n'
        "- .spec.description"
    )
    assert [c.field for c in err.value.causes] == [".spec.keeper", ".spec.description"]


def test_force_takes_ownership() -> None:
    live = csa_live("a")
    result = mf.server_side_apply(live, config("b"), "kubectl", force=True, api_version=GV, now=T1)
    assert result.obj["spec"]["description"] == "b"
    assert result.obj["status"] == {"phase": "Succeeded"}
    csa = entry(result.managed_fields, "kubectl-client-side-apply")
    assert csa["fieldsV1"] == {"f:spec": {}} and csa["time"] == T0
    applier = entry(result.managed_fields, "kubectl", "Apply")
    assert applier["fieldsV1"] == {"f:spec": {"f:description": {}}} and applier["time"] == T1
    assert [e["operation"] for e in result.managed_fields] == ["Apply", "Update"]


def test_kubectl_may_take_over_fields_matching_the_last_applied_annotation() -> None:
    last = json.dumps(config("a"))
    live = csa_live("a", last_applied=last)
    result = mf.server_side_apply(live, config("b"), "kubectl", force=False, api_version=GV, now=T1)
    assert result.obj["spec"]["description"] == "b"
    # ...and the annotation is kept in step with what kubectl applied.
    assert json.loads(result.obj["metadata"]["annotations"][mf.LAST_APPLIED])["spec"] == {"description": "b"}
    # Someone else changed the field since: a real conflict, even for kubectl.
    edited = csa_live("edited", last_applied=last)
    with pytest.raises(ApiError):
        mf.server_side_apply(edited, config("b"), "kubectl", force=False, api_version=GV, now=T1)
    # Other managers never get the client-side-apply escape hatch.
    with pytest.raises(ApiError):
        mf.server_side_apply(live, config("b"), "python", force=False, api_version=GV, now=T1)


def test_same_value_is_shared_without_conflict() -> None:
    live = csa_live("a")
    result = mf.server_side_apply(live, config("a"), "kubectl", force=False, api_version=GV, now=T1)
    assert result.obj == {**live, "metadata": {**live["metadata"], "managedFields": result.managed_fields}}
    assert ("spec", "description") in mf.decode_fields_v1(entry(result.managed_fields, "kubectl")["fieldsV1"])
    assert ("spec", "description") in mf.decode_fields_v1(
        entry(result.managed_fields, "kubectl-client-side-apply")["fieldsV1"]
    )


def test_fields_no_longer_applied_are_removed_unless_owned_elsewhere() -> None:
    first = mf.server_side_apply(
        None, config(labels={"app": "web", "tier": "db"}, keeper="k"), "kubectl", force=False, api_version=GV, now=T0
    )
    live = stored(first.obj, first.managed_fields)
    result = mf.server_side_apply(live, config(labels={"app": "web"}), "kubectl", force=False, api_version=GV, now=T1)
    assert result.obj["metadata"]["labels"] == {"app": "web"}
    assert "keeper" not in result.obj["spec"]
    assert result.obj["status"] == {"phase": "Succeeded"}  # not applied, not touched
    assert entry(result.managed_fields, "kubectl")["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:description": {}},
    }
    assert entry(result.managed_fields, "kubectl")["time"] == T1
    # A field another applier also owns survives when one of them stops applying it.
    shared = mf.server_side_apply(
        live, config(labels={"app": "web", "tier": "db"}, keeper="k"), "other", force=False, api_version=GV, now=T1
    )
    live2 = stored(shared.obj, shared.managed_fields)
    result2 = mf.server_side_apply(live2, config(labels={"app": "web"}), "kubectl", force=False, api_version=GV, now=T2)
    assert result2.obj["metadata"]["labels"] == {"app": "web", "tier": "db"}
    assert result2.obj["spec"]["keeper"] == "k"
    # Dropping every label removes the whole map.
    result3 = mf.server_side_apply(live, config(), "kubectl", force=False, api_version=GV, now=T1)
    assert "labels" not in result3.obj["metadata"]


def test_two_appliers_own_different_labels() -> None:
    first = mf.server_side_apply(None, config(labels={"a": "1"}), "one", force=False, api_version=GV, now=T0)
    live = stored(first.obj, first.managed_fields)
    second = mf.server_side_apply(
        live,
        {"apiVersion": GV, "kind": "SecureValue", "metadata": {"name": "foo", "labels": {"b": "2"}}},
        "two",
        force=False,
        api_version=GV,
        now=T1,
    )
    assert second.obj["metadata"]["labels"] == {"a": "1", "b": "2"}
    assert entry(second.managed_fields, "one")["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:a": {}}},
        "f:spec": {"f:description": {}},
    }
    assert entry(second.managed_fields, "two")["fieldsV1"] == {"f:metadata": {"f:labels": {"f:b": {}}}}
    # "one" changing its own label does not conflict with "two".
    live2 = stored(second.obj, second.managed_fields)
    third = mf.server_side_apply(live2, config(labels={"a": "changed"}), "one", force=False, api_version=GV, now=T2)
    assert third.obj["metadata"]["labels"] == {"a": "changed", "b": "2"}
    # ...but touching the other's label does.
    with pytest.raises(ApiError) as err:
        mf.server_side_apply(live2, config(labels={"a": "1", "b": "3"}), "one", force=False, api_version=GV, now=T2)
    assert err.value.message == 'Apply failed with 1 conflict: conflict with "two": .metadata.labels.b'


def test_update_after_apply_takes_changed_fields() -> None:
    first = mf.server_side_apply(None, config(labels={"a": "1"}), "kubectl", force=False, api_version=GV, now=T0)
    live = stored(first.obj, first.managed_fields)
    new = copy.deepcopy(live)
    new["spec"]["description"] = "patched"
    managed = mf.record_update(live, new, "kubectl-patch", api_version=GV, now=T1)
    assert entry(managed, "kubectl")["fieldsV1"] == {"f:metadata": {"f:labels": {"f:a": {}}}}
    assert entry(managed, "kubectl-patch")["fieldsV1"] == {"f:spec": {"f:description": {}}}


def test_apply_to_an_object_without_managed_fields() -> None:
    live = stored(config("a"), [])
    del live["metadata"]["managedFields"]
    with pytest.raises(ApiError) as err:
        mf.server_side_apply(live, config("b"), "python", force=False, api_version=GV, now=T1)
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "before-first-apply" using '
        "secret.grafana.app/v1beta1: .spec.description"
    )
    same = mf.server_side_apply(live, config("a"), "python", force=False, api_version=GV, now=T1)
    assert {e["manager"] for e in same.managed_fields} == {"python", "before-first-apply"}


def test_apply_validates_the_configuration() -> None:
    with pytest.raises(ApiError) as err:
        mf.server_side_apply(None, {**config(), "apiVersion": "v1"}, "m", force=False, api_version=GV, now=T0)
    assert (err.value.code, err.value.message) == (
        400,
        "Incorrect version specified in apply patch. Specified patch version: v1, expected: " + GV,
    )
    bad = config()
    bad["metadata"]["managedFields"] = []
    with pytest.raises(ApiError) as err:
        mf.server_side_apply(None, bad, "m", force=False, api_version=GV, now=T0)
    assert (err.value.code, err.value.message) == (400, "metadata.managedFields must be nil")


def test_apply_ignores_status_and_does_not_mutate_live() -> None:
    live = csa_live("a")
    before = copy.deepcopy(live)
    result = mf.server_side_apply(
        live, {**config("a", keeper="k"), "status": {"phase": "Failed"}}, "m", force=False, api_version=GV, now=T1
    )
    assert live == before
    assert result.obj["status"] == {"phase": "Succeeded"}
    result.obj["status"]["phase"] = "x"
    assert live["status"] == {"phase": "Succeeded"}
