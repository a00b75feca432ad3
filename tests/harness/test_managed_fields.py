"""metadata.managedFields and server-side apply conflicts, with real kubectl and kubernetes.core."""

from __future__ import annotations

import json

import pytest

from tests.harness.client import HarnessError
from tests.harness.fixtures import scratch_namespace


@pytest.fixture
def ns(harness):
    with scratch_namespace(harness, "mf") as name:
        yield name


def _config_map(ns, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns, "labels": {"app": "demo"}}, "data": data}


def _deployment(ns, replicas, image="nginx:1.27"):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}}}


def _entries(obj):
    return {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}


def _apply(harness, obj, manager, force=False):
    path = harness.client.path_for(obj)
    params = {"fieldManager": manager}
    if force:
        params["force"] = "true"
    return harness.client.request("PATCH", path, json.dumps(obj).encode(), "application/apply-patch+yaml", params)


def test_every_write_records_its_manager_and_fields(harness, ns):
    client = harness.client
    created = client.request("POST", f"/api/v1/namespaces/{ns}/configmaps", _config_map(ns, a="1"), params={"fieldManager": "maker"})
    (entry,) = created["metadata"]["managedFields"]
    assert entry["manager"] == "maker" and entry["operation"] == "Update" and entry["apiVersion"] == "v1"
    assert entry["fieldsType"] == "FieldsV1" and entry["time"].endswith("Z")
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}

    patched = client.patch(f"/api/v1/namespaces/{ns}/configmaps/cfg", {"data": {"b": "2"}})  # no fieldManager: the User-Agent's
    entries = _entries(patched)
    assert entries[("harness-client", "Update")]["fieldsV1"] == {"f:data": {"f:b": {}}}
    assert entries[("maker", "Update")]["fieldsV1"]["f:data"] == {"f:a": {}}
    # an update that changes nothing changes no managedFields and no resourceVersion
    again = client.patch(f"/api/v1/namespaces/{ns}/configmaps/cfg", {"data": {"b": "2"}})
    assert again["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]

    applied = _apply(harness, _deployment(ns, 2), "ssa")
    fields = _entries(applied)[("ssa", "Apply")]["fieldsV1"]
    assert fields["f:spec"]["f:replicas"] == {}
    assert fields["f:spec"]["f:template"]["f:spec"]["f:containers"] == {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}


def test_server_side_apply_conflicts_with_another_managers_field_unless_forced(harness, ns):
    client = harness.client
    _apply(harness, _deployment(ns, 2), "alice")
    with pytest.raises(HarnessError) as refused:
        _apply(harness, _deployment(ns, 3), "bob")
    body = refused.value.body
    assert (refused.value.status, body["reason"], body["code"]) == (409, "Conflict", 409)
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas'
    assert body["details"]["causes"] == [{"type": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".spec.replicas"}]
    assert client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")["spec"]["replicas"] == 2

    # the same value is shared ownership, no conflict
    shared = _apply(harness, _deployment(ns, 2), "bob")
    assert all("f:replicas" in _entries(shared)[(m, "Apply")]["fieldsV1"]["f:spec"] for m in ("alice", "bob"))

    # two fields owned by an Update manager, as kube-apiserver lists them
    client.request("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/web", {"spec": {"replicas": 4}},
                   "application/merge-patch+json", {"fieldManager": "scaler"})
    with pytest.raises(HarnessError) as two:
        _apply(harness, _deployment(ns, 5, image="nginx:1.28"), "alice")
    assert two.value.status == 409
    assert two.value.body["message"] == ('Apply failed with 2 conflicts: conflicts with "bob":\n'
                                         '- .spec.template.spec.containers[name="web"].image\n'
                                         'conflicts with "scaler" using apps/v1:\n- .spec.replicas')

    forced = _apply(harness, _deployment(ns, 5), "bob", force=True)
    assert forced["spec"]["replicas"] == 5
    entries = _entries(forced)
    assert "f:replicas" in entries[("bob", "Apply")]["fieldsV1"]["f:spec"]
    assert ("scaler", "Update") not in entries or "f:replicas" not in entries[("scaler", "Update")]["fieldsV1"].get("f:spec", {})


def test_kubectl_server_side_apply_conflict_and_force_conflicts(harness, ns, tmp_path):
    first, second = tmp_path / "one.json", tmp_path / "two.json"
    first.write_text(json.dumps(_config_map(ns, color="blue")))
    second.write_text(json.dumps(_config_map(ns, color="red")))
    harness.kubectl("apply", "--server-side", "-f", str(first))
    refused = harness.kubectl("apply", "--server-side", "--field-manager=other", "-f", str(second), check=False)
    assert refused.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .data.color' in refused.stderr
    harness.kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", str(second))
    shown = json.loads(harness.kubectl("get", "configmap", "cfg", "-n", ns, "-o", "json", "--show-managed-fields").stdout)
    assert shown["data"] == {"color": "red"}
    owners = {e["manager"]: e["fieldsV1"] for e in shown["metadata"]["managedFields"]}
    assert "f:color" in owners["other"]["f:data"] and "f:data" not in owners.get("kubectl", {})


PLAYBOOK = """
- name: Server-side apply with kubernetes.core
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Apply with a field manager that does not own the field
      kubernetes.core.k8s:
        state: present
        apply: true
        definition: {definition}
        server_side_apply:
          field_manager: ansible-b
      register: refused
      ignore_errors: true
    - name: Force it
      kubernetes.core.k8s:
        state: present
        apply: true
        definition: {definition}
        server_side_apply:
          field_manager: ansible-b
          force_conflicts: true
      register: forced
    - name: Save what happened
      ansible.builtin.copy:
        dest: {results}
        content: "{{{{ {{'refused': refused.failed, 'msg': refused.msg | default(''), 'forced': forced.changed}} | to_json }}}}"
        mode: "0600"
"""


def test_kubernetes_core_server_side_apply_conflict(harness, ns, tmp_path):
    _apply(harness, _config_map(ns, color="blue"), "ansible-a")
    results = tmp_path / "results.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(definition=json.dumps(_config_map(ns, color="red")), results=results))
    harness.playbook(playbook)
    got = json.loads(results.read_text())
    assert got["refused"] is True and 'Apply failed with 1 conflict: conflict with \\"ansible-a\\": .data.color' in got["msg"], got
    assert got["forced"] is True
    assert harness.client.get(f"/api/v1/namespaces/{ns}/configmaps/cfg")["data"] == {"color": "red"}
