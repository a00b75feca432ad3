"""The kubelet: a scheduled pod's container statuses and phase."""

from __future__ import annotations

import copy
import hashlib
import random

from ..common import controller_of, now as _now
from .base import NODE_IP
from .scheduler import schedule


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
