"""What the rest of a cluster does around the API server: admission defaults, Istio's sidecar injector,
the workload controllers, the scheduler and the kubelet, all run synchronously.

Reconcilers are level-based (read the current object, fix what differs) and write only on a change, so
the queue in ``Api._drain`` always empties.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re

from .common import ApiError, bad_request, cluster_ca_pem, controller_of, invalid as _invalid, now as _now
from .selectors import match_label_selector

POD_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
NODE_IP = "192.168.49.2"
DEFAULT_NODE = "minikube"
# Used for the sidecar image only when no istiod Deployment exists to take the version from.
FALLBACK_PROXY_TAG = "1.31.1"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def parse_apply_body(raw):
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise bad_request("this emulator needs PyYAML to read a YAML apply patch; send JSON or run it with the project venv") from exc
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise bad_request(f"the apply patch is not valid YAML: {exc}") from exc


def template_hash(template):
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(POD_NAME_ALPHABET[b % len(POD_NAME_ALPHABET)] for b in digest[:10])


def owner_ref(owner):
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def conditions(previous, wanted, update_time=False):
    """Conditions with timestamps kept from ``previous`` when nothing about them changed."""
    result = []
    for want in wanted:
        old = next((c for c in previous or [] if c.get("type") == want["type"]), None)
        if old and all(old.get(k) == v for k, v in want.items()):
            result.append(old)
            continue
        cond = dict(want, lastTransitionTime=_now())
        if update_time:
            cond["lastUpdateTime"] = cond["lastTransitionTime"]
        result.append(cond)
    return result


def _drop_zero(status):
    return {k: v for k, v in status.items() if v not in (0, None)}


def pod_ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in pod.get("status", {}).get("conditions", []))


# ---- admission --------------------------------------------------------------------------------------

def _default_container(container):
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1].partition("@")[0]
    container.setdefault("imagePullPolicy", "Always" if ":" not in tag or tag.endswith(":latest") else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")


def default_pod_spec(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        _default_container(container)


def _validate_pod_spec(rtype, name, spec, field):
    containers = spec.get("containers")
    if not containers:
        raise _invalid(rtype, name, f"{field}.containers", "Required value", "FieldValueRequired")
    for n, container in enumerate(containers):
        for key in ("name", "image"):
            if not container.get(key):
                raise _invalid(rtype, name, f"{field}.containers[{n}].{key}", "Required value", "FieldValueRequired")


def _admit_workload(api, rtype, obj, old):
    del api, old
    name = obj["metadata"]["name"]
    spec = obj.setdefault("spec", {})
    template = spec.get("template") or {}
    if rtype.kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    if rtype.kind == "Job":
        _default_job(rtype, obj)
    elif rtype.kind != "CronJob":
        selector = spec.get("selector")
        if not selector:
            raise _invalid(rtype, name, "spec.selector", "Required value", "FieldValueRequired")
        if not match_label_selector(selector, (template.get("metadata") or {}).get("labels")):
            raise _invalid(rtype, name, "spec.template.metadata.labels", "Invalid value: `selector` does not match template `labels`")
    _validate_pod_spec(rtype, name, template.get("spec") or {}, "spec.template.spec")
    default_pod_spec(template.setdefault("spec", {}))
    if rtype.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        spec.setdefault("replicas", 1)
    if rtype.kind in ("Deployment", "StatefulSet", "DaemonSet"):
        spec.setdefault("revisionHistoryLimit", 10)
    if rtype.kind == "Deployment":
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    elif rtype.kind == "StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    elif rtype.kind == "DaemonSet":
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})


def _default_job(rtype, job):
    spec = job["spec"]
    uid = job["metadata"]["uid"]
    template = spec.setdefault("template", {})
    if template.get("spec", {}).get("restartPolicy") not in ("Never", "OnFailure"):
        raise _invalid(rtype, job["metadata"]["name"], "spec.template.spec.restartPolicy",
                       'Required value: valid values: "OnFailure", "Never"', "FieldValueRequired")
    if not spec.get("selector"):
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": job["metadata"]["name"],
                       "controller-uid": uid, "job-name": job["metadata"]["name"]})
    for key, value in (("backoffLimit", 6), ("completionMode", "NonIndexed"), ("completions", 1), ("parallelism", 1),
                       ("suspend", False), ("podReplacementPolicy", "TerminatingOrFailed"), ("manualSelector", None)):
        if value is not None:
            spec.setdefault(key, value)


def _admit_namespace(api, rtype, obj, old):
    del api, rtype
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj["status"] = copy.deepcopy((old or {}).get("status") or {"phase": "Active"})


def _admit_secret(api, rtype, obj, old):
    del api, rtype, old
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    obj.setdefault("type", "Opaque")


def _allocate_cluster_ip(api):
    used = api.allocated["cluster_ips"]
    while True:
        candidate = f"10.{96 + random.randint(0, 3)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        if candidate not in used:
            used.add(candidate)
            return candidate


def _admit_service(api, rtype, obj, old):
    name = obj["metadata"]["name"]
    spec = obj.setdefault("spec", {})
    old_spec = (old or {}).get("spec", {})
    svc_type = spec.setdefault("type", "ClusterIP")
    if svc_type != "ExternalName":
        if old_spec.get("clusterIP") and not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIP"):
            spec["clusterIP"] = _allocate_cluster_ip(api)
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("sessionAffinity", "None")
    old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []}
    mine = {p for p in old_ports.values() if p}
    taken = api.allocated["node_ports"] - mine
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if svc_type in ("NodePort", "LoadBalancer"):
            if not port.get("nodePort"):
                port["nodePort"] = old_ports.get((port.get("port"), port["protocol"])) or _free_node_port(taken)
            elif port["nodePort"] in taken:
                raise _invalid(rtype, name, "spec.ports[].nodePort", f"Invalid value: {port['nodePort']}: provided port is already allocated")
            taken.add(port["nodePort"])
        else:
            port.pop("nodePort", None)
    api.allocated["node_ports"] = taken | {p.get("nodePort") for p in spec.get("ports") or [] if p.get("nodePort")}
    if svc_type in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if svc_type == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    obj["status"] = {"loadBalancer": {}}


def _free_node_port(taken):
    while True:
        candidate = random.randint(30000, 32767)
        if candidate not in taken:
            return candidate


def _admit_pod(api, rtype, obj, old):
    if old is not None:
        return
    spec = obj.setdefault("spec", {})
    _validate_pod_spec(rtype, obj["metadata"]["name"], spec, "spec")
    default_pod_spec(spec)
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    _admit_service_account(api, obj)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("tolerations", [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ])
    inject_sidecar(api, obj)
    if not spec.get("nodeName"):
        node, _why = schedule(api, obj)
        if node:
            spec["nodeName"] = node


def _admit_service_account(api, pod):
    """The ServiceAccount admission plugin: a pod may only name a ServiceAccount that exists in its namespace."""
    meta = pod["metadata"]
    namespace, account = meta["namespace"], pod["spec"]["serviceAccountName"]
    if api.find("", "serviceaccounts", namespace, account) is None:
        shown = meta.get("generateName") or meta["name"]
        raise ApiError(403, "Forbidden", f'pods "{shown}" is forbidden: error looking up service account {namespace}/{account}: '
                       f'serviceaccount "{account}" not found', {"name": shown, "kind": "pods"})


def _create_pod(api, pod):
    """Create a controller's pod; the message of an admission refusal (403) instead of raising it, as controllers retry."""
    try:
        api.internal_create("", "pods", pod)
    except ApiError as err:
        if err.code != 403:
            raise
        return err.message
    return None


