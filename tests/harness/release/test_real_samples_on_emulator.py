"""The emulator takes Istio's real samples as kube-apiserver takes them (the fake release ships them)."""

import json
import os
import uuid

import pytest
import yaml

from tests.harness import fake_release

SAMPLES = os.path.join(os.path.dirname(fake_release.REPO_ROOT), "shared", "istio-1.31", "samples")


def _objects(name):
    with open(os.path.join(SAMPLES, "addons", name + ".yaml"), encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


@pytest.fixture
def ns(harness):
    name = "real-%s" % uuid.uuid4().hex[:6]
    harness.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    harness.client.delete("/api/v1/namespaces/%s" % name)


def test_a_null_field_of_a_built_in_kind_is_not_stored(harness, ns):
    # prometheus.yaml says `strategy: {type: Recreate, rollingUpdate: null}`; Go's typed decoding drops the null.
    deployment = next(o for o in _objects("prometheus") if o["kind"] == "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate", "rollingUpdate": None}
    deployment["metadata"]["namespace"] = ns
    created = harness.client.create(deployment)
    assert created["spec"]["strategy"] == {"type": "Recreate"}
    stored = harness.client.get("/apis/apps/v1/namespaces/%s/deployments/prometheus" % ns)
    assert stored["spec"]["strategy"] == {"type": "Recreate"}
    assert stored["metadata"]["generation"] == 1


def test_a_null_field_sent_by_update_is_not_stored(harness, ns):
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns, "labels": {"a": "1"}},
              "data": {"k": "v"}}
    harness.client.create(config)
    path = "/api/v1/namespaces/%s/configmaps/c" % ns
    current = harness.client.get(path)
    current["metadata"]["labels"] = None
    harness.client.request("PUT", path, current)
    assert "labels" not in harness.client.get(path)["metadata"]


def _apply(harness, obj, manager="test"):
    meta = obj["metadata"]
    url = "/apis/apps/v1/namespaces/%s/deployments/%s" % (meta["namespace"], meta["name"])
    return harness.client.request("PATCH", url, json.dumps(obj).encode(), content_type="application/apply-patch+yaml",
                                  params={"fieldManager": manager})


def test_server_side_apply_keeps_ports_that_differ_only_by_protocol(harness, ns):
    # grafana.yaml declares 9094/TCP (gossip-tcp) and 9094/UDP (gossip-udp); server-side apply keys container ports
    # by containerPort and protocol, so both stay and a second apply of the same manifest changes nothing.
    deployment = next(o for o in _objects("grafana") if o["kind"] == "Deployment")
    deployment["metadata"]["namespace"] = ns
    declared = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert [(p["containerPort"], p["protocol"]) for p in declared if p["containerPort"] == 9094] == [(9094, "TCP"), (9094, "UDP")]
    first = _apply(harness, deployment)
    second = _apply(harness, deployment)
    assert second["spec"]["template"]["spec"]["containers"][0]["ports"] == declared
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert second["metadata"]["generation"] == 1
    # Dropping the UDP port from the manifest removes that port only.
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"] = [p for p in declared if p["name"] != "gossip-udp"]
    third = _apply(harness, deployment)
    assert [p["name"] for p in third["spec"]["template"]["spec"]["containers"][0]["ports"]] == [
        p["name"] for p in declared if p["name"] != "gossip-udp"]
