"""Admission: the defaults and checks kube-apiserver's built-in admission applies to a write, by kind."""

from __future__ import annotations

import base64
import copy
import random

from ..common import ApiError, invalid as _invalid
from ..selectors import match_label_selector
from .injection import inject_sidecar
from .podspec import default_pod_spec, validate_pod_spec
from .scheduler import schedule


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
    validate_pod_spec(rtype, name, template.get("spec") or {}, "spec.template.spec")
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
    validate_pod_spec(rtype, obj["metadata"]["name"], spec, "spec")
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