def _admit_crd(api, rtype, obj, old):
    del api, old
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    name = obj["metadata"]["name"]
    for field, value in (("spec.group", spec.get("group")), ("spec.names.plural", names.get("plural")),
                         ("spec.names.kind", names.get("kind")), ("spec.versions", spec.get("versions"))):
        if not value:
            raise _invalid(rtype, name, field, "Required value", "FieldValueRequired")
    if name != f"{names['plural']}.{spec['group']}":
        raise _invalid(rtype, name, "metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    if sum(1 for v in spec["versions"] if v.get("storage")) != 1:
        raise _invalid(rtype, name, "spec.versions", "Invalid value: must have exactly one version marked as storage version")
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("scope", "Namespaced")
    spec.setdefault("conversion", {"strategy": "None"})


def _admit_pvc(api, rtype, obj, old):
    del api, rtype
    if old is None:
        obj.setdefault("spec", {}).setdefault("storageClassName", "standard")
        obj["spec"].setdefault("volumeMode", "Filesystem")


ADMISSION = {
    ("", "Namespace"): _admit_namespace,
    ("", "Pod"): _admit_pod,
    ("", "Service"): _admit_service,
    ("", "Secret"): _admit_secret,
    ("", "PersistentVolumeClaim"): _admit_pvc,
    ("apps", "Deployment"): _admit_workload,
    ("apps", "StatefulSet"): _admit_workload,
    ("apps", "DaemonSet"): _admit_workload,
    ("apps", "ReplicaSet"): _admit_workload,
    ("batch", "Job"): _admit_workload,
    ("batch", "CronJob"): _admit_workload,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _admit_crd,
}


def admit(api, rtype, obj, old):
    if not rtype.crd and (rtype.group, rtype.kind) in ADMISSION:
        ADMISSION[(rtype.group, rtype.kind)](api, rtype, obj, old)


# ---- Istio sidecar injection ---------------------------------------------------------------------

def _istiod_settings(api):
    """(proxy image tag, native sidecars?) as an installed istiod would inject them."""
    istiod = api.find("apps", "deployments", "istio-system", "istiod")
    tag, native = FALLBACK_PROXY_TAG, True
    if istiod:
        for container in istiod["spec"]["template"]["spec"].get("containers", []):
            image = container.get("image", "")
            if ":" in image.rsplit("/", 1)[-1]:
                tag = image.rsplit(":", 1)[1]
            for env in container.get("env") or []:
                if env.get("name") == "ENABLE_NATIVE_SIDECARS":
                    native = str(env.get("value", "")).lower() == "true"
    return tag, native


def injection_wanted(namespace_obj, pod):
    ns_labels = (namespace_obj or {}).get("metadata", {}).get("labels") or {}
    meta = pod["metadata"]
    pod_choice = (meta.get("labels") or {}).get("sidecar.istio.io/inject") or (meta.get("annotations") or {}).get("sidecar.istio.io/inject")
    if ns_labels.get("istio-injection") == "disabled" or pod_choice == "false" or pod["spec"].get("hostNetwork"):
        return False
    return ns_labels.get("istio-injection") == "enabled" or "istio.io/rev" in ns_labels or pod_choice == "true"


def inject_sidecar(api, pod):
    """Add Istio's proxy the way istiod's injection webhook does (Istio 1.27+ defaults to a native sidecar:
    an init container with ``restartPolicy: Always``; istiod's ENABLE_NATIVE_SIDECARS=false or the pod
    annotation ``sidecar.istio.io/nativeSidecar: "false"`` gives the classic extra container)."""
    meta, spec = pod["metadata"], pod["spec"]
    if not injection_wanted(api.find("", "namespaces", "", meta["namespace"]), pod):
        return
    if any(c["name"] == "istio-proxy" for c in spec.get("containers", []) + spec.get("initContainers", [])):
        return
    tag, native = _istiod_settings(api)
    annotations = meta.setdefault("annotations", {})
    if "sidecar.istio.io/nativeSidecar" in annotations:
        native = annotations["sidecar.istio.io/nativeSidecar"] == "true"
    image = f"docker.io/istio/proxyv2:{tag}"
    iptables = ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT",
                "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020", "--log_output_level=default:info"]
    init = {"name": "istio-init", "image": image, "args": iptables,
            "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}, "runAsUser": 0, "runAsNonRoot": False}}
    proxy = {"name": "istio-proxy", "image": image, "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
             "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
             "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 15, "failureThreshold": 4},
             "securityContext": {"runAsUser": 1337, "runAsGroup": 1337, "runAsNonRoot": True},
             "volumeMounts": [{"name": "istio-envoy", "mountPath": "/etc/istio/proxy"}, {"name": "istio-data", "mountPath": "/var/lib/istio/data"}]}
    for container in (init, proxy):
        _default_container(container)
    app = spec["containers"][0]["name"]
    if native:
        proxy["restartPolicy"] = "Always"
        spec["initContainers"] = [init, proxy] + spec.get("initContainers", [])
    else:
        spec["initContainers"] = [init] + spec.get("initContainers", [])
        spec["containers"].append(proxy)
    spec.setdefault("volumes", []).extend([{"name": "istio-envoy", "emptyDir": {"medium": "Memory"}}, {"name": "istio-data", "emptyDir": {}}])
    annotations.update({
        "sidecar.istio.io/status": json.dumps({"initContainers": ["istio-init"] + (["istio-proxy"] if native else []),
                                               "containers": [] if native else ["istio-proxy"],
                                               "volumes": ["istio-envoy", "istio-data"], "imagePullSecrets": None, "revision": "default"}),
        "kubectl.kubernetes.io/default-container": app, "kubectl.kubernetes.io/default-logs-container": app,
        "istio.io/rev": "default", "prometheus.io/path": "/stats/prometheus", "prometheus.io/port": "15020", "prometheus.io/scrape": "true",
    })
    labels = meta.setdefault("labels", {})
    labels.setdefault("security.istio.io/tlsMode", "istio")
    canonical = labels.get("app.kubernetes.io/name") or labels.get("app") or meta.get("generateName", meta["name"]).rstrip("-")
    labels.setdefault("service.istio.io/canonical-name", canonical)
    labels.setdefault("service.istio.io/canonical-revision", labels.get("app.kubernetes.io/version") or labels.get("version") or "latest")


# ---- kubelet ---------------------------------------------------------------------------------------

def _container_status(container, started, running=True):
    digest = hashlib.sha256(container.get("image", "").encode()).hexdigest()
    status = {"name": container["name"], "image": container.get("image", ""), "imageID": f"docker-pullable://{container.get('image', '')}@sha256:{digest}",
              "containerID": f"docker://{hashlib.sha256((container['name'] + started + str(random.random())).encode()).hexdigest()}",
              "restartCount": 0, "lastState": {}, "ready": running, "started": running}
    if running:
        status["state"] = {"running": {"startedAt": started}}
    else:
        status["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started,
                                          "containerID": status["containerID"]}}
    return status


