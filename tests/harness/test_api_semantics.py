"""API behaviour the roles rely on, checked over HTTP with the harness client."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.harness.client import HarnessError
from tests.harness.fixtures import scratch_namespace

APPS = "/apis/apps/v1/namespaces/{ns}"


@pytest.fixture
def ns(harness):
    with scratch_namespace(harness, "api") as name:
        yield name


def _deployment(ns, name="web", replicas=1, image="nginx:1.27"):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image, "env": [{"name": "A", "value": "1"}]}]}}}}


def _pods(harness, ns, selector=None):
    return harness.client.list(f"/api/v1/namespaces/{ns}/pods", label_selector=selector)


def test_metadata_and_no_op_writes(harness, ns):
    client = harness.client
    created = client.create(_deployment(ns))
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["generation"] == 1
    path = f"{APPS.format(ns=ns)}/deployments/web"
    current = client.get(path)
    same = client.patch(path, {"spec": {"replicas": 1}})
    assert same["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]

    labelled = client.patch(path, {"metadata": {"labels": {"tier": "front"}}})
    assert int(labelled["metadata"]["resourceVersion"]) > int(current["metadata"]["resourceVersion"])
    assert labelled["metadata"]["generation"] == 1
    scaled = client.patch(path, {"spec": {"replicas": 2}})
    assert scaled["metadata"]["generation"] == 2 and scaled["status"]["observedGeneration"] == 2
    assert scaled["status"]["readyReplicas"] == 2


def test_errors_use_the_status_format(harness, ns):
    with pytest.raises(HarnessError) as missing:
        harness.client.request("GET", f"{APPS.format(ns=ns)}/deployments/nope")
    assert missing.value.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": 'deployments.apps "nope" not found', "reason": "NotFound",
                                  "details": {"name": "nope", "group": "apps", "kind": "deployments"}, "code": 404}
    harness.client.create(_deployment(ns))
    with pytest.raises(HarnessError) as conflict:
        harness.client.create(_deployment(ns))
    assert (conflict.value.status, conflict.value.body["reason"]) == (409, "AlreadyExists")
    stale = harness.client.get(f"{APPS.format(ns=ns)}/deployments/web")
    harness.client.patch(f"{APPS.format(ns=ns)}/deployments/web", {"metadata": {"labels": {"x": "1"}}})
    with pytest.raises(HarnessError) as outdated:
        harness.client.request("PUT", f"{APPS.format(ns=ns)}/deployments/web", stale)
    assert (outdated.value.status, outdated.value.body["reason"]) == (409, "Conflict")
    with pytest.raises(HarnessError) as invalid:
        harness.client.create(dict(_deployment(ns, "bad"), spec={"selector": {"matchLabels": {"a": "b"}}, "template": {}}))
    assert (invalid.value.status, invalid.value.body["reason"]) == (422, "Invalid")
    with pytest.raises(HarnessError) as no_namespace:
        harness.client.create(_deployment("absent-namespace"))
    assert no_namespace.value.body["message"] == 'namespaces "absent-namespace" not found'


def test_patch_flavours(harness, ns):
    client = harness.client
    client.create(_deployment(ns))
    path = f"{APPS.format(ns=ns)}/deployments/web"
    strategic = client.patch(path, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "B", "value": "2"}]}, {"name": "side", "image": "busybox:1.36"}]}}}}, "strategic")
    containers = strategic["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx:1.27"), ("side", "busybox:1.36")]
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]

    merged = client.patch(path, {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox:1.36"}]}}}}, "merge")
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["only"]

    patched = client.patch(path, [{"op": "replace", "path": "/spec/replicas", "value": 3},
                                  {"op": "add", "path": "/metadata/labels/extra", "value": "yes"}], "json")
    assert patched["spec"]["replicas"] == 3 and patched["metadata"]["labels"]["extra"] == "yes"
    with pytest.raises(HarnessError) as failed:
        client.patch(path, [{"op": "test", "path": "/spec/replicas", "value": 9}], "json")
    assert failed.value.status == 422


def test_server_side_apply_creates_updates_and_removes_fields(harness, ns):
    client = harness.client
    path = f"/api/v1/namespaces/{ns}/configmaps/settings"
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns, "labels": {"a": "1"}},
               "data": {"one": "1", "two": "2"}}

    def apply(body, manager="roles", **params):
        return client.request("PATCH", path, json.dumps(body).encode(), "application/apply-patch+yaml",
                              dict(fieldManager=manager, **params))

    assert apply(applied)["data"] == {"one": "1", "two": "2"}
    unchanged = apply(applied)
    client.patch(path, {"data": {"other": "kept"}})
    applied["data"] = {"one": "1"}
    del applied["metadata"]["labels"]
    result = apply(applied)
    assert result["data"] == {"one": "1", "other": "kept"} and "a" not in result["metadata"].get("labels", {})
    assert int(result["metadata"]["resourceVersion"]) > int(unchanged["metadata"]["resourceVersion"])
    with pytest.raises(HarnessError) as no_manager:
        client.request("PATCH", path, json.dumps(applied).encode(), "application/apply-patch+yaml")
    assert no_manager.value.status == 400
    dry = apply(dict(applied, data={"one": "changed"}), dryRun="All")
    assert dry["data"]["one"] == "changed" and client.get(path)["data"]["one"] == "1"


def test_dry_run_stores_nothing(harness, ns):
    client = harness.client
    before = client.stats()["writes"]
    created = client.request("POST", f"{APPS.format(ns=ns)}/deployments", _deployment(ns), params={"dryRun": "All"})
    assert created["metadata"]["uid"] and client.get(f"{APPS.format(ns=ns)}/deployments/web") is None
    assert _pods(harness, ns) == []
    client.create(_deployment(ns))
    path = f"{APPS.format(ns=ns)}/deployments/web"
    revision = client.get(path)["metadata"]["resourceVersion"]
    client.request("PATCH", path, {"spec": {"replicas": 5}}, "application/merge-patch+json", {"dryRun": "All"})
    client.request("DELETE", path, params={"dryRun": "All"})
    assert client.get(path)["metadata"]["resourceVersion"] == revision and len(_pods(harness, ns)) == 1
    assert client.stats()["writes"] == before + 1


def test_selectors(harness, ns):
    client = harness.client
    for name, tier in (("a", "front"), ("b", "back"), ("c", None)):
        labels = {"app": "shop", **({"tier": tier} if tier else {})}
        client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels}})

    def names(**kwargs):
        return [o["metadata"]["name"] for o in client.list(f"/api/v1/namespaces/{ns}/configmaps", **kwargs)]

    assert names(label_selector="tier=front") == ["a"]
    assert names(label_selector="tier in (front,back)") == ["a", "b"]
    assert names(label_selector="app=shop,tier notin (front)") == ["b", "c"]
    assert names(label_selector="!tier") == ["c", "kube-root-ca.crt"]
    assert names(label_selector="tier,tier!=back") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector=f"metadata.namespace={ns},metadata.name!=a") == ["b", "c", "kube-root-ca.crt"]
    listed = client.list("/api/v1/configmaps", field_selector=f"metadata.namespace={ns}")
    assert [(o["kind"], o["apiVersion"]) for o in listed] == [("ConfigMap", "v1")] * 4
    with pytest.raises(HarnessError) as refused:
        names(field_selector="data.x=1")
    assert refused.value.status == 400


def test_namespace_deletion_terminates_then_removes_everything(harness):
    client = harness.client
    name = f"gone-{uuid.uuid4().hex[:6]}"
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    client.create(_deployment(name))
    deleted = client.request("DELETE", f"/api/v1/namespaces/{name}")
    assert deleted["status"]["phase"] == "Terminating" and deleted["metadata"]["deletionTimestamp"]
    with pytest.raises(HarnessError) as refused:
        client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late", "namespace": name}})
    assert refused.value.status == 403
    assert client.delete(f"{APPS.format(ns=name)}/deployments/web") is True
    assert client.get(f"/api/v1/namespaces/{name}") is None
    assert [o for o in client.objects() if o["metadata"].get("namespace") == name] == []


def test_ownership_and_garbage_collection(harness, ns):
    client = harness.client
    client.create(_deployment(ns, replicas=2))
    pods = _pods(harness, ns, "app=web")
    replicaset = client.list(f"{APPS.format(ns=ns)}/replicasets")[0]
    assert pods[0]["metadata"]["name"].startswith(replicaset["metadata"]["name"] + "-")
    assert pods[0]["metadata"]["labels"]["pod-template-hash"] == replicaset["metadata"]["name"].rsplit("-", 1)[1]

    client.delete(f"/api/v1/namespaces/{ns}/pods/{pods[0]['metadata']['name']}", grace=0)  # grace: test_pod_lifetime.py
    replaced = _pods(harness, ns, "app=web")
    assert len(replaced) == 2 and pods[0]["metadata"]["name"] not in [p["metadata"]["name"] for p in replaced]

    client.delete(f"{APPS.format(ns=ns)}/deployments/web", propagation="Orphan")
    orphans = client.list(f"{APPS.format(ns=ns)}/replicasets")
    assert len(orphans) == 1 and "ownerReferences" not in orphans[0]["metadata"]
    client.delete(f"{APPS.format(ns=ns)}/replicasets/{orphans[0]['metadata']['name']}")
    assert _pods(harness, ns) == []


def test_services_keep_their_allocations(harness, ns):
    client = harness.client
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gw", "namespace": ns},
           "spec": {"type": "LoadBalancer", "selector": {"app": "gw"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    created = client.create(svc)
    port = created["spec"]["ports"][0]
    assert 30000 <= port["nodePort"] <= 32767 and port["protocol"] == "TCP"
    assert created["status"] == {"loadBalancer": {}}
    replaced = client.apply(svc)
    assert replaced["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert replaced["spec"]["ports"][0]["nodePort"] == port["nodePort"]
    headless = client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": ns},
                              "spec": {"clusterIP": "None", "ports": [{"port": 5432}]}})
    assert headless["spec"]["clusterIP"] == "None" and "nodePort" not in headless["spec"]["ports"][0]


def test_statefulset_daemonset_and_job_controllers(harness, ns):
    client = harness.client
    template = {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres:17"}]}}
    client.create({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": ns},
                   "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": template,
                            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                                      "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
    sts = client.get(f"{APPS.format(ns=ns)}/statefulsets/db")
    assert (sts["status"]["readyReplicas"], sts["status"]["currentRevision"] == sts["status"]["updateRevision"]) == (2, True)
    assert [p["metadata"]["name"] for p in _pods(harness, ns, "app=db")] == ["db-0", "db-1"]
    claims = client.list(f"/api/v1/namespaces/{ns}/persistentvolumeclaims")
    assert [(c["metadata"]["name"], c["status"]["phase"]) for c in claims] == [("data-db-0", "Bound"), ("data-db-1", "Bound")]

    client.create({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": ns},
                   "spec": {"selector": {"matchLabels": {"app": "agent"}},
                            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "busybox:1.36"}]}}}})
    ds = client.get(f"{APPS.format(ns=ns)}/daemonsets/agent")["status"]
    assert ds["desiredNumberScheduled"] == ds["numberReady"] == len(_pods(harness, ns, "app=agent")) >= 1

    client.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": ns},
                   "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "run", "image": "busybox:1.36"}]}}}})
    job = client.get(f"/apis/batch/v1/namespaces/{ns}/jobs/once")
    assert job["status"]["succeeded"] == 1 and {c["type"] for c in job["status"]["conditions"]} == {"SuccessCriteriaMet", "Complete"}
    assert [p["status"]["phase"] for p in _pods(harness, ns, "job-name=once")] == ["Succeeded"]


def test_crd_registers_and_unregisters_its_type(harness, ns):
    client = harness.client
    group = f"g{uuid.uuid4().hex[:6]}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": f"dials.{group}"},
           "spec": {"group": group, "scope": "Cluster", "names": {"kind": "Dial", "plural": "dials"},
                    "versions": [{"name": "v1alpha1", "served": True, "storage": False}, {"name": "v1", "served": True, "storage": True}]}}
    client.create(crd)
    assert client.get(f"/apis/{group}")["preferredVersion"]["version"] == "v1"
    assert any(g["name"] == group for g in client.get("/apis")["groups"])
    client.create({"apiVersion": f"{group}/v1alpha1", "kind": "Dial", "metadata": {"name": "d1"}, "spec": {"level": 3}})
    assert client.get(f"/apis/{group}/v1/dials/d1")["apiVersion"] == f"{group}/v1"
    established = client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/dials.{group}")["status"]["conditions"]
    assert {c["type"]: c["status"] for c in established} == {"NamesAccepted": "True", "Established": "True"}
    with pytest.raises(HarnessError) as strategic:
        client.patch(f"/apis/{group}/v1/dials/d1", {"spec": {"level": 4}}, "strategic")
    assert strategic.value.status == 415
    client.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/dials.{group}")
    assert client.get(f"/apis/{group}/v1") is None and client.get(f"/apis/{group}/v1/dials/d1") is None
    assert not any(g["name"] == group for g in client.get("/apis")["groups"])


def test_watch_streams_changes(harness, ns):
    client = harness.client
    revision = client.request("GET", f"/api/v1/namespaces/{ns}/configmaps")["metadata"]["resourceVersion"]
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w", "namespace": ns}, "data": {"k": "1"}})
    client.patch(f"/api/v1/namespaces/{ns}/configmaps/w", {"data": {"k": "2"}})
    client.delete(f"/api/v1/namespaces/{ns}/configmaps/w")
    url = f"{harness.server}/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=1&resourceVersion={revision}"
    with client.urlopen(url, timeout=10) as response:
        events = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    assert [(e["type"], e["object"]["data"]["k"]) for e in events] == [("ADDED", "1"), ("MODIFIED", "2"), ("DELETED", "2")]


def test_every_namespace_holds_the_root_ca_configmap_and_gets_it_back(harness, ns):
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    client = harness.client
    bundles = set()
    for namespace in ("default", "kube-system", "kube-public", "kube-node-lease", ns):
        config = client.get(f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt")
        assert config is not None, namespace
        assert set(config["data"]) == {"ca.crt"}
        assert config["metadata"]["annotations"]["kubernetes.io/description"].startswith("Contains a CA bundle")
        bundles.add(config["data"]["ca.crt"])
    assert len(bundles) == 1
    bundle = bundles.pop()
    cert = x509.load_pem_x509_certificate(bundle.encode())
    assert cert.subject.rfc4514_string() == "CN=minikubeCA" == cert.issuer.rfc4514_string()
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    client.delete(f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt")
    assert client.get(f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt")["data"]["ca.crt"] == bundle


def test_delete_preconditions_on_uid_and_resource_version_give_409(harness, ns):
    client = harness.client
    path = f"/api/v1/namespaces/{ns}/configmaps/guarded"
    created = client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "guarded", "namespace": ns}, "data": {"a": "1"}})
    uid, version = created["metadata"]["uid"], created["metadata"]["resourceVersion"]
    for preconditions, message in (
            ({"uid": "0000"}, f"UID in precondition: 0000, UID in object meta: {uid}"),
            ({"resourceVersion": "1"}, f"ResourceVersion in precondition: 1, ResourceVersion in object meta: {version}")):
        with pytest.raises(HarnessError) as refused:
            client.request("DELETE", path, {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions})
        assert refused.value.status == 409
        assert refused.value.body["reason"] == "Conflict"
        assert refused.value.body["message"] == f'Operation cannot be fulfilled on configmaps "guarded": Precondition failed: {message}'
        assert client.get(path) is not None
    client.request("DELETE", path, {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid, "resourceVersion": version}})
    assert client.get(path) is None


def test_a_paused_deployment_does_not_roll_out_and_reports_deployment_paused(harness, ns):
    client = harness.client
    path = f"{APPS.format(ns=ns)}/deployments/web"
    client.create(_deployment(ns, replicas=2))
    harness.kubectl("rollout", "pause", "deployment/web", "-n", ns)
    client.patch(path, {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}, patch_type="strategic")
    client.patch(path, {"spec": {"replicas": 3}})
    paused = client.get(path)
    progressing = next(c for c in paused["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"], progressing["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")
    assert paused["status"]["observedGeneration"] == paused["metadata"]["generation"]
    replica_sets = client.list(f"{APPS.format(ns=ns)}/replicasets")
    assert len(replica_sets) == 1 and replica_sets[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert sorted(p["spec"]["containers"][0]["image"] for p in _pods(harness, ns)) == ["nginx:1.27"] * 3
    assert paused["status"].get("updatedReplicas", 0) == 0 and paused["status"]["availableReplicas"] == 3

    harness.kubectl("rollout", "resume", "deployment/web", "-n", ns)
    resumed = client.get(path)
    progressing = next(c for c in resumed["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "NewReplicaSetAvailable")
    assert sorted(p["spec"]["containers"][0]["image"] for p in _pods(harness, ns)) == ["nginx:1.28"] * 3


def test_service_account_admission_refuses_pods_until_the_account_exists(harness, ns):
    client = harness.client
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lonely", "namespace": ns},
           "spec": {"serviceAccountName": "bookinfo-reviews", "containers": [{"name": "app", "image": "busybox:1.36"}]}}
    with pytest.raises(HarnessError) as refused:
        client.create(pod)
    assert refused.value.status == 403 and refused.value.body["reason"] == "Forbidden"
    assert refused.value.body["message"] == (f'pods "lonely" is forbidden: error looking up service account {ns}/bookinfo-reviews: '
                                             'serviceaccount "bookinfo-reviews" not found')

    deployment = _deployment(ns, name="reviews", replicas=2)
    deployment["spec"]["template"]["spec"]["serviceAccountName"] = "bookinfo-reviews"
    client.create(deployment)
    assert _pods(harness, ns) == []
    (replica_set,) = client.list(f"{APPS.format(ns=ns)}/replicasets")
    failure = [c for c in replica_set["status"].get("conditions", []) if c["type"] == "ReplicaFailure"]
    assert [(c["status"], c["reason"]) for c in failure] == [("True", "FailedCreate")]
    assert failure[0]["message"].startswith(f'pods "{replica_set["metadata"]["name"]}-')
    assert failure[0]["message"].endswith(f'is forbidden: error looking up service account {ns}/bookinfo-reviews: '
                                          'serviceaccount "bookinfo-reviews" not found')
    status = client.get(f"{APPS.format(ns=ns)}/deployments/reviews")["status"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Available": "False", "Progressing": "True", "ReplicaFailure": "True"}
    assert status.get("availableReplicas", 0) == 0

    client.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bookinfo-reviews", "namespace": ns}})
    assert len(_pods(harness, ns)) == 2
    status = client.get(f"{APPS.format(ns=ns)}/deployments/reviews")["status"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Available": "True", "Progressing": "True"}
    assert status["availableReplicas"] == 2


def _node(name, labels=None, taints=None, cpu="2", memory="4Gi"):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": dict({"kubernetes.io/hostname": name}, **(labels or {}))},
            "spec": {"taints": taints} if taints else {},
            "status": {"capacity": {"cpu": cpu, "memory": memory, "pods": "110"}, "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def _scheduled(pod):
    return next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")


def test_pods_no_node_fits_stay_pending_unschedulable(fresh_harness):
    client = fresh_harness.client
    client.apply(_node("minikube", {"disk": "ssd"}))

    def pod(name, **spec):
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                "spec": dict({"containers": [{"name": "app", "image": "busybox:1.36"}]}, **spec)}
        return client.create(body)

    fits = pod("fits", nodeSelector={"disk": "ssd"})
    assert fits["spec"]["nodeName"] == "minikube" and fits["status"]["phase"] == "Running"
    for name, spec, message in (
            ("selector", {"nodeSelector": {"disk": "hdd"}},
             "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
             "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."),
            ("greedy", {"containers": [{"name": "app", "image": "busybox:1.36", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}]},
             "0/1 nodes are available: 1 Insufficient cpu. "
             "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")):
        pending = pod(name, **spec)
        assert "nodeName" not in pending["spec"] and pending["status"]["phase"] == "Pending"
        condition = _scheduled(pending)
        assert (condition["status"], condition["reason"], condition["message"]) == ("False", "Unschedulable", message)

    client.apply(_node("minikube", {"disk": "ssd"}, taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]))
    tainted = pod("tainted")
    assert _scheduled(tainted)["message"].startswith("0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: db}.")
    tolerant = pod("tolerant", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}])
    assert tolerant["status"]["phase"] == "Running"

    # A node that fits the pending pod: the scheduler binds it, the kubelet runs it.
    client.apply(_node("minikube-m02", {"disk": "hdd"}))
    placed = client.get("/api/v1/namespaces/default/pods/selector")
    assert placed["spec"]["nodeName"] == "minikube-m02" and placed["status"]["phase"] == "Running"
    assert _scheduled(placed)["status"] == "True"


def test_a_daemonset_runs_on_the_nodes_its_selector_and_tolerations_admit(fresh_harness):
    client = fresh_harness.client
    client.apply(_node("minikube", {"role": "edge"}))
    client.apply(_node("minikube-m02", {"role": "edge"}, taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]))
    client.apply(_node("minikube-m03", {"role": "core"}))
    daemon = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
              "spec": {"selector": {"matchLabels": {"app": "agent"}},
                       "template": {"metadata": {"labels": {"app": "agent"}},
                                    "spec": {"nodeSelector": {"role": "edge"}, "containers": [{"name": "agent", "image": "busybox:1.36"}]}}}}
    client.create(daemon)
    status = client.get("/apis/apps/v1/namespaces/default/daemonsets/agent")["status"]
    assert (status["desiredNumberScheduled"], status["numberReady"]) == (1, 1)
    assert [p["spec"]["nodeName"] for p in client.list("/api/v1/namespaces/default/pods", label_selector="app=agent")] == ["minikube"]
