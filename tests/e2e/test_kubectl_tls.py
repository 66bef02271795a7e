"""`--tls-self-signed` and `apiserver kubeconfig`: what makes `KUBECONFIG=<file> kubectl get sv` work, no other step."""

from __future__ import annotations

import base64
import subprocess
import sys

import yaml
from cryptography import x509
from kubectl_support import make_kubectl, require_kubectl, start_tls_server


def kubeconfig(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "apiserver", "kubeconfig", *args], capture_output=True, text=True, timeout=30
    )


def test_self_signed_certificate_is_kept_and_embedded(tmp_path):
    server = start_tls_server(tmp_path / "data")
    try:
        cert_path = tmp_path / "data" / "tls" / "tls.crt"
        pem = cert_path.read_bytes()
        assert oct((tmp_path / "data" / "tls" / "tls.key").stat().st_mode & 0o777) == "0o600"
        cert = x509.load_pem_x509_certificate(pem)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == ["localhost"]
        assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}

        done = kubeconfig("--server", server.url, "--token", server.admin_token, "--namespace", "team")
        assert done.returncode == 0, done.stderr
        config = yaml.safe_load(done.stdout)
        cluster = config["clusters"][0]["cluster"]
        assert cluster["server"] == server.url
        assert x509.load_pem_x509_certificate(base64.b64decode(cluster["certificate-authority-data"])) == cert
        assert config["users"][0]["user"] == {"token": server.admin_token}
        assert config["contexts"][0]["context"]["namespace"] == "team"
        assert config["current-context"] == config["contexts"][0]["name"]

        from_file = kubeconfig("--server", server.url, "--token", "t", "--certificate-authority", str(cert_path))
        assert yaml.safe_load(from_file.stdout)["clusters"][0]["cluster"] == cluster

        server.restart()  # the certificate outlives restarts, so a kubeconfig written once stays valid
        assert cert_path.read_bytes() == pem
        kubectl = make_kubectl(require_kubectl(), server, tmp_path / "home")
        assert "No resources found in default namespace." in kubectl.run("get", "sv").stderr
    finally:
        server.stop()


def test_kubeconfig_for_plain_http_warns(tmp_path):
    done = kubeconfig("--server", "http://127.0.0.1:1", "--token", "t")
    assert done.returncode == 0
    assert "kubectl sends no token to an http:// server" in done.stderr
    assert "certificate-authority-data" not in yaml.safe_load(done.stdout)["clusters"][0]["cluster"]
    unreachable = kubeconfig("--server", "https://127.0.0.1:1", "--token", "t")
    assert unreachable.returncode == 1 and "cannot fetch the certificate" in unreachable.stderr
    assert kubeconfig("--server", "ftp://x", "--token", "t").returncode == 2
