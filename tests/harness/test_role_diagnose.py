"""The bookinfo role's wait and diagnosis, run for real against the emulator with pods that never get ready.

Pod rules (POST /_harness/pod-rules) make one image unpullable and one container crash; the role's wait times out and
its diagnose step (roles/istio/tasks/diagnose.yml) must name each pod and what Kubernetes says about it.
"""

from __future__ import annotations

import os
import re
import uuid

from tests.harness import fake_istioctl_crds
from tests.harness.apiserver import lifecycle
from tests.harness.client import HarnessError

SAMPLES = os.path.join(lifecycle.REPO, "..", "shared", "istio-1.31", "samples")

PLAYBOOK = """
- name: Deploy Bookinfo and wait for it
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the bookinfo role's deploy step
      ansible.builtin.include_role:
        name: istiolab.mesh.bookinfo
        tasks_from: deploy
      vars:
        bookinfo_namespace: {namespace}
        bookinfo_samples_dir: {samples}
        bookinfo_wait_timeout: 3
        bookinfo_kube_context: ""  # the harness kubeconfig's current context (inventory's mesh_kube_context names minikube's)
        bookinfo_restart_uninjected: {restart}
"""


def install_crds(harness):
    for crd in fake_istioctl_crds.load():  # the Gateway, VirtualService and DestinationRule types the role applies
        try:
            harness.client.create(crd)
        except HarnessError as exc:
            if exc.status != 409:
                raise


def test_bookinfo_wait_diagnoses_image_pull_back_off_and_crash_loop(harness, tmp_path):
    namespace = f"diag-{uuid.uuid4().hex[:6]}"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(namespace=namespace, samples=os.path.realpath(SAMPLES), restart='true'))
    install_crds(harness)
    harness.client.set_pod_rules([
        {"namespace": namespace, "image": "*examples-bookinfo-ratings-v1:*", "pull": "fail"},
        {"namespace": namespace, "pod": "reviews-v2-*", "container": "reviews", "exitCode": 1},
    ], backoffSeconds=0.2)
    try:
        run = harness.playbook(playbook, check=False)
    finally:
        harness.client.clear_pod_rules()
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    ratings = next(p for p in harness.client.list(f"/api/v1/namespaces/{namespace}/pods", label_selector="app=ratings"))
    reviews = next(p for p in harness.client.list(f"/api/v1/namespaces/{namespace}/pods", label_selector="app=reviews,version=v2"))
    image = next(c["image"] for c in ratings["spec"]["containers"] if c["name"] == "ratings")
    assert "Bookinfo (productpage, details, ratings, reviews) is not ready (waited up to 3 s)" in output
    assert f'- {ratings["metadata"]["name"]} ImagePullBackOff: Back-off pulling image "{image}"; check the image name' in output, output
    assert re.search(rf"- {reviews['metadata']['name']} CrashLoopBackOff in container reviews \(\d+ restarts\); read its logs: "
                     rf"kubectl logs -n {namespace} {reviews['metadata']['name']} -c reviews --previous", output), output
    # only the two broken pods are named: the diagnosis has one line per pod, after its heading
    diagnosis = output.split("is not ready (waited up to 3 s):\n", 1)[1].split("\nOrigin:", 1)[0].splitlines()
    assert [line.split()[1] for line in diagnosis] == [ratings["metadata"]["name"], reviews["metadata"]["name"]], diagnosis
    harness.client.delete(f"/api/v1/namespaces/{namespace}")


def test_bookinfo_wait_diagnoses_pods_created_before_the_injection_label(harness, tmp_path):
    """Bookinfo applied by hand into a namespace without istio-injection=enabled runs without sidecars; with the role's
    restart of such pods turned off, its check fails and the diagnosis names each pod and what to do."""
    namespace = f"nosidecar-{uuid.uuid4().hex[:6]}"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(namespace=namespace, samples=os.path.realpath(SAMPLES), restart="false"))
    install_crds(harness)
    harness.kubectl("create", "namespace", namespace)
    harness.kubectl("apply", "-n", namespace, "-f", os.path.join(SAMPLES, "bookinfo", "platform", "kube", "bookinfo.yaml"))
    run = harness.playbook(playbook, check=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    pods = harness.client.list(f"/api/v1/namespaces/{namespace}/pods")
    assert pods and all("istio-proxy" not in [c["name"] for c in p["spec"].get("containers", []) + p["spec"].get("initContainers", [])]
                        for p in pods), "the pods were injected after all"
    for pod in pods:
        assert (f'- {pod["metadata"]["name"]} sidecar missing: namespace {namespace} not labelled istio-injection=enabled '
                'when the pod was created; label it and restart the deployment') in output, output
    harness.client.delete(f"/api/v1/namespaces/{namespace}")


def test_bookinfo_wait_diagnoses_pods_no_node_takes(fresh_harness, tmp_path):
    """With minikube's only node tainted NoSchedule, the Bookinfo pods stay Pending (PodScheduled=False/Unschedulable)
    and the diagnosis names each one with the scheduler's reason."""
    harness, namespace = fresh_harness, f"pending-{uuid.uuid4().hex[:6]}"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(namespace=namespace, samples=os.path.realpath(SAMPLES), restart="true"))
    install_crds(harness)
    harness.client.apply({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "minikube", "labels": {"kubernetes.io/hostname": "minikube"}},
        "spec": {"taints": [{"key": "istiolab.test/full", "value": "yes", "effect": "NoSchedule"}]},
        "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}, "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})
    run = harness.playbook(playbook, check=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    pods = harness.client.list(f"/api/v1/namespaces/{namespace}/pods")
    assert pods and all(p["status"].get("phase") == "Pending" for p in pods), [p["status"].get("phase") for p in pods]
    for pod in pods:
        assert re.search(rf"- {pod['metadata']['name']} Pending: not scheduled: 0/1 nodes are available: "
                         r"1 node\(s\) had untolerated taint \{istiolab.test/full: yes\}", output), output
