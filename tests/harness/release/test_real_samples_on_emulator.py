"""The emulator takes Istio's real samples as kube-apiserver takes them (the fake release ships them)."""

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
