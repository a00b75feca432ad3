"""The Job controller."""

from __future__ import annotations

import copy

from ..common import now as _now
from .base import conditions, create_pod, drop_zero, pod_from_template, set_status


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
        if create_pod(api, pod_from_template(job["spec"]["template"], job)):
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
    set_status(api, "batch", "jobs", job, drop_zero(status) | {"ready": 0, "terminating": 0})
