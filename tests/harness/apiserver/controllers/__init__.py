"""What the rest of a cluster does around the API server: admission defaults, Istio's sidecar injector,
the workload controllers, the scheduler and the kubelet, all run synchronously.

Reconcilers are level-based (read the current object, fix what differs) and write only on a change, so
the queue in ``Api._drain`` always empties.

One module per job: ``admission`` (with ``podspec``), ``injection`` (Istio's sidecar injector),
``scheduler``, ``kubelet`` (with ``lifetime``: the pod rules tests set), one per controller (``deployment``, ``replicaset``, ...), and ``base`` for what
they share. This package's own names are what the rest of the emulator uses.
"""

from __future__ import annotations

from .admission import admit
from .base import parse_apply_body
from .crd import reconcile_crd
from .daemonset import reconcile_daemonset
from .deployment import reconcile_deployment
from .job import reconcile_job
from .kubelet import reconcile_pod
from .lifetime import Rules as PodRules
from .namespace import ROOT_CA_CONFIGMAP, reconcile_namespace
from .pvc import reconcile_pvc
from .replicaset import reconcile_replicaset
from .statefulset import reconcile_statefulset


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
