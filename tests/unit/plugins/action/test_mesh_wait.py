"""istiolab.mesh.mesh_wait on the offline cluster: kubernetes.core.k8s_info's wait in slices, with a progress line
between two slices, read here from ansible-playbook's own output.

Three Deployments of two replicas each; ``slow``'s pods ask for more CPU than the node has, so they stay Pending
(4 of 6 pods ready) until the test lowers the request.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid

import pytest

PROGRESS = re.compile(r"^test pods ready (\d+)/(\d+), (\d+) s of (\d+)(?: \(waiting on ([^)]*)\))?$", re.M)


def deployment(namespace, name, cpu):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name, "wait-test": "yes"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": "nginx:1.27",
                                                           "resources": {"requests": {"cpu": cpu}}}]}}}}


NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "minikube", "labels": {"kubernetes.io/hostname": "minikube"}},
        "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


@pytest.fixture
def harness(fresh_harness):
    """An emulator of this test's own, with a 4-CPU node, so a pod that asks for more stays Pending."""
    fresh_harness.client.apply(NODE)
    return fresh_harness


@pytest.fixture
def workloads(harness):
    namespace = "wait-%s" % uuid.uuid4().hex[:8]
    items = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
             deployment(namespace, "fast", "10m"), deployment(namespace, "steady", "10m"), deployment(namespace, "slow", "5000")]
    for item in items:
        harness.client.apply(item)
    return namespace


def write_playbook(tmp_path, namespace, timeout, defaults=None, selector="wait-test=yes"):
    play = {"hosts": "localhost", "gather_facts": False,
            "tasks": [{"name": "Wait with progress.", "register": "waited",
                       "istiolab.mesh.mesh_wait": {"what": "test pods", "api_version": "apps/v1", "kind": "Deployment",
                                                   "namespace": namespace, "label_selectors": [selector],
                                                   "wait_timeout": timeout, "wait_sleep": 1, "progress_interval": 2}},
                      {"name": "Show the result.", "ansible.builtin.debug": {
                          "msg": "RESULT {{ {'names': waited.resources | map(attribute='metadata.name') | sort,"
                                 " 'ready': waited.ready, 'wanted': waited.wanted} | to_json }}"}}]}
    if defaults:
        play["module_defaults"] = defaults
    path = tmp_path / "wait.yml"
    path.write_text(json.dumps([play]))
    return path


def progress(stdout):
    return [(int(a), int(b), int(c), int(d), e) for a, b, c, d, e in PROGRESS.findall(stdout)]


def result_of(stdout):
    return json.loads(re.search(r"RESULT (\{.*\})'", stdout).group(1))


def test_a_wait_that_times_out_says_how_far_it_got(harness, workloads, tmp_path):
    run = harness.playbook(write_playbook(tmp_path, workloads, 6), check=False)
    assert run.returncode != 0, run.stdout
    lines = progress(run.stdout)
    assert lines, run.stdout
    assert {(ready, wanted, total, waiting) for ready, wanted, _s, total, waiting in lines} == {(4, 6, 6, "slow")}, lines
    seconds = [s for _r, _w, s, _t, _n in lines]
    assert seconds == sorted(seconds) and seconds[0] >= 2, seconds
    assert "test pods not ready: test pods ready 4/6" in run.stdout
    # The whole wait's timeout is named, never one slice's.
    assert set(re.findall(r"even after waiting for (\d+) seconds", run.stdout)) == {"6"}, run.stdout


def test_a_wait_that_ends_reports_progress_then_the_end(harness, workloads, tmp_path):
    def unblock():
        time.sleep(5)
        harness.kubectl("-n", workloads, "set", "resources", "deployment/slow", "--requests=cpu=10m")

    thread = threading.Thread(target=unblock)
    thread.start()
    try:
        run = harness.playbook(write_playbook(tmp_path, workloads, 60))
    finally:
        thread.join()
    lines = progress(run.stdout)
    assert lines and all(ready == 4 and wanted == 6 and waiting == "slow" for ready, wanted, _s, _t, waiting in lines), lines
    assert re.search(r"^test pods ready 6/6 after \d+ s$", run.stdout, re.M), run.stdout
    assert result_of(run.stdout) == {"names": ["fast", "slow", "steady"], "ready": 6, "wanted": 6}


def test_a_quick_wait_prints_nothing_and_returns_what_k8s_info_returns(harness, workloads, tmp_path):
    run = harness.playbook(write_playbook(tmp_path, workloads, 30, selector="app in (fast, steady)"))
    assert progress(run.stdout) == [] and "test pods ready" not in run.stdout, run.stdout
    assert result_of(run.stdout) == {"names": ["fast", "steady"], "ready": 4, "wanted": 4}
    checked = harness.playbook(write_playbook(tmp_path, workloads, 30, selector="app in (fast, steady)"), "--check")
    assert result_of(checked.stdout) == {"names": ["fast", "steady"], "ready": 4, "wanted": 4}


def test_the_plays_kubernetes_module_defaults_apply(harness, workloads, tmp_path):
    defaults = {"group/kubernetes.core.k8s": {"context": "no-such-context"}}
    run = harness.playbook(write_playbook(tmp_path, workloads, 30, defaults=defaults), check=False)
    assert run.returncode != 0 and "no-such-context" in run.stdout, run.stdout
