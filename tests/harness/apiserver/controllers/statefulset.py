"""The StatefulSet controller."""

from __future__ import annotations

import copy

from .base import create_pod, drop_zero, pod_from_template, pod_ready, set_status, template_hash


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
            pod = pod_from_template(spec["template"], sts, pod_name, {
                "controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pod_name, "apps.kubernetes.io/pod-index": str(index)})
            pod["spec"]["hostname"] = pod_name
            if spec.get("serviceName"):
                pod["spec"]["subdomain"] = spec["serviceName"]
            for claim in spec.get("volumeClaimTemplates") or []:
                pod["spec"].setdefault("volumes", []).append(
                    {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": f"{claim['metadata']['name']}-{pod_name}"}})
            if create_pod(api, pod):
                break  # OrderedReady: the next ordinal waits for this one
    pods = api.children(sts, "", "pods")
    ready = sum(pod_ready(p) for p in pods)
    updated = sum(p["metadata"]["labels"].get("controller-revision-hash") == revision for p in pods)
    status = drop_zero({"observedGeneration": sts["metadata"]["generation"], "replicas": len(pods), "readyReplicas": ready,
                        "currentReplicas": updated, "updatedReplicas": updated, "availableReplicas": ready})
    status.update(replicas=len(pods), currentRevision=revision, updateRevision=revision, collisionCount=0)
    set_status(api, "apps", "statefulsets", sts, status)
