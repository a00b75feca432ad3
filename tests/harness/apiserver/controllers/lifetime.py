"""Pod lifetime rules: which containers cannot pull their image, exit, or run for a while, and what the kubelet reports then.

Tests set the rules on the running emulator (``POST /_harness/pod-rules``); a pod takes the rules that match it when
the kubelet starts it, so pods started before keep running. Without a matching rule a container runs (a Job's pod
succeeds at once), as before.

A pod's status is a function of the time since its start (``status_at``), so the kubelet reconciles it again at the
next change (``next_change``) and writes only what changed. Back-offs run on a short offline clock
(``backoffSeconds``, default 0.2 s for kubelet's 10 s) while the messages name kubelet's own durations.
"""

from __future__ import annotations

import copy
import datetime
import fnmatch
import hashlib

DEFAULTS = {"backoffSeconds": 0.2, "maxGraceSeconds": 0.3}
MATCH_KEYS = ("namespace", "pod", "container", "image", "command")
EFFECT_KEYS = ("pull", "message", "exitCode", "runSeconds")
# kubelet's container restart back-off: 10 s doubling up to 5 min (the image pull back-off is the same).
KUBELET_BACKOFF = 10
KUBELET_BACKOFF_MAX = 300


class Rules:
    """The rules and offline clock settings of one emulator (``rules`` first match wins)."""

    def __init__(self):
        self.rules = []
        self.settings = dict(DEFAULTS)

    def set(self, spec):
        rules = spec.get("rules", [])
        if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
            raise ValueError('"rules" must be a list of objects')
        for rule in rules:
            unknown = set(rule) - set(MATCH_KEYS) - set(EFFECT_KEYS)
            if unknown:
                raise ValueError(f"unknown pod rule keys {sorted(unknown)}; match on {list(MATCH_KEYS)}, set {list(EFFECT_KEYS)}")
            if rule.get("pull") not in (None, "fail"):
                raise ValueError('"pull" can only be "fail"')
            if not any(k in rule for k in EFFECT_KEYS):
                raise ValueError(f"a pod rule needs one of {list(EFFECT_KEYS)}")
        settings = dict(DEFAULTS)
        for key in DEFAULTS:
            if key in spec:
                settings[key] = float(spec[key])
                if settings[key] < 0:
                    raise ValueError(f"{key} must not be negative")
        self.rules, self.settings = [dict(r) for r in rules], settings
        return self.show()

    def show(self):
        return dict(self.settings, rules=copy.deepcopy(self.rules))

    def for_container(self, pod, container):
        command = " ".join(str(word) for word in (container.get("command") or []) + (container.get("args") or []))
        values = {"namespace": pod["metadata"].get("namespace", ""), "pod": pod["metadata"]["name"], "container": container["name"],
                  "image": container.get("image", ""), "command": command}
        for rule in self.rules:
            if all(fnmatch.fnmatchcase(values[key], str(rule[key])) for key in MATCH_KEYS if key in rule):
                return rule
        return None


def _iso(start, offset):
    return (start + datetime.timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _go_duration(seconds):
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _container_id(pod, container, cycle):
    return "docker://" + hashlib.sha256(f"{pod['metadata']['uid']}/{container['name']}/{cycle}".encode()).hexdigest()


def _image_id(container):
    image = container.get("image", "")
    return f"docker-pullable://{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _pull_error(container):
    image = container.get("image", "")
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return (f"Error response from daemon: pull access denied for {repository}, repository does not exist or may require "
            "'docker login': denied: requested access to the resource is denied")


def container_status(pod, container, rule, start, elapsed, backoff, completes):
    """The status of one container ``elapsed`` seconds after the pod started, and when it next changes (None: never)."""
    base = {"name": container["name"], "image": container.get("image", ""), "imageID": "", "restartCount": 0, "lastState": {},
            "ready": False, "started": False}
    if rule and rule.get("pull") == "fail":
        if elapsed < backoff:
            waiting = {"reason": "ErrImagePull", "message": rule.get("message") or _pull_error(container)}
            return dict(base, state={"waiting": waiting}), backoff
        return dict(base, state={"waiting": {"reason": "ImagePullBackOff",
                                             "message": f'Back-off pulling image "{container.get("image", "")}"'}}), None
    base["imageID"] = _image_id(container)
    run = float((rule or {}).get("runSeconds", 0))
    exit_code = (rule or {}).get("exitCode")
    if exit_code is None and not completes:
        # A service's container without an exit keeps running; a Job's exits 0 after runSeconds (at once by default).
        return dict(base, containerID=_container_id(pod, container, 0), ready=True, started=True,
                    state={"running": {"startedAt": _iso(start, 0)}}), None
    exit_code = int(exit_code or 0)
    policy = pod["spec"].get("restartPolicy", "Always")
    restarts = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
    cycle, cycle_start, previous = 0, 0.0, None
    while True:
        finished = cycle_start + run
        terminated = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                      "startedAt": _iso(start, cycle_start), "finishedAt": _iso(start, finished),
                      "containerID": _container_id(pod, container, cycle)}
        last = {"terminated": previous} if cycle else {}
        if elapsed < finished:
            return dict(base, containerID=_container_id(pod, container, cycle), restartCount=cycle, lastState=last,
                        ready=True, started=True, state={"running": {"startedAt": _iso(start, cycle_start)}}), finished
        if not restarts:
            return dict(base, containerID=terminated["containerID"], restartCount=cycle, lastState=last,
                        state={"terminated": terminated}), None
        wait = backoff * 2 ** min(cycle, 5)
        if elapsed < finished + wait:
            shown = min(KUBELET_BACKOFF * 2 ** cycle, KUBELET_BACKOFF_MAX)
            message = (f"back-off {_go_duration(shown)} restarting failed container={container['name']} "
                       f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}({pod['metadata']['uid']})")
            return dict(base, containerID=terminated["containerID"], restartCount=cycle, lastState={"terminated": terminated},
                        state={"waiting": {"reason": "CrashLoopBackOff", "message": message}}), finished + wait
        previous, cycle, cycle_start = terminated, cycle + 1, finished + wait


def pod_phase(pod, statuses):
    states = [s["state"] for s in statuses]
    if pod["spec"].get("restartPolicy", "Always") != "Always" and states and all("terminated" in s for s in states):
        return "Succeeded" if all(s["terminated"]["exitCode"] == 0 for s in states) else "Failed"
    if any("running" in s or "terminated" in s for s in states) or any(st["restartCount"] or st["lastState"] for st in statuses):
        return "Running"
    return "Pending"
