"""Pod lifetime as the kubelet reports it, driven by the rules a test sets (POST /_harness/pod-rules)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.harness.client import HarnessError
from tests.harness.fixtures import scratch_namespace

APPS = "/apis/apps/v1/namespaces/{ns}"


@pytest.fixture
def ns(harness):
    with scratch_namespace(harness, "life") as name:
        try:
            yield name
        finally:
            harness.client.clear_pod_rules()


def _deployment(ns, name, image, command=None):
    container = {"name": name, "image": image}
    if command:
        container["command"] = command
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def _until(read, check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _pod(client, ns, app):
    pods = client.list(f"/api/v1/namespaces/{ns}/pods", label_selector=f"app={app}")
    return pods[0] if pods else None


def _condition(obj, kind):
    return next((c for c in obj["status"].get("conditions", []) if c["type"] == kind), {})


def test_an_image_that_cannot_be_pulled_gives_err_image_pull_then_image_pull_back_off(harness, ns):
    client = harness.client
    client.set_pod_rules([{"namespace": ns, "image": "*:no-such-tag", "pull": "fail"}], backoffSeconds=0.5)
    client.create(_deployment(ns, "web", "docker.io/istio/examples-bookinfo-web:no-such-tag"))
    pod = _pod(client, ns, "web")
    status = pod["status"]["containerStatuses"][0]
    assert status["state"]["waiting"]["reason"] == "ErrImagePull"
    assert status["state"]["waiting"]["message"].startswith(
        "Error response from daemon: pull access denied for docker.io/istio/examples-bookinfo-web, repository does not exist")
    assert (pod["status"]["phase"], status["ready"], status["restartCount"]) == ("Pending", False, 0)
    assert _condition(pod, "Ready")["status"] == "False"
    assert _condition(pod, "Ready")["message"] == "containers with unready status: [web]"

    pod = _until(lambda: _pod(client, ns, "web"),
                 lambda p: p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff")
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"] == {
        "reason": "ImagePullBackOff", "message": 'Back-off pulling image "docker.io/istio/examples-bookinfo-web:no-such-tag"'}
    deployment = client.get(f"{APPS.format(ns=ns)}/deployments/web")
    assert _condition(deployment, "Available")["status"] == "False"
    assert deployment["status"].get("availableReplicas", 0) == 0
    # kubectl shows it as kubelet's users know it
    assert "ImagePullBackOff" in harness.kubectl("get", "pods", "-n", ns).stdout


def test_a_command_that_exits_non_zero_crash_loops_with_a_growing_restart_count(harness, ns):
    client = harness.client
    client.set_pod_rules([{"namespace": ns, "command": "*fail*", "exitCode": 3}], backoffSeconds=0.1)
    client.create(_deployment(ns, "crash", "busybox:1.36", ["sh", "-c", "fail now"]))
    pod = _until(lambda: _pod(client, ns, "crash"), lambda p: p["status"]["containerStatuses"][0]["restartCount"] >= 2)
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] >= 2 and pod["status"]["phase"] == "Running" and not status["ready"]
    assert status["lastState"]["terminated"]["exitCode"] == 3 and status["lastState"]["terminated"]["reason"] == "Error"
    waiting = _until(lambda: _pod(client, ns, "crash")["status"]["containerStatuses"][0],
                     lambda s: "waiting" in s["state"])["state"]["waiting"]
    assert waiting["reason"] == "CrashLoopBackOff"
    uid = pod["metadata"]["uid"]
    assert waiting["message"].startswith("back-off ") and waiting["message"].endswith(
        f" restarting failed container=crash pod={pod['metadata']['name']}_{ns}({uid})")
    assert _condition(client.get(f"{APPS.format(ns=ns)}/deployments/crash"), "Available")["status"] == "False"


def test_a_job_pod_runs_for_its_commands_duration_then_the_job_completes(harness, ns):
    client = harness.client
    client.set_pod_rules([{"namespace": ns, "command": "sleep 1*", "runSeconds": 1.0}])
    client.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "slow", "namespace": ns},
                   "spec": {"template": {"spec": {"restartPolicy": "Never",
                                                  "containers": [{"name": "run", "image": "busybox:1.36", "command": ["sleep", "1"]}]}}}})
    path = f"/apis/batch/v1/namespaces/{ns}/jobs/slow"
    started = time.monotonic()
    job = client.get(path)
    assert job["status"]["active"] == 1 and "succeeded" not in job["status"] and not job["status"].get("conditions")
    pods = client.list(f"/api/v1/namespaces/{ns}/pods", label_selector="job-name=slow")
    assert pods[0]["status"]["phase"] == "Running" and "running" in pods[0]["status"]["containerStatuses"][0]["state"]

    job = _until(lambda: client.get(path), lambda j: j["status"].get("succeeded") == 1)
    assert time.monotonic() - started >= 0.9
    assert job["status"]["succeeded"] == 1 and "active" not in job["status"]
    assert _condition(job, "Complete")["status"] == "True"
    pod = client.list(f"/api/v1/namespaces/{ns}/pods", label_selector="job-name=slow")[0]
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    harness.kubectl("wait", "--for=condition=Complete", "job/slow", "-n", ns, "--timeout=5s")


def test_a_failing_job_pod_is_replaced_until_the_backoff_limit(harness, ns):
    client = harness.client
    client.set_pod_rules([{"namespace": ns, "exitCode": 1}])
    client.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bad", "namespace": ns},
                   "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never",
                                                                     "containers": [{"name": "run", "image": "busybox:1.36"}]}}}})
    job = client.get(f"/apis/batch/v1/namespaces/{ns}/jobs/bad")
    assert job["status"]["failed"] == 2 and _condition(job, "Failed")["reason"] == "BackoffLimitExceeded"
    pods = client.list(f"/api/v1/namespaces/{ns}/pods", label_selector="job-name=bad")
    assert [p["status"]["phase"] for p in pods] == ["Failed", "Failed"]


def _running_pod(client, ns, grace=None):
    spec = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{uuid.uuid4().hex[:5]}", "namespace": ns}, "spec": spec})


def test_a_deleted_pod_terminates_for_its_grace_period_then_disappears(harness, ns):
    client = harness.client
    client.set_pod_rules([], maxGraceSeconds=1.0)
    pod = _running_pod(client, ns, grace=20)
    path = f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}"
    started = time.monotonic()
    answer = client.request("DELETE", path)
    assert answer["metadata"]["deletionGracePeriodSeconds"] == 20 and answer["metadata"]["deletionTimestamp"]
    terminating = client.get(path)
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 20
    assert terminating["metadata"]["deletionTimestamp"] > terminating["metadata"]["creationTimestamp"]
    assert _until(lambda: client.get(path), lambda p: p is None, timeout=5) is None
    assert time.monotonic() - started >= 0.9

    # DeleteOptions.gracePeriodSeconds wins over the pod's; 0 deletes at once.
    other = _running_pod(client, ns)
    other_path = f"/api/v1/namespaces/{ns}/pods/{other['metadata']['name']}"
    assert client.request("DELETE", other_path, {"gracePeriodSeconds": 5})["metadata"]["deletionGracePeriodSeconds"] == 5
    client.delete(other_path, grace=0)
    assert client.get(other_path) is None
    now = _running_pod(client, ns, grace=0)
    client.delete(now)
    assert client.get(f"/api/v1/namespaces/{ns}/pods/{now['metadata']['name']}") is None


def test_a_deleted_controlled_pod_is_replaced_while_it_terminates(harness, ns):
    client = harness.client
    client.set_pod_rules([], maxGraceSeconds=1.0)
    client.create(_deployment(ns, "web", "nginx:1.27"))
    old = _pod(client, ns, "web")
    client.delete(f"/api/v1/namespaces/{ns}/pods/{old['metadata']['name']}")
    pods = client.list(f"/api/v1/namespaces/{ns}/pods", label_selector="app=web")
    assert sorted(bool(p["metadata"].get("deletionTimestamp")) for p in pods) == [False, True]
    assert client.get(f"{APPS.format(ns=ns)}/deployments/web")["status"]["readyReplicas"] == 1
    pods = _until(lambda: client.list(f"/api/v1/namespaces/{ns}/pods", label_selector="app=web"), lambda items: len(items) == 1)
    assert [p["metadata"]["name"] != old["metadata"]["name"] for p in pods] == [True]


def test_kubectl_delete_waits_for_the_grace_period(harness, ns):
    harness.client.set_pod_rules([], maxGraceSeconds=0.5)
    pod = _running_pod(harness.client, ns)
    started = time.monotonic()
    harness.kubectl("delete", "pod", pod["metadata"]["name"], "-n", ns)
    assert time.monotonic() - started >= 0.45
    assert harness.client.get(f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}") is None


def test_bad_rules_are_refused(harness):
    with pytest.raises(HarnessError) as refused:
        harness.client.set_pod_rules([{"image": "x", "pul": "fail"}])
    assert refused.value.status == 400 and "unknown pod rule keys ['pul']" in refused.value.body["message"]
