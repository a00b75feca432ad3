"""The ``/_harness/*`` control endpoints: request statistics, fault injection, object dump, pod log lines, exec backend, pod rules."""

from __future__ import annotations

import json
import threading
import time

from .common import ApiError, bad_request


class Control:
    """Request counters and the pending fault, shared by all handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.fault = None
        self.reset()

    def reset(self):
        with self.lock:
            self.stats = {"total": 0, "by_verb": {}, "by_method": {}, "by_resource": {}, "by_agent": {},
                          "writes": 0, "dry_run": 0, "faults_injected": 0, "since": time.time()}

    def count(self, verb, method, resource, agent, dry_run):
        with self.lock:
            stats = self.stats
            stats["total"] += 1
            for table, key in (("by_verb", verb), ("by_method", method), ("by_agent", agent)):
                stats[table][key] = stats[table].get(key, 0) + 1
            if resource:
                per = stats["by_resource"].setdefault(resource, {})
                per[verb] = per.get(verb, 0) + 1
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                stats["dry_run" if dry_run else "writes"] += 1

    def take_fault(self, path):
        with self.lock:
            fault = self.fault
            if not fault or (fault.get("match") and fault["match"] not in path):
                return None
            fault["remaining"] -= 1
            if fault["remaining"] <= 0:
                self.fault = None
            self.stats["faults_injected"] += 1
            return dict(fault)

    def set_fault(self, spec):
        count = int(spec.get("count", 1))
        if "status" not in spec and "delay" not in spec and count:
            raise ValueError('a fault needs "status" (an HTTP error code) or "delay" (seconds), and "count"')
        with self.lock:
            self.fault = dict(spec, remaining=count) if count > 0 else None
            return self.fault


class ControlMixin:
    """Serves ``/_harness/*`` for :class:`~.server.Handler`."""

    def _control(self, path, body):
        control, api = self.control, self.api
        try:
            spec = json.loads(body) if body else {}
        except ValueError as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}") from exc
        if path == "/_harness/stats" and self.command == "GET":
            with control.lock:
                self._send(200, control.stats)
        elif path == "/_harness/reset-stats" and self.command == "POST":
            control.reset()
            self._send(200, {"reset": True})
        elif path == "/_harness/objects" and self.command == "GET":
            with api.store.lock:
                items = [api.out(api.rtype_of(g, p), o) for (g, p, _ns, _name), o in sorted(api.store.objects.items())]
            self._send(200, {"items": items})
        elif path == "/_harness/faults" and self.command == "GET":
            with control.lock:
                self._send(200, {"fault": control.fault})
        elif path == "/_harness/faults" and self.command in ("POST", "DELETE"):
            try:
                fault = control.set_fault(spec if self.command == "POST" else {"count": 0})
            except (TypeError, ValueError) as exc:
                raise bad_request(str(exc)) from exc
            self._send(200, {"fault": fault})
        elif path == "/_harness/logs" and self.command == "POST":
            for key in ("namespace", "pod", "container", "lines"):
                if key not in spec:
                    raise bad_request(f"/_harness/logs needs {key!r}")
            api.append_log(spec["namespace"], spec["pod"], spec["container"], [str(line) for line in spec["lines"]])
            self._send(200, {"appended": len(spec["lines"])})
        elif path == "/_harness/pod-rules" and self.command in ("GET", "POST", "DELETE"):
            with api.store.lock:
                try:
                    shown = api.pod_rules.show() if self.command == "GET" else api.pod_rules.set(spec if self.command == "POST" else {})
                except (TypeError, ValueError) as exc:
                    raise bad_request(f"/_harness/pod-rules: {exc}") from exc
            self._send(200, shown)
        elif path == "/_harness/exec-backend" and self.command in ("POST", "DELETE"):
            self.exec_backend.url = spec.get("url") if self.command == "POST" else None
            self._send(200, {"url": self.exec_backend.url})
        else:
            raise ApiError(404, "NotFound", f"no control endpoint {self.command} {path}")
