"""kubectl 1.32 (the dispatcher on PATH) against one TLS server: discovery, get, describe, writes, watch, explain."""

from __future__ import annotations

import json
import stat
import sys
import time

import yaml
from harness import secure_value
from kubectl_support import kubectl, manifest, ns, secure_value_manifest, server, unique  # noqa: F401 (pytest fixtures)

SV = "securevalue.secret.grafana.app"


def create(server, ns: str, name: str, **kwargs) -> dict:
    response = server.session.post(server.sv_url(ns), json=secure_value(name, **kwargs))
    assert response.status_code == 201, response.text
    return response.json()


def rows(table_text: str) -> list[list[str]]:
    return [line.split() for line in table_text.strip().splitlines()]


def test_version_and_discovery(kubectl):
    version = json.loads(kubectl.ok("version", "-o", "json"))
    assert version["serverVersion"]["major"] == "1" and version["serverVersion"]["minor"] == "32"
    assert version["clientVersion"]["gitVersion"].startswith("v1.32")  # the dispatcher's choice for this server
    resources = rows(kubectl.ok("api-resources"))
    assert resources[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert ["securevalues", "sv", "secret.grafana.app/v1beta1", "true", "SecureValue"] in resources
    assert ["keepers", "secret.grafana.app/v1beta1", "true", "Keeper"] in resources
    assert ["namespaces", "ns", "v1", "false", "Namespace"] in resources
    assert kubectl.ok("api-versions").split() == ["secret.grafana.app/v1beta1", "v1"]
    wide = kubectl.ok("api-resources", "-o", "wide", "--api-group=secret.grafana.app")
    assert "create,delete,deletecollection,get,list,patch,update,watch" in wide
    assert wide.splitlines()[-1].split()[-1] == "secrets"  # categories
    # Every spelling the RESTMapper accepts resolves: plural, singular, short name, kind, qualified.
    for spelling in (
        "securevalues",
        "securevalue",
        "sv",
        "SecureValue",
        "securevalues.secret.grafana.app",
        "securevalues.v1beta1.secret.grafana.app",
    ):
        kubectl.ok("get", spelling)


def test_get_table_formats_and_selectors(server, kubectl, ns):
    create(
        server,
        ns,
        "alpha",
        description="first value",
        decrypters=["synthetic-monitoring"],
        labels={"app": "web", "tier": "front"},
    )
    create(server, ns, "beta", description="second value", labels={"app": "db"})
    table = rows(kubectl.ok("get", "sv", "-n", ns))
    assert table[0] == ["NAME", "DESCRIPTION", "KEEPER", "DECRYPTERS", "VERSION", "AGE"]
    assert table[1][:6] == ["alpha", "first", "value", "system", "synthetic-monitoring", "1"]
    assert table[2][:6] == ["beta", "second", "value", "system", "<none>", "1"]

    listed = yaml.safe_load(kubectl.ok("get", "sv", "-n", ns, "-o", "yaml"))
    assert listed["kind"] == "List" and [i["metadata"]["name"] for i in listed["items"]] == ["alpha", "beta"]
    one = json.loads(kubectl.ok("get", "sv", "alpha", "-n", ns, "-o", "json"))
    assert one["kind"] == "SecureValue" and one["spec"]["decrypters"] == ["synthetic-monitoring"]
    assert "value" not in one["spec"] and one["status"]["version"] == 1
    assert kubectl.ok("get", "sv", "-n", ns, "-o", "name").split() == [f"{SV}/alpha", f"{SV}/beta"]

    assert [r[0] for r in rows(kubectl.ok("get", "sv", "-n", ns, "-l", "app=web"))] == ["NAME", "alpha"]
    assert [r[0] for r in rows(kubectl.ok("get", "sv", "-n", ns, "-l", "app in (web,db),tier!=front"))] == [
        "NAME",
        "beta",
    ]
    assert "No resources found" in kubectl.run("get", "sv", "-n", ns, "-l", "app=none").stderr

    everywhere = rows(kubectl.ok("get", "sv", "-A"))
    assert everywhere[0][:2] == ["NAMESPACE", "NAME"]
    assert [ns, "alpha"] in [r[:2] for r in everywhere] and [ns, "beta"] in [r[:2] for r in everywhere]

    labelled = rows(kubectl.ok("get", "sv", "-n", ns, "--show-labels"))
    assert labelled[0][-1] == "LABELS" and labelled[1][-1] == "app=web,tier=front"
    columns = rows(kubectl.ok("get", "sv", "-n", ns, "-L", "app,tier"))
    assert columns[0][-2:] == ["APP", "TIER"] and columns[1][-2:] == ["web", "front"] and columns[2][-1:] == ["db"]
    wide = rows(kubectl.ok("get", "sv", "-n", ns, "-o", "wide"))
    assert wide[0][-1] == "REF" and wide[1][-1] == "<none>"
    assert rows(kubectl.ok("get", "sv", "alpha", "-n", ns))[1][0] == "alpha"


def test_get_namespaces_table(kubectl, ns):
    table = rows(kubectl.ok("get", "namespaces"))
    assert table[0] == ["NAME", "STATUS", "AGE"]
    assert ["default", "Active"] in [r[:2] for r in table] and [ns, "Active"] in [r[:2] for r in table]
    labelled = kubectl.ok("get", "ns", ns, "--show-labels")
    assert f"kubernetes.io/metadata.name={ns}" in labelled


def test_describe(server, kubectl, ns):
    create(server, ns, "described", description="shown by describe", decrypters=["grafana"], labels={"app": "x"})
    text = kubectl.ok("describe", "sv", "described", "-n", ns)
    assert "Name:         described" in text and f"Namespace:    {ns}" in text
    assert "Labels:       app=x" in text and "Description:  shown by describe" in text
    assert "Kind:         SecureValue" in text and "Events:" in text
    assert "s3cret" not in text


def test_create_namespace_sends_protobuf(kubectl, server):
    name = unique("proto")
    assert kubectl.ok("create", "namespace", name).strip() == f"namespace/{name} created"
    got = server.session.get(f"{server.url}/api/v1/namespaces/{name}").json()
    assert got["status"]["phase"] == "Active"
    assert set(got["metadata"]["annotations"]) == {
        "compat.apiserver.local/influxdb-org-id",
        "compat.apiserver.local/cloudflare-account-id",
    }
    assert rows(kubectl.ok("get", "ns", name))[1][:2] == [name, "Active"]


def test_create_replace_edit_patch(server, kubectl, ns, tmp_path):
    path = tmp_path / "sv.yaml"
    path.write_text(
        manifest(secure_value_manifest("written", description="created by kubectl", value="kubectl-create-secret"))
    )
    assert kubectl.ok("create", "-f", str(path), "-n", ns).strip() == f"{SV}/written created"

    path.write_text(manifest(secure_value_manifest("written", description="replaced", decrypters=["grafana"])))
    assert kubectl.ok("replace", "-f", str(path), "-n", ns).strip() == f"{SV}/written replaced"
    got = server.session.get(server.sv_url(ns, "written")).json()
    assert got["spec"] == {"description": "replaced", "decrypters": ["grafana"]} and got["status"]["version"] == 2

    editor = tmp_path / "editor.py"
    editor.write_text(
        f"#!{sys.executable}\nimport pathlib, sys\np = pathlib.Path(sys.argv[-1])\n"
        "p.write_text(p.read_text().replace('description: replaced', 'description: edited'))\n"
    )
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    out = kubectl.ok("edit", "sv", "written", "-n", ns, env={"KUBE_EDITOR": str(editor), "EDITOR": str(editor)})
    assert out.strip() == f"{SV}/written edited"
    edited = server.session.get(server.sv_url(ns, "written")).json()
    assert edited["spec"]["description"] == "edited"
    assert ("kubectl-edit", "Update") in {(m["manager"], m["operation"]) for m in edited["metadata"]["managedFields"]}

    merge = kubectl.ok(
        "patch",
        "sv",
        "written",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"metadata":{"labels":{"patched":"merge"}},"spec":{"decrypters":["a","b"]}}',
    )
    assert merge.strip() == f"{SV}/written patched"
    patch = '[{"op":"replace","path":"/spec/description","value":"json patched"}]'
    kubectl.ok("patch", "sv", "written", "-n", ns, "--type=json", "-p", patch)
    got = server.session.get(server.sv_url(ns, "written")).json()
    assert got["metadata"]["labels"] == {"patched": "merge"}
    assert got["spec"] == {"description": "json patched", "decrypters": ["a", "b"]}
    assert got["status"]["version"] == 5
    assert ("kubectl-patch", "Update") in {(m["manager"], m["operation"]) for m in got["metadata"]["managedFields"]}
    # A patch that changes nothing is answered as kubectl expects, and writes nothing.
    assert "(no change)" in kubectl.ok(
        "patch", "sv", "written", "-n", ns, "--type=merge", "-p", '{"spec":{"description":"json patched"}}'
    )
    assert (
        server.session.get(server.sv_url(ns, "written")).json()["metadata"]["resourceVersion"]
        == got["metadata"]["resourceVersion"]
    )


