"""kubectl apply, client-side and server-side, and the example manifests, against one TLS server."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from harness import files_containing
from kubectl_support import GROUP_VERSION, keeper_manifest, kubectl, manifest, ns, secure_value_manifest, server, unique  # noqa: F401 (pytest fixtures)

SV = "securevalue.secret.grafana.app"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
SERVED = {(GROUP_VERSION, "SecureValue"), (GROUP_VERSION, "Keeper"), ("v1", "Namespace")}


def test_apply_keeper_twice_created_then_unchanged(kubectl, server, ns, tmp_path):
    path = tmp_path / "keeper.yaml"
    path.write_text(manifest(keeper_manifest("aws-main")))
    assert kubectl.ok("apply", "-f", str(path), "-n", ns).strip() == "keeper.secret.grafana.app/aws-main created"
    before = server.session.get(server.keeper_url(ns, "aws-main")).json()
    assert kubectl.ok("apply", "-f", str(path), "-n", ns).strip() == "keeper.secret.grafana.app/aws-main unchanged"
    after = server.session.get(server.keeper_url(ns, "aws-main")).json()
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    table = kubectl.ok("get", "keepers", "-n", ns).splitlines()
    assert table[0].split() == ["NAME", "DESCRIPTION", "TYPE", "ACTIVE", "HEALTH", "AGE"]
    assert table[1].split()[:6] == ["aws-main", "AWS", "keeper", "aws", "false", "Unchecked"]


def test_apply_secure_value_twice_keeps_version(kubectl, server, ns, tmp_path):
    value = "apply-plaintext-" + unique("v")
    path = tmp_path / "sv.yaml"
    path.write_text(
        manifest(
            secure_value_manifest(
                "applied", description="applied twice", value=value, decrypters=["synthetic-monitoring"]
            )
        )
    )
    assert kubectl.ok("apply", "-f", str(path), "-n", ns).strip() == f"{SV}/applied created"
    first = server.session.get(server.sv_url(ns, "applied")).json()
    # The value is write-only, so kubectl's three-way diff always sends it: "configured". The server
    # compares it with the stored value after decryption and writes nothing.
    assert kubectl.ok("apply", "-f", str(path), "-n", ns).strip() == f"{SV}/applied configured"
    second = server.session.get(server.sv_url(ns, "applied")).json()
    assert second["status"]["version"] == first["status"]["version"] == 1
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]

    last_applied = json.loads(second["metadata"]["annotations"][LAST_APPLIED])
    assert last_applied["spec"] == {"decrypters": ["synthetic-monitoring"], "description": "applied twice"}
    assert value not in json.dumps(second)
    assert files_containing(server.data_dir, value.encode()) == []

    # A changed value is a real change: a new version.
    path.write_text(
        manifest(
            secure_value_manifest(
                "applied", description="applied twice", value=value + "-2", decrypters=["synthetic-monitoring"]
            )
        )
    )
    assert kubectl.ok("apply", "-f", str(path), "-n", ns).strip() == f"{SV}/applied configured"
    third = server.session.get(server.sv_url(ns, "applied")).json()
    assert third["status"]["version"] == 2
    assert files_containing(server.data_dir, (value + "-2").encode()) == []


def test_apply_server_side_conflict_and_force(kubectl, server, ns, tmp_path):
    path = tmp_path / "ssa.yaml"
    path.write_text(manifest(secure_value_manifest("ssa", description="server side", value="ssa-plaintext-1")))
    out = kubectl.ok("apply", "--server-side", "-f", str(path), "-n", ns)
    assert out.strip() == f"{SV}/ssa serverside-applied"
    got = server.session.get(server.sv_url(ns, "ssa")).json()
    entries = got["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"]) for e in entries] == [("kubectl", "Apply")]
    assert entries[0]["fieldsV1"] == {"f:spec": {"f:description": {}}}  # the write-only value owns no field
    assert kubectl.ok("apply", "--server-side", "-f", str(path), "-n", ns).strip() == f"{SV}/ssa serverside-applied"
    again = server.session.get(server.sv_url(ns, "ssa")).json()
    assert again["metadata"]["resourceVersion"] == got["metadata"]["resourceVersion"]

    kubectl.ok("patch", "sv", "ssa", "-n", ns, "--type=merge", "-p", '{"spec":{"description":"taken over"}}')
    error = kubectl.fails("apply", "--server-side", "-f", str(path), "-n", ns)
    assert (
        'error: Apply failed with 1 conflict: conflict with "kubectl-patch" using secret.grafana.app/v1beta1: '
        ".spec.description" in error
    )
    assert "--force-conflicts" in error
    out = kubectl.ok("apply", "--server-side", "--force-conflicts", "-f", str(path), "-n", ns)
    assert out.strip() == f"{SV}/ssa serverside-applied"
    forced = server.session.get(server.sv_url(ns, "ssa")).json()
    assert forced["spec"]["description"] == "server side"
    assert ("kubectl", "Apply") in [(e["manager"], e["operation"]) for e in forced["metadata"]["managedFields"]]

    # A field the applier stops applying is removed (real server-side apply semantics).
    labelled = secure_value_manifest("ssa", description="server side", labels={"team": "a"})
    path.write_text(manifest(labelled))
    kubectl.ok("apply", "--server-side", "-f", str(path), "-n", ns)
    assert server.session.get(server.sv_url(ns, "ssa")).json()["metadata"]["labels"] == {"team": "a"}
    del labelled["metadata"]["labels"]
    path.write_text(manifest(labelled))
    kubectl.ok("apply", "--server-side", "-f", str(path), "-n", ns)
    assert "labels" not in server.session.get(server.sv_url(ns, "ssa")).json()["metadata"]
    assert files_containing(server.data_dir, b"ssa-plaintext-1") == []


def test_apply_after_create_adds_annotation_without_value(kubectl, server, ns, tmp_path):
    path = tmp_path / "sv.yaml"
    path.write_text(manifest(secure_value_manifest("created-first", value="create-then-apply-plain")))
    kubectl.ok("create", "-f", str(path), "-n", ns)
    done = kubectl.run("apply", "-f", str(path), "-n", ns)
    assert done.returncode == 0, done.stderr
    assert "missing the kubectl.kubernetes.io/last-applied-configuration annotation" in done.stderr
    got = server.session.get(server.sv_url(ns, "created-first")).json()
    assert "value" not in json.loads(got["metadata"]["annotations"][LAST_APPLIED])["spec"]
    assert files_containing(server.data_dir, b"create-then-apply-plain") == []


def _served_documents(path: Path) -> list[dict]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return [d for d in documents if (d.get("apiVersion"), d.get("kind")) in SERVED]


def test_example_manifests_apply(kubectl, server, tmp_path):
    files = sorted(p for p in MANIFESTS.rglob("*") if p.suffix in (".yaml", ".yml"))
    served = [(p, docs) for p in files if (docs := _served_documents(p))]
    assert served, f"no example manifests of served kinds under {MANIFESTS}"
    for path, documents in served:
        for namespace in {d["metadata"].get("namespace") for d in documents if d["kind"] != "Namespace"} - {None}:
            if server.session.get(f"{server.url}/api/v1/namespaces/{namespace}").status_code == 404:
                if not any(d["kind"] == "Namespace" and d["metadata"]["name"] == namespace for d in documents):
                    server.create_namespace(namespace)
        only_served = tmp_path / path.name
        only_served.write_text(manifest(*documents))  # deployment manifests beside them are not for this API
        if any(not d["metadata"].get("name") for d in documents):
            # kubectl refuses `apply` with generateName ("cannot use generate name with apply"): create it.
            created = kubectl.ok("create", "-f", str(only_served))
            assert created.strip().endswith(" created"), created
            continue
        first = kubectl.ok("apply", "-f", str(only_served))
        assert len(first.strip().splitlines()) == len(documents), first
        second = kubectl.ok("apply", "-f", str(only_served))
        for line in second.strip().splitlines():
            assert line.endswith((" unchanged", " configured")), line
