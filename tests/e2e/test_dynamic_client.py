"""The official Kubernetes Python client (`kubernetes.dynamic.DynamicClient`), unmodified, over TLS.

The client is configured from the kubeconfig `apiserver kubeconfig` prints, so the embedded
certificate is what verifies the server.
"""

from __future__ import annotations

import json

import pytest
from harness import files_containing
from kubectl_support import start_tls_server, unique, write_kubeconfig
from kubernetes import config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import BadRequestError, ConflictError, NotFoundError, UnprocessibleEntityError

API_VERSION = "secret.grafana.app/v1beta1"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_tls_server(tmp_path_factory.mktemp("dynamic") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(server, tmp_path_factory) -> DynamicClient:
    home = tmp_path_factory.mktemp("dynamic-client")
    api_client = config.new_client_from_config(config_file=str(write_kubeconfig(server, home / "kubeconfig")))
    return DynamicClient(api_client, cache_file=str(home / "discovery.json"))


@pytest.fixture(scope="module")
def sv(client):
    return client.resources.get(api_version=API_VERSION, kind="SecureValue")


@pytest.fixture
def ns(server) -> str:
    name = unique("dyn")
    server.create_namespace(name)
    return name


def body(
    name: str,
    *,
    description: str = "dynamic client",
    value: str | None = "dyn-secret",
    labels: dict | None = None,
    **spec,
) -> dict:
    return {
        "apiVersion": API_VERSION,
        "kind": "SecureValue",
        "metadata": {"name": name, **({"labels": labels} if labels else {})},
        "spec": {"description": description, **({"value": value} if value is not None else {}), **spec},
    }


def test_discovery_by_kind_and_short_name(client, sv):
    assert sv.name == "securevalues" and sv.namespaced and sv.short_names == ["sv"]
    assert client.resources.get(kind="SecureValue").group_version == API_VERSION  # walks /api/v1 as well
    assert client.resources.get(short_names=["sv"]).kind == "SecureValue"
    assert client.resources.get(api_version="v1", kind="Namespace").name == "namespaces"
    assert client.version["kubernetes"]["minor"] == "32"


def test_create_get_list_replace_delete(client, sv, server, ns):
    created = sv.create(body("one", labels={"app": "a"}, decrypters=["grafana"]), namespace=ns)
    assert created.metadata.name == "one" and created.status.version == 1
    assert "value" not in created.spec.to_dict()
    sv.create(body("two", labels={"app": "b"}), namespace=ns)
    assert sv.get(name="one", namespace=ns).spec.decrypters == ["grafana"]

    assert [i.metadata.name for i in sv.get(namespace=ns).items] == ["one", "two"]
    assert [i.metadata.name for i in sv.get(namespace=ns, label_selector="app=b").items] == ["two"]
    assert [i.metadata.name for i in sv.get(namespace=ns, field_selector="metadata.name=one").items] == ["one"]
    everywhere = sv.get(label_selector="app in (a,b)")  # no namespace: the cluster-wide path
    assert {(i.metadata.namespace, i.metadata.name) for i in everywhere.items} >= {(ns, "one"), (ns, "two")}

    current = sv.get(name="one", namespace=ns).to_dict()
    current["spec"]["description"] = "replaced"
    replaced = sv.replace(body=current, namespace=ns)
    assert replaced.spec.description == "replaced" and replaced.status.version == 2
    with pytest.raises(ConflictError) as stale:
        sv.replace(body=current, namespace=ns)  # the resourceVersion it carries is now stale
    assert json.loads(stale.value.body)["reason"] == "Conflict"

    deleted = sv.delete(name="one", namespace=ns)
    assert deleted.status == "Success" and deleted.details.uid == created.metadata.uid
    with pytest.raises(NotFoundError):
        sv.get(name="one", namespace=ns)
    assert files_containing(server.data_dir, b"dyn-secret") == []


def test_patch_merge_strategic_and_server_side_apply(sv, ns):
    sv.create(body("patched"), namespace=ns)
    merged = sv.patch(
        body={"metadata": {"labels": {"x": "1"}}},
        name="patched",
        namespace=ns,
        content_type="application/merge-patch+json",
    )
    assert merged.metadata.labels.x == "1"
    strategic = sv.patch(
        body={"spec": {"decrypters": ["a"], "$retainKeys": ["decrypters"]}}, name="patched", namespace=ns
    )  # the client's default content type
    assert strategic.spec.decrypters == ["a"]

    applied = sv.server_side_apply(
        body=body("applied", value="ssa-dyn-value"), namespace=ns, field_manager="python-app"
    )
    assert applied.status.version == 1
    assert [(m.manager, m.operation) for m in applied.metadata.managedFields] == [("python-app", "Apply")]
    with pytest.raises(ConflictError) as conflict:
        sv.server_side_apply(
            body=body("applied", description="other", value=None), namespace=ns, field_manager="other-app"
        )
    causes = json.loads(conflict.value.body)["details"]["causes"]
    assert causes == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "python-app"', "field": ".spec.description"}
    ]
    forced = sv.server_side_apply(
        body=body("applied", description="other", value=None),
        namespace=ns,
        field_manager="other-app",
        force_conflicts=True,
    )
    assert forced.spec.description == "other" and forced.status.version == 2


