"""The ReplicaSet controller."""

from __future__ import annotations

from .base import conditions, create_pod, live_pods, pod_from_template, pod_ready, set_status


def reconcile_replicaset(api, namespace, name):
    rs = api.find("apps", "replicasets", namespace, name)
    if rs is None:
        return
    replicas = rs["spec"].get("replicas", 1)
    pods = live_pods(api, rs)
    failure = None
    for _missing in range(replicas - len(pods)):
        failure = create_pod(api, pod_from_template(rs["spec"]["template"], rs))
        if failure:
            break
    for pod in sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)[:max(len(pods) - replicas, 0)]:
        api.internal_delete("", "pods", pod)
    pods = live_pods(api, rs)
    ready = sum(pod_ready(p) for p in pods)
    status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
              "availableReplicas": ready, "observedGeneration": rs["metadata"]["generation"]}
    status = {k: v for k, v in status.items() if v or k == "replicas"}
    if failure:
        status["conditions"] = conditions((rs.get("status") or {}).get("conditions"), [
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": failure}])
    set_status(api, "apps", "replicasets", rs, status)
