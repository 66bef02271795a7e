"""A representative kubectl tour with the dispatcher (1.32 here) and the oldest and newest kubectl beside it.

kubectl 1.27 and 1.28 still read OpenAPI v2 (as gnostic protobuf) to check field validation support
and for `explain`; later versions use OpenAPI v3. Both paths are exercised here.
"""

from __future__ import annotations

import json

import pytest
import yaml
from harness import secure_value
from kubectl_support import (  # noqa: F401 (pytest fixtures)
    VERSIONS,
    Kubectl,
    make_kubectl,
    manifest,
    ns,
    require_kubectl,
    secure_value_manifest,
    server,
    unique,
)

SV = "securevalue.secret.grafana.app"


@pytest.fixture(scope="module", params=VERSIONS)
def kubectl(request, server, tmp_path_factory) -> Kubectl:
    binary = require_kubectl(request.param)
    return make_kubectl(binary, server, tmp_path_factory.mktemp(f"home-{request.param}"))


def test_discovery_get_and_explain(kubectl, server, ns):
    server.session.post(server.sv_url(ns), json=secure_value("listed", labels={"app": "x"}))
    resources = [line.split() for line in kubectl.ok("api-resources").splitlines()]
    assert ["securevalues", "sv", "secret.grafana.app/v1beta1", "true", "SecureValue"] in resources
    table = [line.split() for line in kubectl.ok("get", "sv", "-n", ns, "--show-labels").splitlines()]
    assert table[0] == ["NAME", "DESCRIPTION", "KEEPER", "DECRYPTERS", "VERSION", "AGE", "LABELS"]
    assert table[1][0] == "listed" and table[1][-1] == "app=x"
    assert yaml.safe_load(kubectl.ok("get", "sv", "listed", "-n", ns, "-o", "yaml"))["status"]["version"] == 1
    explained = kubectl.ok("explain", "securevalues.spec.decrypters")
    assert "Service identities allowed to decrypt the value" in explained


def test_apply_replace_edit_patch(kubectl, server, ns, tmp_path):
    path = tmp_path / "sv.yaml"
    path.write_text(manifest(secure_value_manifest("tour", value="versions-value", decrypters=["grafana"])))
    assert kubectl.ok("apply", "-f", str(path), "-n", ns).strip() == f"{SV}/tour created"
    first = server.session.get(server.sv_url(ns, "tour")).json()
    assert kubectl.ok("apply", "-f", str(path), "-n", ns).strip() == f"{SV}/tour configured"
    second = server.session.get(server.sv_url(ns, "tour")).json()
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert (
        "value"
        not in json.loads(second["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])["spec"]
    )

    path.write_text(manifest(secure_value_manifest("tour", description="replaced")))
    assert kubectl.ok("replace", "-f", str(path), "-n", ns).strip() == f"{SV}/tour replaced"
    editor = tmp_path / "edit.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/description: replaced/description: edited/' \"$1\"\n")
    editor.chmod(0o755)
    assert kubectl.ok("edit", "sv", "tour", "-n", ns, env={"KUBE_EDITOR": str(editor)}).strip() == f"{SV}/tour edited"
    kubectl.ok("patch", "sv", "tour", "-n", ns, "--type=merge", "-p", '{"metadata":{"labels":{"p":"1"}}}')
    got = server.session.get(server.sv_url(ns, "tour")).json()
    assert got["spec"]["description"] == "edited" and got["metadata"]["labels"] == {"p": "1"}
    assert kubectl.ok("delete", "sv", "tour", "-n", ns).strip() == f'{SV} "tour" deleted'


def test_server_side_apply(kubectl, server, ns, tmp_path):
    path = tmp_path / "ssa.yaml"
    path.write_text(manifest(secure_value_manifest("ssa", value="versions-ssa-value")))
    assert kubectl.ok("apply", "--server-side", "-f", str(path), "-n", ns).strip() == f"{SV}/ssa serverside-applied"
    kubectl.ok(
        "patch",
        "sv",
        "ssa",
        "-n",
        ns,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/description","value":"mine now"}]',
    )
    error = kubectl.fails("apply", "--server-side", "-f", str(path), "-n", ns)
    assert "Apply failed with 1 conflict" in error and ".spec.description" in error
    kubectl.ok("apply", "--server-side", "--force-conflicts", "-f", str(path), "-n", ns)
    assert server.session.get(server.sv_url(ns, "ssa")).json()["spec"]["description"] == "a kubectl value"


def test_create_namespace_and_errors(kubectl, server, ns, tmp_path):
    name = unique("vns")
    assert kubectl.ok("create", "namespace", name).strip() == f"namespace/{name} created"
    error = kubectl.fails("get", "sv", "nothing", "-n", ns)
    assert error.strip() == 'Error from server (NotFound): securevalues.secret.grafana.app "nothing" not found'
    invalid = secure_value_manifest("bad", value="v")
    del invalid["spec"]["description"]
    path = tmp_path / "bad.yaml"
    path.write_text(manifest(invalid))
    assert (
        kubectl.fails("create", "-f", str(path), "-n", ns).strip()
        == 'The SecureValue "bad" is invalid: spec.description: Required value'
    )
    invalid["spec"]["description"] = "ok"
    invalid["spec"]["unknownField"] = 1
    path.write_text(manifest(invalid))
    assert 'strict decoding error: unknown field "spec.unknownField"' in kubectl.fails(
        "create", "-f", str(path), "-n", ns
    )


def test_watch_sees_update(kubectl, server, ns):
    server.session.post(server.sv_url(ns), json=secure_value("watched", description="before"))
    stream = kubectl.stream("get", "sv", "-n", ns, "-w")
    try:
        stream.wait_for(lambda line: line.split()[:2] == ["watched", "before"])
        server.session.patch(
            server.sv_url(ns, "watched"),
            json={"spec": {"description": "after"}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        stream.wait_for(lambda line: line.split()[:2] == ["watched", "after"])
    finally:
        stream.close()
