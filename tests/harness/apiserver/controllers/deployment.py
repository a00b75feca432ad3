"""The Deployment controller."""

from __future__ import annotations

import copy

from .base import REVISION_ANNOTATION, conditions, drop_zero, owner_ref, set_status, template_hash


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
    status = drop_zero({"observedGeneration": dep["metadata"]["generation"], "replicas": total, "updatedReplicas": total,
                        "readyReplicas": ready, "availableReplicas": available, "unavailableReplicas": max(replicas - available, 0)})
    status["conditions"] = conditions((dep.get("status") or {}).get("conditions"), [
        {"type": "Available", "status": "True" if available >= replicas else "False",
         "reason": "MinimumReplicasAvailable" if available >= replicas else "MinimumReplicasUnavailable",
         "message": "Deployment has minimum availability." if available >= replicas else "Deployment does not have minimum availability."},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
         "message": f'ReplicaSet "{rs_name}" has successfully progressed.' if done else f'ReplicaSet "{rs_name}" is progressing.'},
    ] + [c for c in rs_status.get("conditions") or [] if c["type"] == "ReplicaFailure"], update_time=True)
    set_status(api, "apps", "deployments", dep, status)


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
    status = drop_zero({"observedGeneration": dep["metadata"]["generation"], "replicas": total, "updatedReplicas": updated,
                        "readyReplicas": sum(st.get("readyReplicas", 0) for st in statuses), "availableReplicas": available,
                        "unavailableReplicas": max(replicas - available, 0)})
    status["conditions"] = conditions((dep.get("status") or {}).get("conditions"), [
        {"type": "Available", "status": "True" if available >= replicas else "False",
         "reason": "MinimumReplicasAvailable" if available >= replicas else "MinimumReplicasUnavailable",
         "message": "Deployment has minimum availability." if available >= replicas else "Deployment does not have minimum availability."},
        {"type": "Progressing", "status": "Unknown", "reason": "DeploymentPaused", "message": "Deployment is paused"},
    ], update_time=True)
    set_status(api, "apps", "deployments", dep, status)
