"""The emulator speaks TLS with its own CA and authenticates client certificates, as minikube's kube-apiserver does,
so a wrong CA, a missing client certificate or ``validate_certs`` fail as they would on a cluster."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from .apiserver import certs
from .client import HarnessClient, HarnessError
from .fixtures import VENV_BIN


def _kubeconfig(harness, tmp_path, cluster=None, user=None):
    """A copy of the harness kubeconfig with its ``harness`` cluster/user entries changed."""
    with open(harness.kubeconfig, encoding="utf-8") as handle:
        config = json.load(handle)
    config["current-context"] = "harness"
    for entry in config["clusters"]:
        if entry["name"] == "harness" and cluster is not None:
            entry["cluster"] = dict(entry["cluster"], **cluster)
    for entry in config["users"]:
        if entry["name"] == "harness" and user is not None:
            entry["user"] = user
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    return str(path)


def _subject(path):
    with open(path, "rb") as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    return cert, {a.oid: a.value for a in cert.subject}


def test_the_kubeconfig_names_the_ca_and_client_pair_as_minikube_does(harness):
    with open(harness.kubeconfig, encoding="utf-8") as handle:
        config = json.load(handle)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == "harness")
    user = next(u["user"] for u in config["users"] if u["name"] == "harness")
    home = os.path.join(harness.dir, ".minikube")
    assert harness.server.startswith("https://127.0.0.1:") and cluster["server"] == harness.server
    assert cluster["certificate-authority"] == os.path.join(home, "ca.crt")
    assert user == {"client-certificate": os.path.join(home, "profiles", "harness", "client.crt"),
                    "client-key": os.path.join(home, "profiles", "harness", "client.key")}
    assert oct(os.stat(user["client-key"]).st_mode & 0o777) == "0o600"
    _cert, subject = _subject(user["client-certificate"])
    assert subject == {NameOID.COMMON_NAME: "minikube-user", NameOID.ORGANIZATION_NAME: "system:masters"}
    serving, _subject_of = _subject(os.path.join(home, "profiles", "harness", "apiserver.crt"))
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def test_fake_minikube_start_writes_a_profile_context_with_its_own_client_certificate(harness, tmp_path):
    profile = "tls-" + uuid.uuid4().hex[:6]
    kubeconfig = str(tmp_path / "config")
    env = dict(harness.env, KUBECONFIG=kubeconfig)

    def run(*argv):
        return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=120, check=True)

    run("minikube", "start", "-p", profile)
    with open(kubeconfig, encoding="utf-8") as handle:
        config = json.load(handle)
    profile_dir = os.path.join(harness.dir, ".minikube", "profiles", profile)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == profile)
    assert cluster["certificate-authority"] == os.path.join(harness.dir, ".minikube", "ca.crt") and cluster["server"] == harness.server
    assert [e["name"] for e in cluster["extensions"]] == ["cluster_info"]
    assert cluster["extensions"][0]["extension"]["provider"] == "minikube.sigs.k8s.io"
    assert next(u["user"] for u in config["users"] if u["name"] == profile) == {
        "client-certificate": os.path.join(profile_dir, "client.crt"), "client-key": os.path.join(profile_dir, "client.key")}
    assert [e["name"] for e in next(c["context"] for c in config["contexts"] if c["name"] == profile)["extensions"]] == ["context_info"]
    assert run(os.path.join(VENV_BIN, "kubectl"), "get", "namespace", "default", "-o", "name").stdout == "namespace/default\n"
    run("minikube", "delete", "-p", profile)
    assert not os.path.exists(profile_dir)


def test_a_client_trusting_another_ca_is_refused_by_certificate_verification(harness, tmp_path):
    foreign_ca, _pair = certs.make_foreign_ca(str(tmp_path))
    own = harness.client
    stranger = HarnessClient(harness.server, ca=foreign_ca, cert=own.cert, key=own.key)
    with pytest.raises(HarnessError) as refused:
        stranger.get("/version")
    assert refused.value.status is None and "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    result = harness.kubectl("--kubeconfig", _kubeconfig(harness, tmp_path, cluster={"certificate-authority": foreign_ca}),
                             "get", "namespaces", check=False)
    assert result.returncode == 1 and "x509: certificate signed by unknown authority" in result.stderr, result.stderr


def test_without_a_client_certificate_the_request_is_anonymous_and_forbidden(harness):
    # kube-apiserver asks for a client certificate but does not require one (tls.RequestClientCert): the handshake
    # succeeds and the request is system:anonymous, which may read /version and nothing of the API.
    anonymous = HarnessClient(harness.server, ca=harness.client.ca)
    assert anonymous.get("/version")["gitVersion"].startswith("v1.")
    with pytest.raises(HarnessError) as forbidden:
        anonymous.get("/api/v1/namespaces")
    assert forbidden.value.status == 403 and forbidden.value.body["reason"] == "Forbidden"
    assert forbidden.value.body["message"] == ('namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" '
                                               'in API group "" at the cluster scope')
    with pytest.raises(HarnessError) as named:
        anonymous.get("/apis/apps/v1/namespaces/default/deployments/web")
    assert named.value.body["message"] == ('deployments.apps "web" is forbidden: User "system:anonymous" cannot get resource '
                                           '"deployments" in API group "apps" in the namespace "default"')


def test_a_client_certificate_of_another_ca_fails_the_handshake(harness, tmp_path):
    # kube-apiserver would finish the handshake and answer 401; Python's ssl verifies a given certificate during the
    # handshake, so here the connection is refused instead (README: what differs).
    _foreign_ca, (cert, key) = certs.make_foreign_ca(str(tmp_path))
    impostor = HarnessClient(harness.server, ca=harness.client.ca, cert=cert, key=key)
    with pytest.raises(HarnessError) as refused:
        impostor.get("/api/v1/namespaces")
    assert refused.value.status is None


def test_a_wrong_bearer_token_without_a_certificate_is_unauthorized(harness):
    with pytest.raises(HarnessError) as refused:
        HarnessClient(harness.server, ca=harness.client.ca, token="not-a-token").get("/api/v1/namespaces")
    assert refused.value.status == 401 and refused.value.body["reason"] == "Unauthorized"


PLAYBOOK = """
- name: kubernetes.core verifies the emulator's certificate with the kubeconfig's CA
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read a namespace with validate_certs
      kubernetes.core.k8s_info: {kind: Namespace, name: default, validate_certs: true, kubeconfig: "{{ kc | default(omit) }}"}
      register: found
    - name: Check it
      ansible.builtin.assert: {that: [found.resources | length == 1]}
    - name: Write a ConfigMap with validate_certs
      kubernetes.core.k8s:
        validate_certs: true
        kubeconfig: "{{ kc | default(omit) }}"
        definition: {apiVersion: v1, kind: ConfigMap, metadata: {name: tls-check, namespace: default}, data: {k: v}}
"""


def test_kubernetes_core_with_validate_certs_uses_the_kubeconfig_ca(harness, tmp_path):
    playbook = tmp_path / "tls.yml"
    playbook.write_text(PLAYBOOK)
    harness.playbook(playbook)
    assert harness.client.get("/api/v1/namespaces/default/configmaps/tls-check")["data"] == {"k": "v"}
    harness.client.delete("/api/v1/namespaces/default/configmaps/tls-check")
    foreign_ca, _pair = certs.make_foreign_ca(str(tmp_path))
    wrong = _kubeconfig(harness, tmp_path, cluster={"certificate-authority": foreign_ca})
    result = harness.playbook(playbook, "-e", f"kc={wrong}", check=False)
    assert result.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in result.stdout, result.stdout[-2000:]


def test_kube_root_ca_carries_the_ca_that_signed_the_serving_certificate(harness):
    bundle = harness.client.get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt")["data"]["ca.crt"]
    with open(harness.client.ca, encoding="utf-8") as handle:
        assert bundle == handle.read()
