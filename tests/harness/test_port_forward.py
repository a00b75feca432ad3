"""pods/portforward of the emulator: the real kubectl's port-forward (SPDY over WebSocket, and its SPDY/3.1
fallback) reaches the data-plane stand-in's ingress gateway; a port nothing listens on gets kubelet's error."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest

from tests.harness.dataplane import GATEWAY_LABELS, DataPlane
from tests.harness.fixtures import VENV_BIN

PROXY_IMAGE = "docker.io/istio/proxyv2:1.31.1"
# kubectl's switch between its two transports (the WebSocket tunnel is the default since 1.31).
TRANSPORTS = {"websocket": "true", "spdy": "false"}
# The verb the emulator counts for each: the WebSocket upgrade is a GET, the SPDY/3.1 upgrade a POST.
UPGRADE_VERBS = {"websocket": "get/portforward", "spdy": "create/portforward"}


@pytest.fixture
def gateway(harness):
    """An ingress gateway pod and Service (as istioctl installs them) in a namespace of their own, and a stand-in."""
    namespace = "pf-" + uuid.uuid4().hex[:8]
    api = harness.client
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    api.create({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "istio-ingressgateway-abc", "namespace": namespace, "labels": dict(GATEWAY_LABELS)},
                "spec": {"containers": [{"name": "istio-proxy", "image": PROXY_IMAGE,
                                         "ports": [{"containerPort": 15021}, {"containerPort": 8080}, {"containerPort": 8443}]}]}})
    api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "istio-ingressgateway", "namespace": namespace},
                "spec": {"selector": dict(GATEWAY_LABELS), "ports": [
                    {"name": "status-port", "port": 15021, "targetPort": 15021},
                    {"name": "http2", "port": 80, "targetPort": 8080}]}})
    with DataPlane(api, namespace=namespace, gateway_namespace=namespace) as plane:
        yield harness, namespace, plane


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PortForward:
    """``kubectl port-forward --address 127.0.0.1`` in the background, ready once it prints its Forwarding line."""

    def __init__(self, harness, namespace, target, remote, transport="websocket"):
        self.local = free_port()
        env = dict(harness.env, KUBECTL_PORT_FORWARD_WEBSOCKETS=TRANSPORTS[transport])
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [os.path.join(VENV_BIN, "kubectl"), "port-forward", "--address", "127.0.0.1", "-n", namespace, target,
             "%d:%s" % (self.local, remote)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.first_line = self.process.stdout.readline()

    def get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.local, path), timeout=30) as answer:
            return answer.status, answer.headers, answer.read().decode()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
        out, err = self.process.communicate(timeout=30)
        return self.first_line + out, err


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_port_forward_to_the_gateway_service_reaches_the_stand_in(gateway, transport):
    harness, namespace, plane = gateway
    before = upgrades(harness)
    forward = PortForward(harness, namespace, "svc/istio-ingressgateway", 80, transport)
    try:
        assert forward.first_line == "Forwarding from 127.0.0.1:%d -> 8080\n" % forward.local
        for _attempt in range(2):  # two connections through one session
            status, headers, body = forward.get("/productpage")
            assert status == 200 and headers["Server"].startswith("istio-envoy")
            assert "<title>Simple Bookstore App</title>" in body and "Reviews served by:" in body
        with urllib.request.urlopen(plane.url + "/productpage", timeout=30) as direct:
            assert direct.headers["Server"] == headers["Server"]
    finally:
        out, _err = forward.stop()
    assert out.count("Handling connection for %d\n" % forward.local) == 2
    after = upgrades(harness)
    assert {verb: after[verb] - before[verb] for verb in after} == {
        verb: int(verb == UPGRADE_VERBS[transport]) for verb in UPGRADE_VERBS.values()}


def upgrades(harness):
    """How many port-forward upgrades of each kind the emulator has served so far."""
    by_verb = harness.client.request("GET", "/_harness/stats")["by_verb"]
    return {verb: by_verb.get(verb, 0) for verb in UPGRADE_VERBS.values()}


def test_port_forward_to_the_gateway_pod(gateway):
    harness, namespace, _plane = gateway
    forward = PortForward(harness, namespace, "pod/istio-ingressgateway-abc", 8080)
    try:
        with pytest.raises(urllib.error.HTTPError) as missing:
            forward.get("/nothing-here")
        assert missing.value.code == 404
        status, _headers, body = forward.get("/productpage")
        assert status == 200 and "Reviews served by:" in body
    finally:
        forward.stop()


def test_port_forward_to_a_port_nothing_listens_on_gives_kubelets_error(gateway):
    harness, namespace, _plane = gateway
    forward = PortForward(harness, namespace, "pod/istio-ingressgateway-abc", 15021)
    try:
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            forward.get("/healthz/ready")
        forward.process.wait(timeout=30)  # kubectl drops the session on the error, then exits
    finally:
        out, err = forward.stop()
    assert forward.process.returncode == 1
    assert "Handling connection for %d" % forward.local in out
    uid = harness.client.request("GET", "/api/v1/namespaces/%s/pods/istio-ingressgateway-abc" % namespace)["metadata"]["uid"]
    assert "error forwarding port 15021 to pod %s, uid : " % uid.replace("-", "") in err
    assert "failed to connect to localhost:15021" in err and "connect: connection refused" in err
    assert "lost connection to pod" in err


def test_port_forward_to_a_port_the_service_lacks(gateway):
    harness, namespace, _plane = gateway
    done = harness.kubectl("port-forward", "--address", "127.0.0.1", "-n", namespace, "svc/istio-ingressgateway",
                           "%d:9999" % free_port(), check=False, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "error: Service istio-ingressgateway does not have a service port 9999\n"


def test_port_forward_to_a_missing_pod(gateway):
    harness, namespace, _plane = gateway
    done = harness.kubectl("port-forward", "--address", "127.0.0.1", "-n", namespace, "pod/nosuch", "%d:80" % free_port(),
                           check=False, timeout=60)
    assert done.returncode == 1
    assert done.stderr == 'Error from server (NotFound): pods "nosuch" not found\n'