def test_delete_by_name_selector_and_all(server, kubectl, ns):
    for name, app in (("d1", "a"), ("d2", "a"), ("d3", "b"), ("d4", "c")):
        create(server, ns, name, labels={"app": app})
    assert kubectl.ok("delete", "sv", "d1", "-n", ns).strip() == f'{SV} "d1" deleted'
    out = kubectl.ok("delete", "sv", "-l", "app=a", "-n", ns)
    assert out.strip() == f'{SV} "d2" deleted'
    out = kubectl.ok("delete", "securevalues", "--all", "-n", ns)
    assert sorted(out.strip().splitlines()) == [f'{SV} "d3" deleted', f'{SV} "d4" deleted']
    assert server.session.get(server.sv_url(ns)).json()["items"] == []


def test_get_watch_receives_update_by_another_client(server, kubectl, ns):
    create(server, ns, "watched", description="before")
    current = "before"
    # A list watch (from the Table's resourceVersion) and a single-object watch (from a synthetic ADDED).
    for round_, args in enumerate((("get", "sv", "-n", ns, "-w"), ("get", "sv", "watched", "-n", ns, "-w"))):
        stream = kubectl.stream(*args)
        try:
            stream.wait_for(lambda line: line.startswith("NAME"))
            stream.wait_for(lambda line, now=current: line.split()[:2] == ["watched", now])
            current = f"after-{round_}"
            response = server.session.patch(
                server.sv_url(ns, "watched"),
                json={"spec": {"description": current}},
                headers={"Content-Type": "application/merge-patch+json"},
            )
            assert response.status_code == 200, response.text
            line = stream.wait_for(lambda line, now=current: line.split()[:2] == ["watched", now])
            assert line.split()[2:5] == ["system", "<none>", str(round_ + 2)]  # first event's columns kept
        finally:
            stream.close()


