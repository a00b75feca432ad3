# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action side of istiolab.mesh.mesh_wait: kubernetes.core.k8s_info's wait, with a progress line on long waits.

The wait itself is k8s_info's (its readiness rules, its wait_condition), run in slices of ``progress_interval``
seconds until ``wait_timeout``: between two slices the controller reads the workloads once (one query per target,
as the task selects them) and prints how many of their pods are ready, for example
``Bookinfo pods ready 4/6, 45 s of 600 (waiting on reviews-v2, reviews-v3)``. A wait that ends within the first
slice prints nothing. The result is k8s_info's: ``resources`` (and ``api_found``) of every target, in order.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible.executor import module_common

display = Display()

MODULE = "kubernetes.core.k8s_info"
TIMEOUT_TEXT = "even after waiting for"
# What each workload kind counts: (its pods ready, the pods it wants).
COUNTS = {
    "Deployment": ("readyReplicas", "replicas"),
    "StatefulSet": ("readyReplicas", "replicas"),
    "ReplicaSet": ("readyReplicas", "replicas"),
    "DaemonSet": ("numberReady", "desiredNumberScheduled"),
}
CONNECTION_OPTIONS = ("kubeconfig", "context", "host", "api_key", "username", "password", "validate_certs", "ca_cert",
                      "client_cert", "client_key", "proxy", "no_proxy", "proxy_headers", "persist_config", "impersonate_user",
                      "impersonate_groups")
TARGET_OPTIONS = ("api_version", "kind", "name", "namespace", "label_selectors")


def pods_ready(resources):
    """``(ready, wanted, [names not ready])`` over workloads as k8s_info returns them (Pods count one each)."""
    ready = wanted = 0
    waiting = []
    for item in resources or []:
        kind = item.get("kind")
        status = item.get("status") or {}
        name = (item.get("metadata") or {}).get("name", "?")
        if kind == "Pod":
            statuses = status.get("containerStatuses") or []
            ok = bool(statuses) and all(c.get("ready") for c in statuses)
            have, want = (1 if ok else 0), 1
        else:
            ready_key, wanted_key = COUNTS.get(kind, ("readyReplicas", "replicas"))
            spec = item.get("spec") or {}
            want = int(status.get(wanted_key) or 0) if kind == "DaemonSet" else int(spec.get("replicas", 1) or 0)
            have = int(status.get(ready_key) or 0)
        ready += min(have, want)
        wanted += want
        if have < want:
            waiting.append(name)
    return ready, wanted, waiting


def progress_line(what, ready, wanted, waiting, elapsed, timeout):
    line = "%s ready %d/%d, %d s of %d" % (what, ready, wanted, elapsed, timeout)
    if waiting:
        shown = ", ".join(waiting[:4]) + (", ..." if len(waiting) > 4 else "")
        line += " (waiting on %s)" % shown
    return line


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("what", "targets", "wait_condition", "wait_timeout", "wait_sleep", "progress_interval") + TARGET_OPTIONS
                            + CONNECTION_OPTIONS)

    def _module_args(self, args):
        """``args`` over the module defaults the play sets for k8s_info (its group kubernetes.core.k8s included)."""
        if hasattr(module_common, "_apply_action_arg_defaults"):  # ansible-core 2.19
            return module_common._apply_action_arg_defaults(MODULE, self._task, args, self._templar)
        return module_common.get_action_args_with_defaults(  # pragma: no cover - ansible-core 2.17, 2.18
            MODULE, args, self._task.module_defaults, self._templar, action_groups=self._task._parent._play._action_groups)

    def _k8s_info(self, target, task_vars, **wait):
        args = dict((key, value) for key, value in target.items() if value is not None)
        args.update(wait)
        return self._execute_module(module_name=MODULE, module_args=self._module_args(args), task_vars=task_vars)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict(self._task.args)
        what = str(args.get("what") or "pods")
        try:
            timeout = int(args.get("wait_timeout", 120))
            interval = max(1, int(args.get("progress_interval", 15)))
            sleep = max(1, int(args.get("wait_sleep", 5)))
        except (TypeError, ValueError) as exc:
            raise AnsibleActionFail("mesh_wait: wait_timeout, progress_interval and wait_sleep take whole seconds: %s" % exc)
        connection = dict((key, args[key]) for key in CONNECTION_OPTIONS if args.get(key) is not None)
        shared = dict((key, args.get(key)) for key in TARGET_OPTIONS)
        targets = []
        for target in args.get("targets") or [{}]:
            if not isinstance(target, dict):
                raise AnsibleActionFail("mesh_wait: each of targets is a mapping with kind and name or label_selectors, not %r" % (target,))
            merged = dict(shared)
            merged.update(dict((key, value) for key, value in target.items() if key in TARGET_OPTIONS))
            if not merged.get("kind"):
                raise AnsibleActionFail("mesh_wait: give the kind of what to wait for (kind, or kind in each of targets)")
            merged.update(connection)
            if args.get("wait_condition"):
                merged["wait_condition"] = args["wait_condition"]
            targets.append(merged)

        started = time.monotonic()
        done = {}
        while True:
            # One slice per target still waited on, one after the other: while one is waited for, the others keep rolling out.
            for index, target in enumerate(targets):
                left = timeout - (time.monotonic() - started)
                if index in done or left <= 0:
                    continue
                slice_s = max(1, int(min(interval, left)))
                answer = self._k8s_info(target, task_vars, wait=True, wait_timeout=slice_s, wait_sleep=min(sleep, slice_s))
                if answer.get("failed") and TIMEOUT_TEXT not in str(answer.get("msg", "")):
                    answer["msg"] = "%s: %s" % (what, answer.get("msg"))
                    result.update(answer)
                    return result
                if not answer.get("failed") and (answer.get("resources") or timeout - (time.monotonic() - started) <= 0):
                    # Nothing selected yet: k8s_info waits the whole timeout for something to appear, and so does this.
                    done[index] = answer
            if len(done) == len(targets):
                break
            elapsed = time.monotonic() - started
            ready, wanted, waiting = pods_ready(self._observe(targets, task_vars))
            if elapsed >= timeout:
                kind = targets[min(set(range(len(targets))) - set(done))]["kind"]
                result.update(
                    failed=True, ready=ready, wanted=wanted, waiting=waiting,
                    resources=[r for index in sorted(done) for r in done[index].get("resources", [])],
                    msg="%s not ready: %s. Failed to gather information about %s(s) even after waiting for %d seconds." % (
                        what, progress_line(what, ready, wanted, waiting, elapsed, timeout), kind, timeout))
                return result
            display.display(progress_line(what, ready, wanted, waiting, elapsed, timeout))

        resources = [r for index in sorted(done) for r in done[index].get("resources", [])]
        ready, wanted, _waiting = pods_ready(resources)
        result.update(changed=False, resources=resources, api_found=all(done[i].get("api_found", True) for i in done),
                      waited_s=round(time.monotonic() - started, 1), ready=ready, wanted=wanted)
        if result["waited_s"] >= interval:
            display.display("%s ready %d/%d after %d s" % (what, ready, wanted, result["waited_s"]))
        return result

    def _observe(self, targets, task_vars):
        seen = []
        for target in targets:
            answer = self._k8s_info(target, task_vars, wait=False)
            seen.extend(answer.get("resources") or [])
        return seen
