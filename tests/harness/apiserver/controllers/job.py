"""The Job controller."""

from __future__ import annotations

import copy

from ..common import now as _now
from .base import conditions, create_pod, drop_zero, live_pods, pod_from_template, pod_ready, set_status


def reconcile_job(api, namespace, name):
    job = api.find("batch", "jobs", namespace, name)
    if job is None:
        return
    status = copy.deepcopy(job.get("status") or {})
    if any(c.get("type") == "Complete" for c in status.get("conditions", [])) or job["spec"].get("suspend"):
        return
    if any(c.get("type") == "Failed" for c in status.get("conditions", [])):
        return
    completions = job["spec"].get("completions", 1)
    backoff_limit = job["spec"].get("backoffLimit", 6)

    def counts():
        pods = live_pods(api, job)
        phases = [p.get("status", {}).get("phase") for p in pods]
        return pods, phases.count("Succeeded"), phases.count("Failed")

    pods, succeeded, failed = counts()
    if failed <= backoff_limit:
        for _missing in range(completions - len(pods) + failed):
            if create_pod(api, pod_from_template(job["spec"]["template"], job)):
                break
        pods, succeeded, failed = counts()
    status.setdefault("startTime", _now())
    status.update(ready=sum(pod_ready(p) for p in pods), terminating=0, uncountedTerminatedPods={})
    status["active"] = len(pods) - succeeded - failed
    if succeeded:
        status["succeeded"] = succeeded
    if failed:
        status["failed"] = failed
    if failed > backoff_limit:
        status.pop("active")
        message = "Job has reached the specified backoff limit"
        status["conditions"] = conditions(status.get("conditions"), [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": message},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": message},
        ])
    elif succeeded >= completions:
        status.pop("active")
        status["completionTime"] = _now()
        status["conditions"] = conditions(status.get("conditions"), [
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
        ])
    set_status(api, "batch", "jobs", job, drop_zero(status) | {"ready": status["ready"], "terminating": 0})