def test_get_watch_stays_through_idle_keep_alives(server, kubectl, ns):
    """An idle watch gets a keep-alive space every 10 s; kubectl's decoder skips it and prints the next event."""
    create(server, ns, "first")
    stream = kubectl.stream("get", "sv", "-n", ns, "-w")
    try:
        stream.wait_for(lambda line: line.split()[:1] == ["first"])
        time.sleep(11.5)
        create(server, ns, "after-idle")
        stream.wait_for(lambda line: line.split()[:1] == ["after-idle"])
        assert not [line for line in stream.seen if "error" in line.lower()], stream.seen
    finally:
        stream.close()


def test_explain_prints_schema_descriptions(kubectl):
    spec = kubectl.ok("explain", "securevalues.spec")
    assert "KIND:       SecureValue" in spec and "VERSION:    v1beta1" in spec
    assert "Desired state of the secure value" in spec
    assert "description\t<string> -required-" in spec and "decrypters\t<[]string>" in spec
    decrypters = kubectl.ok("explain", "securevalues.spec.decrypters")
    assert "FIELD: decrypters <[]string>" in decrypters
    assert "Service identities allowed to decrypt the value" in decrypters
    keeper = kubectl.ok("explain", "keepers.spec.aws")
    assert "AWS Secrets Manager" in keeper


