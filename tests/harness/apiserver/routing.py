"""Kubernetes REST paths: routing a path to a type, discovery, the OpenAPI index, and one method per HTTP verb."""

from __future__ import annotations

import json
import time

from . import exec_stream, managed, portforward, resources, tables
from .common import ApiError, bad_request
from .controllers import scale_of


KUBERNETES_VERSION = {"major": "1", "minor": "35", "gitVersion": "v1.35.0", "gitCommit": "harness", "gitTreeState": "clean",
                      "buildDate": "2025-12-17T00:00:00Z", "goVersion": "go1.25.5", "compiler": "gc", "platform": "linux/amd64"}
_FAULT_REASONS = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


def _classify(method, name, params, subresource):
    if method == "GET":
        if name is None:
            return "watch" if params.get("watch") in ("true", "1") else "list"
        return "get" if not subresource else f"get/{subresource}"
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())
    return verb if not subresource else f"{verb}/{subresource}"


class RoutingMixin:
    """Serves the Kubernetes API paths for :class:`~.server.Handler`."""

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
        if subresource == "portforward" and self.command in ("GET", "POST"):
            portforward.serve(self, self.api.get(rtype, namespace, name), self.exec_backend)
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
                              field_validation=params.get("fieldValidation"), manager=self._manager(params))
        self._send(201, obj, headers=self._warnings())

    def _put(self, rtype, namespace, name, subresource, params, body):
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        self.api.take_warnings()
        obj = self.api.update(rtype, namespace, name, self._json(body), params.get("dryRun") == "All", subresource,
                              params.get("fieldValidation"), self._manager(params))
        self._send(200, scale_of(rtype, obj) if subresource == "scale" else obj, headers=self._warnings())

    def _patch(self, rtype, namespace, name, subresource, params, body):
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        created = content_type == "application/apply-patch+yaml" and self.api.store.objects.get(
            (rtype.group, rtype.plural, namespace or "", name)) is None
        self.api.take_warnings()
        obj = self.api.patch(rtype, namespace, name, content_type, body, params.get("dryRun") == "All", subresource,
                             params.get("fieldManager") if content_type == "application/apply-patch+yaml" else self._manager(params),
                             params.get("force") == "true", params.get("fieldValidation"))
        self._send(201 if created else 200, scale_of(rtype, obj) if subresource == "scale" else obj, headers=self._warnings())

    def _manager(self, params):
        """The field manager of a write: fieldManager, else the User-Agent up to its first "/" (as kube-apiserver)."""
        return params.get("fieldManager") or managed.default_manager(self.headers.get("User-Agent"))

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
        grace = params.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        self._send(200, self.api.delete(rtype, namespace, name, dry_run, propagation, options.get("preconditions"),
                                        None if grace is None else int(grace)))

    @staticmethod
    def _json(body):
        try:
            return json.loads(body or b"null")
        except ValueError as exc:
            raise bad_request(f"the request body is not valid JSON: {exc}") from exc
