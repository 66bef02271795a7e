"""TLS for the server: a context from `--tls-cert/--tls-key`, or a self-signed pair for local use.

kubectl sends a bearer token only to an `https://` server, so even a laptop setup needs TLS. With
`--tls-self-signed` the server creates, at its first start, a certificate for `localhost`,
`127.0.0.1` and `::1` (plus the listen host) in `DATA_DIR/tls/` and reuses it afterwards, so a
kubeconfig written once stays valid across restarts. The certificate is its own CA
(`basicConstraints CA:TRUE`), which lets clients trust it as the root it is.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
VALIDITY = dt.timedelta(days=825)  # the longest lifetime macOS/Chrome accept for a TLS server certificate
_LOOPBACK_NAMES = ("localhost",)
_LOOPBACK_IPS = ("127.0.0.1", "::1")


def self_signed_paths(data_dir: Path) -> tuple[Path, Path]:
    directory = data_dir / "tls"
    return directory / CERT_FILE, directory / KEY_FILE


def ensure_self_signed(data_dir: Path, host: str = "") -> tuple[Path, Path]:
    """The self-signed certificate and key under `data_dir/tls`, created on first use (key mode 0600)."""
    cert_path, key_path = self_signed_paths(data_dir)
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(key, host)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _certificate(key: ec.EllipticCurvePrivateKey, host: str) -> x509.Certificate:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in _LOOPBACK_NAMES]
    ips = list(_LOOPBACK_IPS)
    if host and host not in ips + list(_LOOPBACK_NAMES) and host not in ("0.0.0.0", "::"):
        try:
            ipaddress.ip_address(host)
            ips.append(host)
        except ValueError:
            names.append(x509.DNSName(host))
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "apiserver self-signed"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "apiserver"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew of clients
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context offering HTTP/1.1 (aiohttp speaks no HTTP/2; clients fall back)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    return context
