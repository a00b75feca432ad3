"""Helpers shared by the API pipeline and the controllers: time, names, errors in Kubernetes' Status format."""

from __future__ import annotations

import datetime
import functools
import os
import random
import subprocess

NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=1)
def cluster_ca_pem():
    """A self-signed CA certificate ``CN=minikubeCA`` (PEM), made once per emulator, as minikube makes its cluster CA.

    It is what every namespace's ``kube-root-ca.crt`` ConfigMap carries: the CA that signed the emulator's serving
    certificate (``$MESH_HARNESS_CLUSTER_CA``, set by lifecycle.up), else one made here."""
    if os.environ.get("MESH_HARNESS_CLUSTER_CA"):
        with open(os.environ["MESH_HARNESS_CLUSTER_CA"], encoding="utf-8") as handle:
            return handle.read()
    try:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives.asymmetric import rsa  # pylint: disable=import-outside-toplevel
        from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
    except ImportError:  # a python3 without the venv: the openssl CLI does the same
        return subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "/dev/null", "-days", "3650",
                               "-subj", "/CN=minikubeCA", "-addext", "basicConstraints=critical,CA:TRUE"],
                              capture_output=True, text=True, check=True).stdout
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minikubeCA")])
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=True, data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def random_suffix(length=5):
    return "".join(random.choice(NAME_ALPHABET) for _position in range(length))


class ApiError(Exception):
    """An error the API answers with a ``Status`` body."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def not_found(rtype, name):
    return ApiError(404, "NotFound", f'{rtype.group_resource} "{name}" not found',
                    {"name": name, "group": rtype.group, "kind": rtype.plural})


def invalid(rtype, name, field, detail, reason="FieldValueInvalid"):
    kind = f"{rtype.kind}.{rtype.group}" if rtype.group else rtype.kind
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {field}: {detail}',
                    {"name": name, "group": rtype.group, "kind": rtype.kind,
                     "causes": [{"reason": reason, "message": detail, "field": field}]})


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def controller_of(obj):
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None
