"""kubernetes.core.k8s / k8s_info (the python kubernetes client) against the emulator, through ansible-playbook."""

from __future__ import annotations

import json
import uuid

PLAYBOOK = """
- name: Exercise kubernetes.core against the offline cluster
  hosts: localhost
  gather_facts: false
  vars:
    namespace: {namespace}
    group: {group}
    deployment:
      apiVersion: apps/v1
      kind: Deployment
      metadata: {{name: api, namespace: "{{{{ namespace }}}}", labels: {{app: api}}}}
      spec:
        replicas: 2
        selector: {{matchLabels: {{app: api}}}}
        template:
          metadata: {{labels: {{app: api}}}}
          spec:
            containers:
              - {{name: api, image: "nginx:1.27", ports: [{{containerPort: 8080}}], env: [{{name: MODE, value: demo}}]}}
    crd:
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata: {{name: "gadgets.{{{{ group }}}}"}}
      spec:
        group: "{{{{ group }}}}"
        scope: Namespaced
        names: {{kind: Gadget, plural: gadgets, singular: gadget}}
        versions:
          - {{name: v1, served: true, storage: true, schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}}}
    gadget:
      apiVersion: "{{{{ group }}}}/v1"
      kind: Gadget
      metadata: {{name: g1, namespace: "{{{{ namespace }}}}"}}
      spec: {{colour: blue}}
  tasks:
    - name: Create the namespace in check mode
      kubernetes.core.k8s:
        definition: {{apiVersion: v1, kind: Namespace, metadata: {{name: "{{{{ namespace }}}}", labels: {{istio-injection: enabled}}}}}}
      check_mode: true
      register: check_namespace
    - name: Read the namespace back
      kubernetes.core.k8s_info: {{kind: Namespace, name: "{{{{ namespace }}}}"}}
      register: after_check
    - name: Create the namespace
      kubernetes.core.k8s:
        definition: {{apiVersion: v1, kind: Namespace, metadata: {{name: "{{{{ namespace }}}}", labels: {{istio-injection: enabled}}}}}}
      register: namespace_created
    - name: Apply the deployment in check mode
      kubernetes.core.k8s: {{definition: "{{{{ deployment }}}}", apply: true}}
      check_mode: true
      register: check_deployment
    - name: Apply the deployment and wait for it
      kubernetes.core.k8s: {{definition: "{{{{ deployment }}}}", apply: true, wait: true, wait_timeout: 30}}
      register: apply_1
    - name: Apply it again
      kubernetes.core.k8s: {{definition: "{{{{ deployment }}}}", apply: true}}
      register: apply_2
    - name: Present it again (strategic merge patch)
      kubernetes.core.k8s: {{definition: "{{{{ deployment }}}}", state: present, wait: true, wait_condition: {{type: Available, status: "True"}}}}
      register: present_2
    - name: Apply a changed replica count in check mode
      kubernetes.core.k8s: {{definition: "{{{{ deployment | combine({{'spec': {{'replicas': 3}}}}, recursive=true) }}}}", apply: true}}
      check_mode: true
      register: check_scale
    - name: Read the ready pods of the deployment
      kubernetes.core.k8s_info:
        kind: Pod
        namespace: "{{{{ namespace }}}}"
        label_selectors: [app=api]
        field_selectors: [status.phase=Running]
        wait: true
        wait_timeout: 30
      register: pods
    - name: Register a CRD
      kubernetes.core.k8s: {{definition: "{{{{ crd }}}}", wait: true, wait_condition: {{type: Established, status: "True"}}}}
      register: crd_created
    - name: Create a custom resource of the new type
      kubernetes.core.k8s: {{definition: "{{{{ gadget }}}}", apply: true}}
      register: gadget_1
    - name: Apply it again
      kubernetes.core.k8s: {{definition: "{{{{ gadget }}}}", apply: true}}
      register: gadget_2
    - name: Present it again (falls back from strategic to merge patch for custom resources)
      kubernetes.core.k8s: {{definition: "{{{{ gadget }}}}", state: present}}
      register: gadget_3
    - name: Read it with k8s_info
      kubernetes.core.k8s_info: {{api_version: "{{{{ group }}}}/v1", kind: Gadget, namespace: "{{{{ namespace }}}}"}}
      register: gadgets
    - name: Write what happened for the test to check
      ansible.builtin.copy:
        dest: "{results}"
        mode: "0644"
        content: "{{{{ {{'check_namespace': check_namespace.changed, 'after_check': after_check.resources | length,
                     'namespace_created': namespace_created.changed, 'check_deployment': check_deployment.changed,
                     'apply_1': apply_1.changed, 'apply_2': apply_2.changed, 'present_2': present_2.changed,
                     'check_scale': [check_scale.changed, check_scale.result.spec.replicas],
                     'pods': pods.resources, 'crd_created': crd_created.changed,
                     'gadgets': [gadget_1.changed, gadget_2.changed, gadget_3.changed],
                     'gadget_items': gadgets.resources | map(attribute='spec') | list}} | to_json }}}}"
"""


def test_kubernetes_core_check_mode_idempotence_crd_and_injection(harness, tmp_path):
    namespace = f"kc-{uuid.uuid4().hex[:6]}"
    group = f"g{uuid.uuid4().hex[:6]}.example.com"
    results = tmp_path / "results.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(namespace=namespace, group=group, results=results))
    harness.client.reset_stats()

    run = harness.playbook(playbook)
    assert "failed=0" in run.stdout
    got = json.loads(results.read_text())

    assert got["check_namespace"] is True and got["after_check"] == 0, "check mode must report the change and create nothing"
    assert got["namespace_created"] and got["check_deployment"] and got["apply_1"]
    assert (got["apply_2"], got["present_2"]) == (False, False), "a second identical apply must not change anything"
    assert got["check_scale"] == [True, 3]
    assert harness.client.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/api")["spec"]["replicas"] == 2
    assert harness.client.stats()["dry_run"] >= 2

    assert len(got["pods"]) == 2
    for pod in got["pods"]:
        containers = pod["spec"]["containers"] + [c for c in pod["spec"]["initContainers"] if c.get("restartPolicy") == "Always"]
        assert [c["name"] for c in containers] == ["api", "istio-proxy"]
        statuses = pod["status"]["containerStatuses"] + pod["status"]["initContainerStatuses"]
        assert sum(1 for s in statuses if s["ready"] and "running" in s["state"]) == 2

    assert got["crd_created"] and got["gadgets"] == [True, False, False]
    assert got["gadget_items"] == [{"colour": "blue"}]
    harness.kubectl("delete", "namespace", namespace)
    harness.kubectl("delete", "crd", f"gadgets.{group}")