def test_openapi_v3_is_complete_and_v2_only_protobuf(server):
    session = server.session
    assert session.get(f"{server.url}/openapi/v2").status_code == 404  # JSON v2 is never served
    v2 = session.get(
        f"{server.url}/openapi/v2", headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"}
    )
    assert v2.status_code == 200
    assert v2.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert b"fieldValidation" in v2.content and b"Service identities allowed to decrypt" in v2.content
    index = session.get(f"{server.url}/openapi/v3").json()["paths"]
    assert set(index) == {"apis/secret.grafana.app/v1beta1", "api/v1"}
    document = session.get(server.url + index["apis/secret.grafana.app/v1beta1"]["serverRelativeURL"]).json()
    item = document["paths"]["/apis/secret.grafana.app/v1beta1/namespaces/{namespace}/securevalues/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "secret.grafana.app",
        "version": "v1beta1",
        "kind": "SecureValue",
    }
    assert {"dryRun", "fieldManager", "fieldValidation", "force"} <= {p["name"] for p in patch["parameters"]}
    assert set(patch["requestBody"]["content"]) == {
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/apply-patch+yaml",
    }
    for operation in (
        item["put"],
        document["paths"]["/apis/secret.grafana.app/v1beta1/namespaces/{namespace}/securevalues"]["post"],
    ):
        assert {"dryRun", "fieldManager", "fieldValidation"} <= {p["name"] for p in operation["parameters"]}
    schema = document["components"]["schemas"]["app.grafana.secret.v1beta1.SecureValue"]
    assert schema["properties"]["spec"]["properties"]["value"]["writeOnly"] is True
    core = session.get(server.url + index["api/v1"]["serverRelativeURL"]).json()
    assert "/api/v1/namespaces/{name}" in core["paths"]


def test_discovery_documents_agree(server):
    get = server.session.get
    aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    apis = get(f"{server.url}/apis", headers={"Accept": aggregated})
    assert apis.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    group = apis.json()["items"][0]
    assert group["metadata"]["name"] == "secret.grafana.app" and group["versions"][0]["version"] == "v1beta1"
    resources = {r["resource"]: r for r in group["versions"][0]["resources"]}
    assert resources["securevalues"]["responseKind"] == {
        "group": "secret.grafana.app",
        "version": "v1beta1",
        "kind": "SecureValue",
    }
    assert resources["securevalues"]["scope"] == "Namespaced" and resources["securevalues"]["shortNames"] == ["sv"]
    core = get(f"{server.url}/api", headers={"Accept": aggregated})
    assert core.headers["Content-Type"] == apis.headers["Content-Type"]  # both aggregated, or client-go drops them
    assert [r["resource"] for r in core.json()["items"][0]["versions"][0]["resources"]] == ["namespaces"]

    legacy = get(f"{server.url}/apis").json()
    assert legacy["kind"] == "APIGroupList"
    assert legacy["groups"][0]["preferredVersion"] == {
        "groupVersion": "secret.grafana.app/v1beta1",
        "version": "v1beta1",
    }
    assert get(f"{server.url}/api").json()["versions"] == ["v1"]
    assert get(f"{server.url}/apis/secret.grafana.app").json()["kind"] == "APIGroup"
    listed = get(f"{server.url}/apis/secret.grafana.app/v1beta1").json()
    sv = next(r for r in listed["resources"] if r["name"] == "securevalues")
    assert sv == {
        "name": "securevalues",
        "singularName": "securevalue",
        "namespaced": True,
        "kind": "SecureValue",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["sv"],
        "categories": ["secrets"],
    }
    assert [r["name"] for r in get(f"{server.url}/api/v1").json()["resources"]] == ["namespaces"]
    assert get(f"{server.url}/apis", headers={"Accept": "text/html"}).status_code == 406
    version = server.session.get(f"{server.url}/version", headers={"Authorization": ""}).json()  # public
    assert (version["major"], version["minor"], version["gitVersion"]) == ("1", "32", "v1.32.0")


def test_table_include_object(server, ns):
    create(server, ns, "tabled", labels={"k": "v"})
    table_accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    url = server.sv_url(ns)
    default = server.session.get(url, headers=table_accept).json()
    assert default["kind"] == "Table" and default["metadata"]["resourceVersion"]
    assert [c["name"] for c in default["columnDefinitions"]] == [
        "Name",
        "Description",
        "Keeper",
        "Decrypters",
        "Version",
        "Age",
        "Ref",
    ]
    assert default["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert default["rows"][0]["object"]["metadata"]["labels"] == {"k": "v"}
    assert "object" not in server.session.get(url + "?includeObject=None", headers=table_accept).json()["rows"][0]
    full = server.session.get(url + "?includeObject=Object", headers=table_accept).json()["rows"][0]["object"]
    assert full["kind"] == "SecureValue" and "value" not in full["spec"]
    assert server.session.get(url + "?includeObject=All", headers=table_accept).status_code == 400
