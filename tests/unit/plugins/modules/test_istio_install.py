# -*- coding: utf-8 -*-
"""istio_install against recorded istioctl output (cases/istio_install.yml).

The install record (a ConfigMap the module reads and writes with the kubernetes client) is the one
boundary besides istioctl: it is replaced by an in-memory store so each case states the record
before the run (``record``) and after it (``expect_record``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import socket
import threading
import time

import pytest

from ansible.module_utils import basic
from ansible_collections.istiolab.mesh.plugins.module_utils import _istioctl
from ansible_collections.istiolab.mesh.plugins.module_utils._cli import CliError, ModuleError
from ansible_collections.istiolab.mesh.plugins.module_utils._istioctl import InstallRecord, record_name
from ansible_collections.istiolab.mesh.plugins.modules import istio_install

from tests.unit.cli_cases import check_case, load_cases

_CASES_FILE = os.path.join(os.path.dirname(__file__), "cases", "istio_install.yml")


def _substitute(value, words):
    if isinstance(value, str):
        for placeholder, replacement in words.items():
            value = value.replace(placeholder, replacement)
        return value
    if isinstance(value, list):
        return [_substitute(item, words) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, words) for key, item in value.items()}
    return value


def _manifest_digest(case):
    for call in case.get("calls") or []:
        if call["command"][1:3] == ["manifest", "generate"]:
            return hashlib.sha256(call["out"].encode("utf-8")).hexdigest()
    return "no-manifest-in-this-case"


def _record_store(monkeypatch, initial, namespaces):
    """The install record in memory; ``namespaces`` collects the namespace of every record the module opens."""
    store = dict(initial)

    class MemoryRecord:
        def __init__(self, module, revision=None, namespace=_istioctl.ISTIO_NAMESPACE):
            self.name = record_name(revision)
            namespaces.append(namespace)

        def read(self):
            return copy.deepcopy(store.get(self.name))

        def write(self, data):
            store[self.name] = {key: "" if value is None else str(value) for key, value in data.items()}

        def delete(self):
            store.pop(self.name, None)

    monkeypatch.setattr(istio_install, "InstallRecord", MemoryRecord)
    return store


def _recorded_pods(monkeypatch, listings, namespaces):
    """The istiod pods the API returns, one recorded listing per call (``pods`` of a case); none when absent.
    ``namespaces`` collects the namespace the module looks for them in."""
    listings = list(listings or [])
    asked = []

    class RecordedPods:
        def __init__(self, module, namespace=_istioctl.ISTIO_NAMESPACE):
            namespaces.append(namespace)

        def list(self, revision=None):
            asked.append(revision)
            return copy.deepcopy(listings.pop(0)) if listings else []

    monkeypatch.setattr(istio_install, "ControlPlanePods", RecordedPods, raising=False)
    return asked


@pytest.mark.parametrize("case", load_cases(_CASES_FILE))
def test_istio_install(case, tmp_path, monkeypatch):
    case = _substitute(case, {"{manifest_digest}": _manifest_digest(case), "{tmpdir}": str(tmp_path)})
    name = record_name((case.get("params") or {}).get("revision"))
    namespaces = []
    store = _record_store(monkeypatch, {name: case["record"]} if case.get("record") else {}, namespaces)
    monkeypatch.setattr(basic.AnsibleModule, "tmpdir", property(lambda self: str(tmp_path)))
    asked = _recorded_pods(monkeypatch, case.get("pods"), namespaces)

    check_case(istio_install.main, case)

    if "pods" in case:
        assert len(asked) == len(case["pods"]), "the module listed the istiod pods %d times, the case recorded %d" % (len(asked), len(case["pods"]))

    if "expect_record" in case:
        assert store.get(name) == case["expect_record"]
    if "expect_namespace" in case:
        assert namespaces and set(namespaces) == {case["expect_namespace"]}, "record and pods were looked for in %s" % namespaces
    if "expect_overlay" in case:
        assert json.loads((tmp_path / "istio-overlay.json").read_text()) == case["expect_overlay"]


class _SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers: an API server that hangs."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.accepted = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self.stopping.is_set():
            try:
                connection, _address = self.sock.accept()
            except socket.timeout:
                continue
            self.accepted.append(connection)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()
        for connection in self.accepted:
            connection.close()
        self.sock.close()


class _Module:
    def __init__(self, kubeconfig):
        self.params = dict(kubeconfig=kubeconfig, context=None)


@pytest.mark.parametrize("action", ["read", "write", "delete"])
def test_install_record_gives_up_on_an_api_that_never_answers(action, tmp_path, monkeypatch):
    monkeypatch.setattr(_istioctl, "REQUEST_TIMEOUT", (1, 0.2))
    with _SilentServer() as server:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "hung",
            "clusters": [{"name": "hung", "cluster": {"server": "http://127.0.0.1:%d" % server.sock.getsockname()[1]}}],
            "users": [{"name": "hung", "user": {"token": "t"}}],
            "contexts": [{"name": "hung", "context": {"cluster": "hung", "user": "hung"}}],
        }))
        record = InstallRecord(_Module(str(kubeconfig)))
        started = time.monotonic()
        with pytest.raises(ModuleError) as caught:
            if action == "write":
                record.write(dict(version="1.31.1"))
            else:
                getattr(record, action)()
        elapsed = time.monotonic() - started
    assert not isinstance(caught.value, CliError), "an API request is not a CLI call"
    assert "Could not %s ConfigMap istio-system/%s" % (action, record_name()) in caught.value.message
    assert "timed out" in caught.value.message
    # urllib3 retries these idempotent requests up to 3 times: 4 attempts of 0.2 s each, not a hang.
    assert len(server.accepted) <= 4 and elapsed < 3, (len(server.accepted), elapsed)


def test_install_record_round_trip_on_the_offline_cluster(fresh_harness):
    fresh_harness.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    record = InstallRecord(_Module(fresh_harness.kubeconfig), revision="canary")
    assert record.read() is None
    record.write(dict(version="1.31.0", digest="a", profile="demo", revision="canary"))
    record.write(dict(version="1.31.1", digest="b", profile="demo", revision=None))
    assert record.read() == {"version": "1.31.1", "digest": "b", "profile": "demo", "revision": ""}
    stored = fresh_harness.client.get("/api/v1/namespaces/istio-system/configmaps/" + record_name("canary"))
    assert stored["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "istiolab.mesh.istio_install"}
    record.delete()
    record.delete()
    assert record.read() is None


def test_install_record_and_istiod_pods_in_another_namespace_on_the_offline_cluster(fresh_harness):
    for namespace in ("istio-system", "mesh-cp"):
        fresh_harness.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    fresh_harness.client.create({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "istiod-a", "namespace": "istio-system", "labels": {"app": "istiod", "istio.io/rev": "default"}},
        "spec": {"containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.31.1"}]},
    })
    module = _Module(fresh_harness.kubeconfig)
    record = InstallRecord(module, namespace="mesh-cp")
    record.write(dict(version="1.31.1", digest="b", profile="demo", revision="default"))
    assert fresh_harness.client.get("/api/v1/namespaces/mesh-cp/configmaps/" + record_name())["data"]["digest"] == "b"
    assert InstallRecord(module).read() is None, "the record of mesh-cp is not istio-system's"
    assert _istioctl.ControlPlanePods(module, namespace="mesh-cp").list() == []
    assert [p["metadata"]["name"] for p in _istioctl.ControlPlanePods(module).list()] == ["istiod-a"]


def test_control_plane_pods_are_listed_by_revision_on_the_offline_cluster(fresh_harness):
    fresh_harness.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    for name, revision in (("istiod-a", "default"), ("istiod-canary-b", "canary")):
        fresh_harness.client.create({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "istio-system",
                         "labels": {"app": "istiod", "istio.io/rev": revision, "app.kubernetes.io/version": "1.31.1"}},
            "spec": {"containers": [{"name": "discovery", "image": "docker.io/istio/pilot:1.31.1"}]},
        })
    pods = _istioctl.ControlPlanePods(_Module(fresh_harness.kubeconfig))
    assert [p["metadata"]["name"] for p in pods.list()] == ["istiod-a"]
    listed = pods.list("canary")
    assert [p["metadata"]["name"] for p in listed] == ["istiod-canary-b"]
    assert listed[0]["metadata"]["labels"]["app.kubernetes.io/version"] == "1.31.1"


@pytest.mark.parametrize("values", [{"profile": "minimal"}, {"meshConfig": {"a": 1}}])
def test_a_bad_set_value_is_a_module_error_not_a_cli_failure(values):
    class Module:
        params = dict(set=values, profile="demo")

    installer = istio_install.IstioInstall.__new__(istio_install.IstioInstall)
    installer.params = Module.params
    installer.istio_namespace = None
    with pytest.raises(ModuleError) as caught:
        installer.set_values()
    assert not isinstance(caught.value, CliError)
