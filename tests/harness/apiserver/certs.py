"""The offline cluster's certificates, named, placed and made as minikube makes them.

minikube keeps one CA for every profile in ``$MINIKUBE_HOME/.minikube/ca.crt`` (``ca.key``, subject
``CN=minikubeCA``) and, per profile, ``profiles/<profile>/client.crt`` / ``client.key`` (``CN=minikube-user``)
and the API server's serving pair ``apiserver.crt`` / ``apiserver.key`` (``CN=minikube``), all signed by that CA
with ``O=system:masters``, RSA 2048, PKCS#1 keys (minikube: ``pkg/minikube/localpath``, ``pkg/minikube/bootstrapper/
certs.go``, ``pkg/util/crypto.go``). Here the fake ``MINIKUBE_HOME`` is the harness directory; the emulator's own
serving pair and the base ``harness`` context's client pair are those of the profile ``harness``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os

# What minikube puts in an API server's certificate besides 127.0.0.1 and localhost (docker driver, one node).
SERVING_IPS = ("127.0.0.1", "10.96.0.1", "192.168.49.2", "10.0.0.1")
SERVING_NAMES = ("localhost", "minikubeCA", "control-plane.minikube.internal", "minikube", "kubernetes.default.svc.cluster.local",
                 "kubernetes.default.svc", "kubernetes.default", "kubernetes")
MASTERS = "system:masters"
HARNESS_PROFILE = "harness"


def mini_path(home):
    """minikube's ``localpath.MiniPath``: ``$MINIKUBE_HOME`` itself when it ends in ``.minikube``, else ``$MINIKUBE_HOME/.minikube``."""
    return home if os.path.basename(os.path.normpath(home)) == ".minikube" else os.path.join(home, ".minikube")


def ca_paths(home):
    return os.path.join(mini_path(home), "ca.crt"), os.path.join(mini_path(home), "ca.key")


def profile_dir(home, profile):
    return os.path.join(mini_path(home), "profiles", profile)


def client_paths(home, profile):
    return os.path.join(profile_dir(home, profile), "client.crt"), os.path.join(profile_dir(home, profile), "client.key")


def serving_paths(home, profile=HARNESS_PROFILE):
    return os.path.join(profile_dir(home, profile), "apiserver.crt"), os.path.join(profile_dir(home, profile), "apiserver.key")


def _crypto():
    try:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives.asymmetric import rsa  # pylint: disable=import-outside-toplevel
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # pylint: disable=import-outside-toplevel
    except ImportError as exc:  # pragma: no cover - the venv has it (ansible-core depends on it)
        raise RuntimeError("the offline cluster makes its certificates with the `cryptography` package: "
                           "run it with the project's venv (.venv/bin/python)") from exc
    return x509, hashes, serialization, rsa, ExtendedKeyUsageOID, NameOID


def _write(path, data, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _usage(x509, digital_signature=True, key_encipherment=True, key_cert_sign=False):
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False, key_encipherment=key_encipherment,
                         data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign, crl_sign=False,
                         encipher_only=False, decipher_only=False)


def _issue(cert_path, key_path, subject, issuer=None, ca=False, ips=(), names=(), days=365 * 3):
    """Make an RSA 2048 key and a certificate for ``subject`` (list of (oid name, value)), signed by ``issuer``
    ((cert, key)) or by itself; write both (the key 0600, PKCS#1 PEM as minikube writes it)."""
    x509, hashes, serialization, rsa, eku, name_oid = _crypto()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(getattr(name_oid, attr), value) for attr, value in subject])
    signer_cert, signer_key = issuer if issuer else (None, key)
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(signer_cert.subject if signer_cert else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(_usage(x509, key_cert_sign=ca), critical=True)
               .add_extension(x509.ExtendedKeyUsage([eku.SERVER_AUTH, eku.CLIENT_AUTH]), critical=False))
    if ips or names:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]), critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def _load(cert_path, key_path):
    x509, _hashes, serialization = _crypto()[:3]
    with open(cert_path, "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    with open(key_path, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    return cert, key


def ensure_ca(home):
    """The CA of ``home`` (made once, as the first `minikube start` makes it); returns the path of ca.crt."""
    cert_path, key_path = ca_paths(home)
    if not (os.path.exists(cert_path) and os.path.exists(key_path)):
        _issue(cert_path, key_path, [("COMMON_NAME", "minikubeCA")], ca=True, days=365 * 10)
    return cert_path


def ensure_client(home, profile):
    """The client pair of ``profile`` (``CN=minikube-user``, ``O=system:masters``), made when missing."""
    ensure_ca(home)
    cert_path, key_path = client_paths(home, profile)
    if not (os.path.exists(cert_path) and os.path.exists(key_path)):
        _issue(cert_path, key_path, [("ORGANIZATION_NAME", MASTERS), ("COMMON_NAME", "minikube-user")], issuer=_load(*ca_paths(home)))
    return cert_path, key_path


def ensure_serving(home, profile=HARNESS_PROFILE):
    """The API server's serving pair (SANs 127.0.0.1, localhost and minikube's usual names), made when missing."""
    ensure_ca(home)
    cert_path, key_path = serving_paths(home, profile)
    if not (os.path.exists(cert_path) and os.path.exists(key_path)):
        _issue(cert_path, key_path, [("ORGANIZATION_NAME", MASTERS), ("COMMON_NAME", "minikube")], issuer=_load(*ca_paths(home)),
               ips=SERVING_IPS, names=SERVING_NAMES)
    return cert_path, key_path


def make_foreign_ca(directory):
    """A CA of another cluster (same subject, other key) with a client pair it signed, for tests of a wrong CA."""
    cert_path, key_path = os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key")
    issuer = _issue(cert_path, key_path, [("COMMON_NAME", "minikubeCA")], ca=True)
    client = os.path.join(directory, "client.crt"), os.path.join(directory, "client.key")
    _issue(*client, [("ORGANIZATION_NAME", MASTERS), ("COMMON_NAME", "minikube-user")], issuer=issuer)
    return cert_path, client
