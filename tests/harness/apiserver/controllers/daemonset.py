"""The DaemonSet controller."""

from __future__ import annotations

import copy

from .base import DEFAULT_NODE, create_pod, live_pods, pod_from_template, pod_ready, set_status, template_hash
from .scheduler import node_refusal


DAEMON_TOLERATIONS = [{"key": f"node.kubernetes.io/{key}", "operator": "Exists", "effect": effect} for key, effect in (
    ("not-ready", "NoExecute"), ("unreachable", "NoExecute"), ("disk-pressure", "NoSchedule"), ("memory-pressure", "NoSchedule"),
    ("pid-pressure", "NoSchedule"), ("unschedulable", "NoSchedule"))]


def _daemon_fits(api, ds, node):
    """Whether the DaemonSet wants a pod on ``node``: its selector, affinity and taints; resources do not count."""
    spec = copy.deepcopy((ds["spec"].get("template") or {}).get("spec") or {})
    spec["tolerations"] = (spec.get("tolerations") or []) + DAEMON_TOLERATIONS
    refusal = node_refusal(api, {"metadata": {}, "spec": spec}, node)
    return all(r.startswith("Insufficient") or r == "Too many pods" for r in refusal)


def reconcile_daemonset(api, namespace, name):
    ds = api.find("apps", "daemonsets", namespace, name)
    if ds is None:
        return
    nodes = [n["metadata"]["name"] for n in api.store.items("", "nodes") if _daemon_fits(api, ds, n)] \
        if api.store.items("", "nodes") else [DEFAULT_NODE]
    revision = template_hash(ds["spec"]["template"])
    by_node = {}
    for pod in live_pods(api, ds):
        node = pod["spec"].get("nodeName")
        if node not in nodes or pod["metadata"]["labels"].get("controller-revision-hash") != revision or node in by_node:
            api.internal_delete("", "pods", pod)
        else:
            by_node[node] = pod
    for node in nodes:
        if node not in by_node:
            pod = pod_from_template(ds["spec"]["template"], ds, extra_labels={"controller-revision-hash": revision, "pod-template-generation": "1"})
            pod["spec"]["nodeName"] = node
            create_pod(api, pod)
    pods = live_pods(api, ds)
    ready = sum(pod_ready(p) for p in pods)
    status = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": len(nodes), "numberMisscheduled": 0,
              "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": len(pods),
              "observedGeneration": ds["metadata"]["generation"]}
    if len(nodes) - ready:
        status["numberUnavailable"] = len(nodes) - ready
    set_status(api, "apps", "daemonsets", ds, status)