_QUANTITY_SUFFIXES = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
                      "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}


def quantity(text):
    """A Kubernetes resource quantity ("250m", "1.5", "512Mi", "1e3") as a float."""
    match = re.fullmatch(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)", str(text).strip())
    if not match or match.group(2) not in _QUANTITY_SUFFIXES:
        raise ValueError(f"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r}")
    return float(match.group(1)) * _QUANTITY_SUFFIXES[match.group(2)]


def pod_requests(spec):
    """What the scheduler counts for a pod: its containers and native sidecars, or its largest init container."""
    def requests(container):
        resources = container.get("resources") or {}
        wanted = dict(resources.get("limits") or {}, **(resources.get("requests") or {}))  # requests default to limits
        return {k: quantity(v) for k, v in wanted.items() if k in ("cpu", "memory")}
    total = {"cpu": 0.0, "memory": 0.0}
    for container in spec.get("containers", []) + [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]:
        for key, value in requests(container).items():
            total[key] += value
    for container in [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") != "Always"]:
        for key, value in requests(container).items():
            total[key] = max(total[key], value)
    return total


def _tolerated(taint, tolerations):
    for tol in tolerations or []:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and (not tol.get("key") or tol["key"] == taint.get("key")):
            return True
        if tol.get("operator", "Equal") == "Equal" and tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def _term_matches(term, labels):
    for expr in term.get("matchExpressions") or []:
        key, operator, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if not {"In": present and labels.get(key) in values, "NotIn": not present or labels.get(key) not in values,
                "Exists": present, "DoesNotExist": not present}.get(operator, False):
            return False
    return True


def _node_refusal(api, pod, node):
    """Why ``node`` cannot take ``pod`` (kube-scheduler's filter messages, in its filter order), or [] when it fits."""
    spec, labels = pod["spec"], node["metadata"].get("labels") or {}
    if (node.get("spec") or {}).get("unschedulable") and not _tolerated(
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}, spec.get("tolerations")):
        return ["node(s) were unschedulable"]
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(taint, spec.get("tolerations")):
            return [f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"]
    affinity = (((spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = affinity.get("nodeSelectorTerms") or []
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()) or (terms and not any(_term_matches(t, labels) for t in terms)):
        return ["node(s) didn't match Pod's node affinity/selector"]
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    others = [p for p in api.store.items("", "pods") if p["spec"].get("nodeName") == node["metadata"]["name"]
              and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and p["metadata"].get("uid") != pod["metadata"].get("uid")]
    if "pods" in allocatable and len(others) + 1 > quantity(allocatable["pods"]):
        return ["Too many pods"]
    wanted, used = pod_requests(spec), {"cpu": 0.0, "memory": 0.0}
    for other in others:
        for key, value in pod_requests(other["spec"]).items():
            used[key] += value
    return [f"Insufficient {key}" for key in ("cpu", "memory")
            if key in allocatable and wanted[key] and used[key] + wanted[key] > quantity(allocatable[key])]


def schedule(api, pod):
    """(node name, None) for the first Node that fits the pod, or (None, the scheduler's FailedScheduling message).

    Without any Node object (an emulator no fake ``minikube start`` registered a node in) pods go to ``minikube``."""
    nodes = api.store.items("", "nodes")
    if not nodes:
        return DEFAULT_NODE, None
    counts = {}
    for node in nodes:
        refusal = _node_refusal(api, pod, node)
        if not refusal:
            return node["metadata"]["name"], None
        for reason in refusal:
            counts[reason] = counts.get(reason, 0) + 1
    total = len(nodes)
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
    resource = any(r.startswith("Insufficient") or r == "Too many pods" for r in counts)
    preemption = "No preemption victims found for incoming pod" if resource else "Preemption is not helpful for scheduling"
    return None, f"0/{total} nodes are available: {reasons}. preemption: 0/{total} nodes are available: {total} {preemption}."


def _pending(api, pod, message):
    conditions_now = [{"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                       "lastTransitionTime": ((pod.get("status") or {}).get("conditions") or [{}])[0].get("lastTransitionTime") or _now(),
                       "reason": "Unschedulable", "message": message}]
    status = {"phase": "Pending", "conditions": conditions_now,
              "qosClass": "Burstable" if any(c.get("resources") for c in pod["spec"]["containers"]) else "BestEffort"}
    if pod.get("status") != status:
        new = copy.deepcopy(pod)
        new["status"] = status
        api.internal_write("", "pods", new)


def reconcile_pod(api, namespace, name):
    pod = api.find("", "pods", namespace, name)
    if pod is None:
        return
    if not pod["spec"].get("nodeName"):
        node, why = schedule(api, pod)
        if node is None:
            _pending(api, pod, why)
            return
        pod = copy.deepcopy(pod)
        pod["spec"]["nodeName"] = node
        pod["status"] = {}
    elif pod.get("status", {}).get("phase"):
        return
    started = _now()
    completes = (controller_of(pod) or {}).get("kind") == "Job"
    counter = api.allocated["pod_ip"] = api.allocated["pod_ip"] + 1
    pod_ip = f"10.244.{counter // 250}.{counter % 250 + 2}"
    ready = "False" if completes else "True"
    cond_reason = {"reason": "PodCompleted"} if completes else {}
    status = {
        "phase": "Succeeded" if completes else "Running",
        "conditions": [dict({"type": t, "status": s, "lastProbeTime": None, "lastTransitionTime": started}, **(cond_reason if s == "False" else {}))
                       for t, s in (("PodReadyToStartContainers", "True"), ("Initialized", "True"), ("Ready", ready),
                                    ("ContainersReady", ready), ("PodScheduled", "True"))],
        "hostIP": NODE_IP, "hostIPs": [{"ip": NODE_IP}], "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": started,
        "qosClass": "Burstable" if any(c.get("resources") for c in pod["spec"]["containers"]) else "BestEffort",
        "containerStatuses": [_container_status(c, started, not completes) for c in pod["spec"]["containers"]],
    }
    if pod["spec"].get("initContainers"):
        status["initContainerStatuses"] = [
            dict(_container_status(c, started, c.get("restartPolicy") == "Always"), ready=True) for c in pod["spec"]["initContainers"]]
    new = copy.deepcopy(pod)
    new["status"] = status
    api.internal_write("", "pods", new)


# ---- workload controllers ----------------------------------------------------------------------------

def _pod_from_template(template, owner, name=None, extra_labels=None):
    meta = copy.deepcopy(template.get("metadata") or {})
    labels = dict(meta.get("labels") or {}, **(extra_labels or {}))
    pod_meta = {"namespace": owner["metadata"]["namespace"], "labels": labels, "ownerReferences": [owner_ref(owner)]}
    if meta.get("annotations"):
        pod_meta["annotations"] = meta["annotations"]
    if name:
        pod_meta["name"] = name
    else:
        pod_meta["generateName"] = owner["metadata"]["name"] + "-"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": copy.deepcopy(template.get("spec") or {})}


def _set_status(api, group, plural, obj, status):
    if obj.get("status") != status:
        new = copy.deepcopy(obj)
        new["status"] = status
        api.internal_write(group, plural, new)


def reconcile_deployment(api, namespace, name):
    dep = api.find("apps", "deployments", namespace, name)
    if dep is None:
        return
    spec = dep["spec"]
    replicas = spec.get("replicas", 1)
    pod_hash = template_hash(spec["template"])
    rs_name = f"{name}-{pod_hash}"
    owned = api.children(dep, "apps", "replicasets")
    current = next((rs for rs in owned if rs["metadata"]["name"] == rs_name), None)
    if spec.get("paused") is True:
        _paused_deployment(api, dep, owned, current)
        return
    known = [int(o["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, "0")) for o in owned + [dep]]
    for rs in owned:
        if rs is not current:
            api.internal_delete("apps", "replicasets", rs)
    if current is None:
        revision = max(known) + 1
        template = copy.deepcopy(spec["template"])
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels["pod-template-hash"] = pod_hash
        selector = copy.deepcopy(spec["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
        current = api.internal_create("apps", "replicasets", {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": namespace, "labels": dict(labels),
                         "annotations": {"deployment.kubernetes.io/desired-replicas": str(replicas),
                                         "deployment.kubernetes.io/max-replicas": str(replicas + max(1, (replicas + 3) // 4)),
                                         REVISION_ANNOTATION: str(revision)},
                         "ownerReferences": [owner_ref(dep)]},
            "spec": {"replicas": replicas, "selector": selector, "template": template}})
    revision = current["metadata"]["annotations"][REVISION_ANNOTATION]
    if dep["metadata"].get("annotations", {}).get(REVISION_ANNOTATION) != revision:
        new = copy.deepcopy(dep)
        new["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = revision
        dep = api.internal_write("apps", "deployments", new)
    if current["spec"].get("replicas") != replicas:
        new = copy.deepcopy(current)
        new["spec"]["replicas"] = replicas
        new["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(replicas)
        current = api.internal_write("apps", "replicasets", new)
    rs_status = current.get("status") or {}
    total, ready, available = rs_status.get("replicas", 0), rs_status.get("readyReplicas", 0), rs_status.get("availableReplicas", 0)
    done = total == replicas and available == replicas
    status = _drop_zero({"observedGeneration": dep["metadata"]["generation"], "replicas": total, "updatedReplicas": total,
                         "readyReplicas": ready, "availableReplicas": available, "unavailableReplicas": max(replicas - available, 0)})
    status["conditions"] = conditions((dep.get("status") or {}).get("conditions"), [
        {"type": "Available", "status": "True" if available >= replicas else "False",
         "reason": "MinimumReplicasAvailable" if available >= replicas else "MinimumReplicasUnavailable",
         "message": "Deployment has minimum availability." if available >= replicas else "Deployment does not have minimum availability."},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
         "message": f'ReplicaSet "{rs_name}" has successfully progressed.' if done else f'ReplicaSet "{rs_name}" is progressing.'},
    ] + [c for c in rs_status.get("conditions") or [] if c["type"] == "ReplicaFailure"], update_time=True)
    _set_status(api, "apps", "deployments", dep, status)


def _paused_deployment(api, dep, owned, current):
    """A paused Deployment rolls nothing out (no new ReplicaSet, old ones kept) but still scales its newest ReplicaSet."""
    replicas = dep["spec"].get("replicas", 1)
    newest = current or max(owned, key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, "0")), default=None)
    if newest is not None and newest["spec"].get("replicas") != replicas:
        new = copy.deepcopy(newest)
        new["spec"]["replicas"] = replicas
        new["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(replicas)
        api.internal_write("apps", "replicasets", new)  # its reconcile runs next, then this Deployment's again
    owned = api.children(dep, "apps", "replicasets")
    statuses = [rs.get("status") or {} for rs in owned]
    total = sum(st.get("replicas", 0) for st in statuses)
    available = sum(st.get("availableReplicas", 0) for st in statuses)
    updated = ((api.find("apps", "replicasets", dep["metadata"]["namespace"], current["metadata"]["name"]) or {}).get("status") or {}).get(
        "replicas", 0) if current else 0
    status = _drop_zero({"observedGeneration": dep["metadata"]["generation"], "replicas": total, "updatedReplicas": updated,
                         "readyReplicas": sum(st.get("readyReplicas", 0) for st in statuses), "availableReplicas": available,
                         "unavailableReplicas": max(replicas - available, 0)})
    status["conditions"] = conditions((dep.get("status") or {}).get("conditions"), [
        {"type": "Available", "status": "True" if available >= replicas else "False",
         "reason": "MinimumReplicasAvailable" if available >= replicas else "MinimumReplicasUnavailable",
         "message": "Deployment has minimum availability." if available >= replicas else "Deployment does not have minimum availability."},
        {"type": "Progressing", "status": "Unknown", "reason": "DeploymentPaused", "message": "Deployment is paused"},
    ], update_time=True)
    _set_status(api, "apps", "deployments", dep, status)


def reconcile_replicaset(api, namespace, name):
    rs = api.find("apps", "replicasets", namespace, name)
    if rs is None:
        return
    replicas = rs["spec"].get("replicas", 1)
    pods = api.children(rs, "", "pods")
    failure = None
    for _missing in range(replicas - len(pods)):
        failure = _create_pod(api, _pod_from_template(rs["spec"]["template"], rs))
        if failure:
            break
    for pod in sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)[:max(len(pods) - replicas, 0)]:
        api.internal_delete("", "pods", pod)
    pods = api.children(rs, "", "pods")
    ready = sum(pod_ready(p) for p in pods)
    status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
              "availableReplicas": ready, "observedGeneration": rs["metadata"]["generation"]}
    status = {k: v for k, v in status.items() if v or k == "replicas"}
    if failure:
        status["conditions"] = conditions((rs.get("status") or {}).get("conditions"), [
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": failure}])
    _set_status(api, "apps", "replicasets", rs, status)


def reconcile_statefulset(api, namespace, name):
    sts = api.find("apps", "statefulsets", namespace, name)
    if sts is None:
        return
    spec = sts["spec"]
    replicas = spec.get("replicas", 1)
    revision = f"{name}-{template_hash(spec['template'])}"
    rolling = spec.get("updateStrategy", {}).get("type", "RollingUpdate") == "RollingUpdate"
    for pod in api.children(sts, "", "pods"):
        index = int(pod["metadata"]["name"].rsplit("-", 1)[1])
        if index >= replicas or (rolling and pod["metadata"]["labels"].get("controller-revision-hash") != revision):
            api.internal_delete("", "pods", pod)
    for index in range(replicas):
        pod_name = f"{name}-{index}"
        for claim in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{claim['metadata']['name']}-{pod_name}"
            if api.find("", "persistentvolumeclaims", namespace, claim_name) is None:
                api.internal_create("", "persistentvolumeclaims", {
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim_name, "namespace": namespace, "labels": dict(spec["selector"].get("matchLabels", {}))},
                    "spec": copy.deepcopy(claim.get("spec") or {})})
        if api.find("", "pods", namespace, pod_name) is None:
            pod = _pod_from_template(spec["template"], sts, pod_name, {
                "controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pod_name, "apps.kubernetes.io/pod-index": str(index)})
            pod["spec"]["hostname"] = pod_name
            if spec.get("serviceName"):
                pod["spec"]["subdomain"] = spec["serviceName"]
            for claim in spec.get("volumeClaimTemplates") or []:
                pod["spec"].setdefault("volumes", []).append(
                    {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": f"{claim['metadata']['name']}-{pod_name}"}})
            if _create_pod(api, pod):
                break  # OrderedReady: the next ordinal waits for this one
    pods = api.children(sts, "", "pods")
    ready = sum(pod_ready(p) for p in pods)
    updated = sum(p["metadata"]["labels"].get("controller-revision-hash") == revision for p in pods)
    status = _drop_zero({"observedGeneration": sts["metadata"]["generation"], "replicas": len(pods), "readyReplicas": ready,
                         "currentReplicas": updated, "updatedReplicas": updated, "availableReplicas": ready})
    status.update(replicas=len(pods), currentRevision=revision, updateRevision=revision, collisionCount=0)
    _set_status(api, "apps", "statefulsets", sts, status)


DAEMON_TOLERATIONS = [{"key": f"node.kubernetes.io/{key}", "operator": "Exists", "effect": effect} for key, effect in (
    ("not-ready", "NoExecute"), ("unreachable", "NoExecute"), ("disk-pressure", "NoSchedule"), ("memory-pressure", "NoSchedule"),
    ("pid-pressure", "NoSchedule"), ("unschedulable", "NoSchedule"))]


def _daemon_fits(api, ds, node):
    """Whether the DaemonSet wants a pod on ``node``: its selector, affinity and taints; resources do not count."""
    spec = copy.deepcopy((ds["spec"].get("template") or {}).get("spec") or {})
    spec["tolerations"] = (spec.get("tolerations") or []) + DAEMON_TOLERATIONS
    refusal = _node_refusal(api, {"metadata": {}, "spec": spec}, node)
    return all(r.startswith("Insufficient") or r == "Too many pods" for r in refusal)


def reconcile_daemonset(api, namespace, name):
    ds = api.find("apps", "daemonsets", namespace, name)
    if ds is None:
        return
    nodes = [n["metadata"]["name"] for n in api.store.items("", "nodes") if _daemon_fits(api, ds, n)] \
        if api.store.items("", "nodes") else [DEFAULT_NODE]
    revision = template_hash(ds["spec"]["template"])
    by_node = {}
    for pod in api.children(ds, "", "pods"):
        node = pod["spec"].get("nodeName")
        if node not in nodes or pod["metadata"]["labels"].get("controller-revision-hash") != revision or node in by_node:
            api.internal_delete("", "pods", pod)
        else:
            by_node[node] = pod
    for node in nodes:
        if node not in by_node:
            pod = _pod_from_template(ds["spec"]["template"], ds, extra_labels={"controller-revision-hash": revision, "pod-template-generation": "1"})
            pod["spec"]["nodeName"] = node
            _create_pod(api, pod)
    pods = api.children(ds, "", "pods")
    ready = sum(pod_ready(p) for p in pods)
    status = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": len(nodes), "numberMisscheduled": 0,
              "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": len(pods),
              "observedGeneration": ds["metadata"]["generation"]}
    if len(nodes) - ready:
        status["numberUnavailable"] = len(nodes) - ready
    _set_status(api, "apps", "daemonsets", ds, status)


def reconcile_job(api, namespace, name):
    job = api.find("batch", "jobs", namespace, name)
    if job is None:
        return
    status = copy.deepcopy(job.get("status") or {})
    if any(c.get("type") == "Complete" for c in status.get("conditions", [])) or job["spec"].get("suspend"):
        return
    completions = job["spec"].get("completions", 1)
    pods = api.children(job, "", "pods")
    for _missing in range(completions - len(pods)):
        if _create_pod(api, _pod_from_template(job["spec"]["template"], job)):
            break
    pods = api.children(job, "", "pods")
    succeeded = sum(p.get("status", {}).get("phase") == "Succeeded" for p in pods)
    status.setdefault("startTime", _now())
    status.update(ready=0, terminating=0, uncountedTerminatedPods={})
    status["active"] = len(pods) - succeeded
    if succeeded:
        status["succeeded"] = succeeded
    if succeeded >= completions:
        status.pop("active")
        status["completionTime"] = _now()
        status["conditions"] = conditions(status.get("conditions"), [
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
        ])
    _set_status(api, "batch", "jobs", job, _drop_zero(status) | {"ready": 0, "terminating": 0})


def reconcile_crd(api, namespace, name):
    del namespace
    crd = api.find("apiextensions.k8s.io", "customresourcedefinitions", "", name)
    if crd is None:
        return
    api.registry.register_crd(crd)
    names = crd["spec"]["names"]
    accepted = {k: v for k, v in names.items() if k in ("kind", "listKind", "plural", "singular", "shortNames", "categories")}
    stored = list((crd.get("status") or {}).get("storedVersions") or [])
    storage = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
    status = {"acceptedNames": accepted, "storedVersions": stored + ([storage] if storage not in stored else []),
              "conditions": conditions((crd.get("status") or {}).get("conditions"), [
                  {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
                  {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
              ])}
    _set_status(api, "apiextensions.k8s.io", "customresourcedefinitions", crd, status)


ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "
                       "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.")


def reconcile_namespace(api, namespace, name):
    """The ServiceAccount controller's ``default`` ServiceAccount and the root CA publisher's ``kube-root-ca.crt``."""
    del namespace
    namespace_obj = api.find("", "namespaces", "", name)
    if namespace_obj is None or namespace_obj["metadata"].get("deletionTimestamp"):
        return
    if api.find("", "serviceaccounts", name, "default") is None:
        api.internal_create("", "serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}})
    if api.find("", "configmaps", name, ROOT_CA_CONFIGMAP) is None:
        api.internal_create("", "configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": name, "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}},
            "data": {"ca.crt": cluster_ca_pem()}})


def reconcile_pvc(api, namespace, name):
    pvc = api.find("", "persistentvolumeclaims", namespace, name)
    if pvc is None or (pvc.get("status") or {}).get("phase") == "Bound":
        return
    new = copy.deepcopy(pvc)
    new["spec"]["volumeName"] = f"pvc-{pvc['metadata']['uid']}"
    new["status"] = {"phase": "Bound", "accessModes": pvc["spec"].get("accessModes", ["ReadWriteOnce"]),
                     "capacity": {"storage": ((pvc["spec"].get("resources") or {}).get("requests") or {}).get("storage", "1Gi")}}
    api.internal_write("", "persistentvolumeclaims", new)


RECONCILERS = {
    ("", "Namespace"): reconcile_namespace,
    ("", "Pod"): reconcile_pod,
    ("", "PersistentVolumeClaim"): reconcile_pvc,
    ("apps", "Deployment"): reconcile_deployment,
    ("apps", "ReplicaSet"): reconcile_replicaset,
    ("apps", "StatefulSet"): reconcile_statefulset,
    ("apps", "DaemonSet"): reconcile_daemonset,
    ("batch", "Job"): reconcile_job,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): reconcile_crd,
}


def scale_of(rtype, obj):
    selector = ",".join(f"{k}={v}" for k, v in sorted((obj["spec"].get("selector") or {}).get("matchLabels", {}).items()))
    meta = {k: obj["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in obj["metadata"]}
    del rtype
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta, "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": selector}}


def bootstrap(api):
    """The objects a fresh minikube has before anyone writes: its namespaces and the ``kubernetes`` Service."""
    for name in ("default", "kube-node-lease", "kube-public", "kube-system"):
        api.internal_create("", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    api.internal_create("", "services", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]}})
