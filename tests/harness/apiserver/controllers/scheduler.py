"""The scheduler: resource requests, taints and tolerations, node affinity."""

from __future__ import annotations

import re

from .base import DEFAULT_NODE


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


def node_refusal(api, pod, node):
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
        refusal = node_refusal(api, pod, node)
        if not refusal:
            return node["metadata"]["name"], None
        for reason in refusal:
            counts[reason] = counts.get(reason, 0) + 1
    total = len(nodes)
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
    resource = any(r.startswith("Insufficient") or r == "Too many pods" for r in counts)
    preemption = "No preemption victims found for incoming pod" if resource else "Preemption is not helpful for scheduling"
    return None, f"0/{total} nodes are available: {reasons}. preemption: 0/{total} nodes are available: {total} {preemption}."
