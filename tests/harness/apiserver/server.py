"""The HTTP side of the emulator: Kubernetes REST paths, discovery, OpenAPI index, watches, plus the
``/_harness/*`` control endpoints (request statistics, fault injection, object dump, pod log lines)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from ..loopback import LoopbackServer

from . import exec_stream, protobuf, resources, tables
from .api import Api
from .common import ApiError, bad_request
from .controllers import scale_of

KUBERNETES_VERSION = {"major": "1", "minor": "35", "gitVersion": "v1.35.0", "gitCommit": "harness", "gitTreeState": "clean",
                      "buildDate": "2025-12-17T00:00:00Z", "goVersion": "go1.25.5", "compiler": "gc", "platform": "linux/amd64"}
MAX_WATCH_SECONDS = 1800
_FAULT_REASONS = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


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


def _classify(method, name, params, subresource):
    if method == "GET":
        if name is None:
            return "watch" if params.get("watch") in ("true", "1") else "list"
        return "get" if not subresource else f"get/{subresource}"
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())
    return verb if not subresource else f"{verb}/{subresource}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "harness-apiserver"
    api: Api = None
    control: Control = None
    exec_backend: exec_stream.Backend = None
    token = ""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), format % args))

    # ---- plumbing --------------------------------------------------------------------------------
    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code, payload, content_type="application/json", headers=None):
        data = payload if isinstance(payload, bytes) else (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers.items() if isinstance(headers, dict) else headers or ()):
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, err):
        self._send(err.code, err.status())

    def do_GET(self):  # noqa: N802 - the names BaseHTTPRequestHandler dispatches to
        self._dispatch()

    def do_POST(self):  # noqa: N802
        self._dispatch()

    def do_PUT(self):  # noqa: N802
        self._dispatch()

    def do_PATCH(self):  # noqa: N802
        self._dispatch()

    def do_DELETE(self):  # noqa: N802
        self._dispatch()

    def _dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        body = self._body()
        # kubectl sends no bearer token over plain HTTP, so a request without credentials is served (as behind
        # `kubectl proxy`); one with wrong credentials is refused, so a broken kubeconfig still fails like on a cluster.
        supplied = self.headers.get("Authorization")
        if self.token and supplied is not None and supplied != f"Bearer {self.token}":
            self._send(401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
            return
        try:
            content_type = self.headers.get("Content-Type", "")
            if "cbor" in content_type:
                # client-go retries a CBOR request as JSON after a 415; it never does so for protobuf.
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: "
                               f"application/json, application/yaml, {protobuf.MEDIA_TYPE}")
            if protobuf.MEDIA_TYPE in content_type and body:
                body = protobuf.to_json(body)
                self.headers.replace_header("Content-Type", "application/json")
            if url.path.startswith("/_harness/"):
                self._control(url.path, body)
            else:
                self._api(url.path, params, body)
        except ApiError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ---- control endpoints -------------------------------------------------------------------------
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
        elif path == "/_harness/exec-backend" and self.command in ("POST", "DELETE"):
            self.exec_backend.url = spec.get("url") if self.command == "POST" else None
            self._send(200, {"url": self.exec_backend.url})
        else:
            raise ApiError(404, "NotFound", f"no control endpoint {self.command} {path}")

    # ---- Kubernetes API ----------------------------------------------------------------------------
    def _api(self, path, params, body):
        route = self._route(path)
        rtype, namespace, name, subresource = route if isinstance(route, tuple) else (None, None, None, None)
        verb = "discovery" if rtype is None else _classify(self.command, name, params, subresource)
        resource = f"{rtype.api_version}/{rtype.plural}" if rtype else ""
        agent = self.headers.get("User-Agent", "unknown").split("/")[0].split(" ")[0] or "unknown"
        self.control.count(verb, self.command, resource, agent, params.get("dryRun") == "All")
        fault = self.control.take_fault(path)
        if fault:
            if fault.get("delay"):
                time.sleep(float(fault["delay"]))
            if fault.get("status"):
                code = int(fault["status"])
                reason = _FAULT_REASONS.get(code, "InternalError")
                raise ApiError(code, reason, f"harness: injected fault (HTTP {code} {reason})")
        if rtype is None:
            self._discovery(route)
            return
        if rtype.namespaced and namespace is None and name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if subresource == "exec" and self.command in ("GET", "POST"):
            exec_stream.serve(self, self.api.get(rtype, namespace, name), self.exec_backend)
            return
        handler = getattr(self, f"_{self.command.lower()}")
        handler(rtype, namespace, name, subresource, params, body)

    def _route(self, path):
        parts = [p for p in path.split("/") if p]
        not_found = ApiError(404, "NotFound", "the server could not find the requested resource",
                             {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})
        if parts in (["version"], ["api"], ["apis"], ["healthz"], ["livez"], ["readyz"]) or parts[:1] == ["openapi"]:
            return parts
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 2 and parts[0] == "apis":
            if len(parts) == 2:
                return parts
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise not_found
        registry = self.api.registry
        if not rest:
            return ["resources", group, version]
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            inner = registry.lookup(group, version, rest[2])
            if inner is not None and inner.namespaced:
                namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise not_found
        rtype = registry.lookup(group, version, rest[0])
        if rtype is None:
            raise not_found
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if subresource and subresource not in rtype.subresources:
            raise not_found
        return rtype, namespace, name, subresource

    def _discovery(self, route):
        registry = self.api.registry
        with self.api.store.lock:
            if route == ["version"]:
                self._send(200, KUBERNETES_VERSION)
            elif route[0] in ("healthz", "livez", "readyz"):
                self._send(200, "ok", "text/plain")
            elif route == ["api"]:
                host = self.server.server_address
                self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"{host[0]}:{host[1]}"}]})
            elif route == ["apis"]:
                self._send(200, resources.api_group_list(registry))
            elif route[0] == "apis":
                versions = registry.group_versions().get(route[1])
                if not versions:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                self._send(200, resources.api_group(route[1], versions))
            elif route[0] == "resources":
                if not registry.resources_in(route[1], route[2]):
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                self._send(200, resources.api_resource_list(registry, route[1], route[2]))
            elif route == ["openapi", "v3"]:
                self._send(200, resources.openapi_v3_root(registry))
            elif route[:2] == ["openapi", "v3"] and len(route) in (4, 5):
                group, version = (route[3], route[4]) if route[2] == "apis" else ("", route[3])
                if not registry.is_builtin_group(group) or not registry.resources_in(group, version):
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                self._send(200, resources.openapi_v3_group_version(registry, group, version))
            else:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _wants_table(self):
        return "as=Table" in self.headers.get("Accept", "")

    def _get(self, rtype, namespace, name, subresource, params, body):
        del body
        api = self.api
        if name is None:
            if params.get("watch") in ("true", "1"):
                self._watch(rtype, namespace, params)
                return
            items, revision = api.list(rtype, namespace, params.get("labelSelector", ""), params.get("fieldSelector", ""))
            if self._wants_table():
                self._send(200, tables.table(rtype, items, revision, params.get("includeObject", "Metadata")))
                return
            if not rtype.crd:
                for item in items:
                    item.pop("apiVersion", None)
                    item.pop("kind", None)
            self._send(200, {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version,
                             "metadata": {"resourceVersion": revision}, "items": items})
            return
        if subresource == "log":
            self._send(200, api.pod_log(namespace, name, params.get("container", "")), "text/plain")
            return
        obj = api.get(rtype, namespace, name)
        if subresource == "scale":
            obj = scale_of(rtype, obj)
        if self._wants_table() and not subresource:
            self._send(200, tables.table(rtype, [obj], obj["metadata"]["resourceVersion"], params.get("includeObject", "Metadata")))
            return
        self._send(200, obj)

    def _post(self, rtype, namespace, name, subresource, params, body):
        del subresource
        if name is not None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        self.api.take_warnings()
        obj = self.api.create(rtype, namespace, self._json(body), dry_run=params.get("dryRun") == "All",
                              field_validation=params.get("fieldValidation"))
        self._send(201, obj, headers=self._warnings())

    def _put(self, rtype, namespace, name, subresource, params, body):
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        self.api.take_warnings()
        obj = self.api.update(rtype, namespace, name, self._json(body), params.get("dryRun") == "All", subresource,
                              params.get("fieldValidation"))
        self._send(200, scale_of(rtype, obj) if subresource == "scale" else obj, headers=self._warnings())

    def _patch(self, rtype, namespace, name, subresource, params, body):
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        created = content_type == "application/apply-patch+yaml" and self.api.store.objects.get(
            (rtype.group, rtype.plural, namespace or "", name)) is None
        self.api.take_warnings()
        obj = self.api.patch(rtype, namespace, name, content_type, body, params.get("dryRun") == "All", subresource,
                             params.get("fieldManager"), params.get("force") == "true", params.get("fieldValidation"))
        self._send(201 if created else 200, scale_of(rtype, obj) if subresource == "scale" else obj, headers=self._warnings())

    def _warnings(self):
        # RFC 7234 warn-code 299 with agent "-", as kube-apiserver writes them; kubectl prints "Warning: <text>".
        return [("Warning", "299 - " + json.dumps(text)) for text in self.api.take_warnings()]

    def _delete(self, rtype, namespace, name, subresource, params, body):
        del subresource
        options = self._json(body) if body else {}
        dry_run = params.get("dryRun") == "All" or "All" in (options.get("dryRun") or [])
        propagation = params.get("propagationPolicy") or options.get("propagationPolicy")
        if options.get("orphanDependents") is True:
            propagation = "Orphan"
        if name is None:
            items, revision = self.api.delete_collection(rtype, namespace, params.get("labelSelector", ""),
                                                         params.get("fieldSelector", ""), dry_run, propagation)
            self._send(200, {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version, "metadata": {"resourceVersion": revision}, "items": items})
            return
        self._send(200, self.api.delete(rtype, namespace, name, dry_run, propagation, options.get("preconditions")))

    @staticmethod
    def _json(body):
        try:
            return json.loads(body or b"null")
        except ValueError as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}") from exc

    def _watch(self, rtype, namespace, params):
        api = self.api
        store = api.store
        matches = api.matcher(rtype, params.get("labelSelector", ""), params.get("fieldSelector", ""))
        deadline = time.monotonic() + min(int(params.get("timeoutSeconds") or MAX_WATCH_SECONDS), MAX_WATCH_SECONDS)
        namespace = namespace if rtype.namespaced else None

        def relevant(group, plural, obj):
            return (group == rtype.group and plural == rtype.plural and (namespace is None or obj["metadata"].get("namespace") == namespace)
                    and matches(obj))

        with store.lock:
            start = params.get("resourceVersion") or "0"
            pending = []
            initial = params.get("sendInitialEvents") == "true"
            if start == "0" or initial:
                pending = [("ADDED", o) for o in store.items(rtype.group, rtype.plural, namespace) if matches(o)]
                cursor = store.revision
                if initial:
                    # A watch-list client (kubectl wait, rollout status) waits for this bookmark before it trusts its cache.
                    pending.append(("BOOKMARK", {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": {
                        "resourceVersion": str(cursor), "annotations": {"k8s.io/initial-events-end": "true"}}}))
            else:
                cursor = int(start) if start.isdigit() else store.revision
                if store.events and store.events[0][0] > cursor + 1 and len(store.events) == store.events.maxlen:
                    pending = [("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                          "message": f"too old resource version: {cursor}", "reason": "Expired", "code": 410})]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while True:
                for event, obj in pending:
                    out = api.out(rtype, obj) if event in ("ADDED", "MODIFIED", "DELETED") else obj
                    line = json.dumps({"type": event, "object": out}).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
                if pending and pending[-1][0] == "ERROR":
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                with store.lock:
                    fresh = [e for e in store.events if e[0] > cursor]
                    if not fresh:
                        store.changed.wait(timeout=min(remaining, 1.0))
                        fresh = [e for e in store.events if e[0] > cursor]
                    if fresh:
                        cursor = fresh[-1][0]
                    pending = [(event, obj) for _revision, group, plural, event, obj in fresh if relevant(group, plural, obj)]
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def write_json_atomic(path, data):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)


def serve(directory, port=0):
    """Run the emulator until SIGTERM/SIGINT, announcing itself in DIR/harness.json once it listens."""
    Handler.api = Api()
    Handler.control = Control()
    Handler.exec_backend = exec_stream.Backend()
    Handler.token = os.environ.get("MESH_HARNESS_TOKEN", "")
    server = LoopbackServer(("127.0.0.1", port), Handler)
    address = f"http://127.0.0.1:{server.server_address[1]}"

    def stop(signum, frame):
        del frame
        sys.stderr.write(f"received signal {signum}, stopping\n")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_json_atomic(os.path.join(directory, "harness.json"),
                      {"server": address, "pid": os.getpid(), "dir": directory, "token": Handler.token})
    sys.stderr.write(f"harness API emulator listening on {address} (pid {os.getpid()})\n")
    sys.stderr.flush()
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    sys.stderr.write("stopped\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.harness.apiserver", description="Kubernetes API emulator (foreground).")
    parser.add_argument("--dir", required=True, help="directory to announce harness.json in")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    serve(os.path.abspath(args.dir), args.port)
    return 0