def test_watch_with_timeout(sv, ns):
    sv.create(body("w1"), namespace=ns)
    events = [(e["type"], e["object"].metadata.name) for e in sv.watch(namespace=ns, timeout=1)]
    assert events == [("ADDED", "w1")]
    latest = sv.get(namespace=ns).metadata.resourceVersion
    sv.patch(
        body={"spec": {"description": "changed"}}, name="w1", namespace=ns, content_type="application/merge-patch+json"
    )
    events = [
        (e["type"], e["object"].spec.description) for e in sv.watch(namespace=ns, resource_version=latest, timeout=1)
    ]
    assert events == [("MODIFIED", "changed")]
    named = [e["object"].metadata.name for e in sv.watch(namespace=ns, name="w1", timeout=1)]
    assert named == ["w1"]


def test_dry_run_on_every_write_persists_nothing(sv, server, ns):
    dry = {"dry_run": "All"}
    created = sv.create(body("dry", value="dry-run-only-value"), namespace=ns, **dry)
    assert created.metadata.name == "dry" and created.metadata.uid
    with pytest.raises(NotFoundError):
        sv.get(name="dry", namespace=ns)
    real = sv.create(body("real"), namespace=ns)
    rv = real.metadata.resourceVersion
    current = real.to_dict()
    current["spec"]["description"] = "not stored"
    assert sv.replace(body=current, namespace=ns, **dry).spec.description == "not stored"
    assert (
        sv.patch(
            body={"spec": {"description": "nor this"}},
            name="real",
            namespace=ns,
            content_type="application/merge-patch+json",
            **dry,
        ).spec.description
        == "nor this"
    )
    applied = sv.server_side_apply(
        body=body("real", description="applied dry", value=None),
        namespace=ns,
        field_manager="dry",
        force_conflicts=True,
        **dry,
    )
    assert applied.spec.description == "applied dry"
    assert sv.delete(name="real", namespace=ns, **dry).status == "Success"
    still = sv.get(name="real", namespace=ns)
    assert still.metadata.resourceVersion == rv and still.spec.description == "dynamic client"
    with pytest.raises(UnprocessibleEntityError):  # dry runs validate fully
        sv.create(body("bad-dry", description=""), namespace=ns, **dry)
    assert files_containing(server.data_dir, b"dry-run-only-value") == []


def test_field_validation_on_every_write(sv, ns):
    sv.create(body("fv"), namespace=ns)
    unknown = body("fv-new")
    unknown["spec"]["colour"] = "blue"
    for mode, ok in (("Strict", False), ("Warn", True), ("Ignore", True)):
        params = {"query_params": [("fieldValidation", mode)]}
        name = f"fv-{mode.lower()}"
        attempts = [
            lambda: sv.create(body=dict(unknown, metadata={"name": name}), namespace=ns, **params),
            lambda: sv.replace(body={**sv.get(name="fv", namespace=ns).to_dict(), "extra": 1}, namespace=ns, **params),
            lambda: sv.patch(
                body={"spec": {"colour": "red"}},
                name="fv",
                namespace=ns,
                content_type="application/merge-patch+json",
                **params,
            ),
            lambda: sv.server_side_apply(
                body={**body("fv", value=None), "spec": {"description": "x", "size": 1}},
                namespace=ns,
                field_manager="fv",
                force_conflicts=True,
                **params,
            ),
        ]
        for attempt in attempts:
            if ok:
                result = attempt().to_dict()
                assert "colour" not in result["spec"] and "extra" not in result and "size" not in result["spec"]
            else:
                with pytest.raises(BadRequestError) as error:
                    attempt()
                assert error.value.status == 400
                assert "strict decoding error: unknown field" in json.loads(error.value.body)["message"]


def test_delete_collection_with_selectors(sv, server, ns):
    for name, app in (("c1", "x"), ("c2", "x"), ("c3", "y")):
        sv.create(body(name, labels={"app": app}), namespace=ns)
    deleted = sv.delete(namespace=ns, label_selector="app=x")
    assert deleted.kind == "SecureValueList" and sorted(i.metadata.name for i in deleted.items) == ["c1", "c2"]
    assert [i.metadata.name for i in sv.get(namespace=ns).items] == ["c3"]
    sv.delete(namespace=ns, field_selector="metadata.name=c3")
    assert sv.get(namespace=ns).items == []


def test_delete_preconditions(sv, ns):
    obj = sv.create(body("pre"), namespace=ns)
    for precondition in ({"uid": "00000000-0000-0000-0000-000000000000"}, {"resourceVersion": "1"}):
        with pytest.raises(ConflictError) as error:
            sv.delete(name="pre", namespace=ns, body={"preconditions": precondition})
        assert "Precondition failed" in json.loads(error.value.body)["message"]
    ok = {"uid": obj.metadata.uid, "resourceVersion": obj.metadata.resourceVersion}
    assert sv.delete(name="pre", namespace=ns, body={"preconditions": ok}).status == "Success"


def test_an_idle_watch_keeps_alive_without_odd_events(sv, ns):
    """An idle watch receives a keep-alive space every 10 s: the client must see only real events."""
    import threading
    import time

    latest = sv.get(namespace=ns).metadata.resourceVersion
    later = threading.Timer(11.5, lambda: sv.create(body("late"), namespace=ns))
    later.start()
    try:
        started = time.monotonic()
        events = [
            (e["type"], e["object"].metadata.name) for e in sv.watch(namespace=ns, resource_version=latest, timeout=13)
        ]
    finally:
        later.join()
    assert events == [("ADDED", "late")]
    assert time.monotonic() - started > 11
