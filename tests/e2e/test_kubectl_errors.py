"""What kubectl prints for the server's errors: exactly what it prints against a real cluster."""

from __future__ import annotations

from harness import secure_value
from kubectl_support import kubectl, make_kubectl, manifest, ns, require_kubectl, secure_value_manifest, server  # noqa: F401 (pytest fixtures)

QUALIFIED = "securevalues.secret.grafana.app"


def test_not_found(kubectl, ns):
    error = kubectl.fails("get", "sv", "missing", "-n", ns)
    assert error.strip() == f'Error from server (NotFound): {QUALIFIED} "missing" not found'
    error = kubectl.fails("delete", "sv", "missing", "-n", ns)
    assert error.strip() == f'Error from server (NotFound): {QUALIFIED} "missing" not found'
    assert kubectl.ok("get", "sv", "missing", "-n", ns, "--ignore-not-found") == ""


def test_already_exists(kubectl, ns, tmp_path):
    path = tmp_path / "sv.yaml"
    path.write_text(manifest(secure_value_manifest("twice", value="already-exists-value")))
    kubectl.ok("create", "-f", str(path), "-n", ns)
    error = kubectl.fails("create", "-f", str(path), "-n", ns)
    assert error.strip() == (
        f'Error from server (AlreadyExists): error when creating "{path}": {QUALIFIED} "twice" already exists'
    )
    assert "already-exists-value" not in error


def test_conflict_on_stale_replace(kubectl, server, ns, tmp_path):
    created = server.session.post(server.sv_url(ns), json=secure_value("stale")).json()
    stale = secure_value_manifest("stale", description="stale write")
    stale["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    server.session.patch(
        server.sv_url(ns, "stale"),
        json={"spec": {"description": "moved on"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    path = tmp_path / "stale.yaml"
    path.write_text(manifest(stale))
    error = kubectl.fails("replace", "-f", str(path), "-n", ns)
    assert error.strip() == (
        f'Error from server (Conflict): error when replacing "{path}": Operation cannot be '
        f'fulfilled on {QUALIFIED} "stale": the object has been modified; please apply your '
        "changes to the latest version and try again"
    )


def test_invalid(kubectl, ns, tmp_path):
    path = tmp_path / "x.yaml"
    document = secure_value_manifest("x", value="invalid-secret-value")
    del document["spec"]["description"]
    path.write_text(manifest(document))
    error = kubectl.fails("create", "-f", str(path), "-n", ns)
    assert error.strip() == 'The SecureValue "x" is invalid: spec.description: Required value'
    error = kubectl.fails("apply", "-f", str(path), "-n", ns)
    assert error.strip() == 'The SecureValue "x" is invalid: spec.description: Required value'
    document["spec"]["description"] = "d" * 26
    document["spec"]["decrypters"] = ["ok", "ok"]
    path.write_text(manifest(document))
    error = kubectl.fails("create", "-f", str(path), "-n", ns)
    assert error.strip().splitlines() == [
        'The SecureValue "x" is invalid: ',
        "* spec.description: Too long: may not be more than 25 bytes",
        '* spec.decrypters[1]: Duplicate value: "ok": decrypters must be unique',
    ]
    assert "invalid-secret-value" not in error


def test_strict_field_validation_and_warnings(kubectl, ns, tmp_path):
    path = tmp_path / "unknown.yaml"
    document = secure_value_manifest("strict", value="strict-value")
    document["spec"]["colour"] = "blue"
    path.write_text(manifest(document))
    error = kubectl.fails("create", "-f", str(path), "-n", ns)
    assert error.strip() == (
        f'Error from server (BadRequest): error when creating "{path}": '
        'strict decoding error: unknown field "spec.colour"'
    )
    done = kubectl.run("create", "-f", str(path), "-n", ns, "--validate=warn")
    assert done.returncode == 0, done.stderr
    assert 'Warning: unknown field "spec.colour"' in done.stderr


def test_server_dry_run_persists_nothing(kubectl, server, ns, tmp_path):
    path = tmp_path / "dry.yaml"
    path.write_text(manifest(secure_value_manifest("dry", value="dry-run-value")))
    out = kubectl.ok("create", "-f", str(path), "-n", ns, "--dry-run=server")
    assert out.strip() == "securevalue.secret.grafana.app/dry created (server dry run)"
    assert server.session.get(server.sv_url(ns, "dry")).status_code == 404


def test_unauthorized(server, tmp_path):
    kubectl = make_kubectl(require_kubectl(), server, tmp_path / "home", token="sas_not-a-valid-token")
    # Discovery reads raw bytes, so client-go words a 401 there generically (as with any apiserver)...
    error = kubectl.fails("get", "sv")
    assert (
        error.strip().splitlines()[-1]
        == "error: You must be logged in to the server (the server has asked for the client to provide credentials)"
    )
    # ...while a resource request decodes the Status: with discovery cached, its message is printed.
    make_kubectl(require_kubectl(), server, tmp_path / "warm").ok("get", "sv")
    kubectl = make_kubectl(require_kubectl(), server, tmp_path / "warm", token="sas_not-a-valid-token")
    error = kubectl.fails("get", "sv")
    assert error.strip().splitlines()[-1] == "error: You must be logged in to the server (Unauthorized)"
