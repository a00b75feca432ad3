"""The kubelet: a scheduled pod's container statuses and phase."""

from __future__ import annotations

import copy
import datetime
import hashlib
import random
import time

from ..common import controller_of, now as _now
from . import lifetime
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


def _start(api, pod):
    """What the kubelet decides when it starts a pod: the rules of each container, its clock and its IP."""
    counter = api.allocated["pod_ip"] = api.allocated["pod_ip"] + 1
    return {"wall": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0), "clock": time.monotonic(),
            "ip": f"10.244.{counter // 250}.{counter % 250 + 2}",
            "rules": {c["name"]: api.pod_rules.for_container(pod, c) for c in pod["spec"]["containers"]}}


def _conditions(statuses, phase, since):
    unready = [s["name"] for s in statuses if not s["ready"]]
    ready = {"status": "True"} if not unready else {"status": "False", "reason": "PodCompleted"} if phase == "Succeeded" else {
        "status": "False", "reason": "PodFailed"} if phase == "Failed" else {
        "status": "False", "reason": "ContainersNotReady", "message": f"containers with unready status: [{' '.join(unready)}]"}
    return [dict({"type": kind, "status": "True", "lastProbeTime": None, "lastTransitionTime": since}, **extra)
            for kind, extra in (("PodReadyToStartContainers", {}), ("Initialized", {}), ("Ready", ready), ("ContainersReady", ready),
                                ("PodScheduled", {}))]


def reconcile_pod(api, namespace, name):
    pod = api.find("", "pods", namespace, name)
    if pod is None or pod["metadata"].get("deletionTimestamp"):
        return  # a terminating pod keeps its last status until it is gone
    if not pod["spec"].get("nodeName"):
        node, why = schedule(api, pod)
        if node is None:
            _pending(api, pod, why)
            return
        pod = copy.deepcopy(pod)
        pod["spec"]["nodeName"] = node
        pod["status"] = {}
    life = api.pod_life.get(pod["metadata"]["uid"])
    if life is None:
        if pod.get("status", {}).get("phase"):
            return
        life = api.pod_life[pod["metadata"]["uid"]] = _start(api, pod)
    completes = (controller_of(pod) or {}).get("kind") == "Job"
    elapsed = time.monotonic() - life["clock"]
    backoff = api.pod_rules.settings["backoffSeconds"]
    statuses, changes = [], []
    for container in pod["spec"]["containers"]:
        status, change = lifetime.container_status(pod, container, life["rules"][container["name"]], life["wall"], elapsed, backoff,
                                                   completes)
        statuses.append(status)
        if change is not None:
            changes.append(change)
    phase = lifetime.pod_phase(pod, statuses)
    started = life["wall"].strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {
        "phase": phase, "conditions": _conditions(statuses, phase, started),
        "hostIP": NODE_IP, "hostIPs": [{"ip": NODE_IP}], "podIP": life["ip"], "podIPs": [{"ip": life["ip"]}], "startTime": started,
        "qosClass": "Burstable" if any(c.get("resources") for c in pod["spec"]["containers"]) else "BestEffort",
        "containerStatuses": statuses,
    }
    if pod["spec"].get("initContainers"):
        status["initContainerStatuses"] = [
            dict(_container_status(c, started, c.get("restartPolicy") == "Always"), ready=True) for c in pod["spec"]["initContainers"]]
        for new_status, old_status in zip(status["initContainerStatuses"], (pod.get("status") or {}).get("initContainerStatuses") or []):
            new_status["containerID"] = old_status.get("containerID", new_status["containerID"])
            if "terminated" in new_status["state"]:
                new_status["state"]["terminated"]["containerID"] = new_status["containerID"]
    if pod.get("status") != status:
        new = copy.deepcopy(pod)
        new["status"] = status
        api.internal_write("", "pods", new)
    if changes:
        api.later(min(changes) - elapsed, "", "Pod", namespace, name)
