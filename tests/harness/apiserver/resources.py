"""The resource types the emulator serves, and the discovery and OpenAPI documents built from them."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclasses.dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple = ()
    subresources: tuple = ()
    categories: tuple = ()
    crd: str = ""
    printer_columns: tuple = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group_resource(self) -> str:
        """The name Kubernetes uses in messages: ``deployments.apps``, ``pods``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


def _builtin(group, version, spec):
    types = []
    for plural, kind, namespaced, short, subs, *cats in spec:
        types.append(ResourceType(group, version, plural, kind, namespaced, tuple(short), tuple(subs), tuple(cats[0] if cats else ())))
    return types


_ALL = ("all",)
BUILTINS = (
    _builtin("", "v1", [
        ("namespaces", "Namespace", False, ["ns"], ["status", "finalize"]),
        ("pods", "Pod", True, ["po"], ["status", "log", "exec", "portforward"], _ALL),
        ("services", "Service", True, ["svc"], ["status"], _ALL),
        ("configmaps", "ConfigMap", True, ["cm"], []),
        ("secrets", "Secret", True, [], []),
        ("serviceaccounts", "ServiceAccount", True, ["sa"], []),
        ("endpoints", "Endpoints", True, ["ep"], []),
        ("events", "Event", True, ["ev"], []),
        ("nodes", "Node", False, ["no"], ["status"]),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], ["status"]),
        ("persistentvolumes", "PersistentVolume", False, ["pv"], ["status"]),
    ])
    + _builtin("apps", "v1", [
        ("deployments", "Deployment", True, ["deploy"], ["status", "scale"], _ALL),
        ("statefulsets", "StatefulSet", True, ["sts"], ["status", "scale"], _ALL),
        ("daemonsets", "DaemonSet", True, ["ds"], ["status"], _ALL),
        ("replicasets", "ReplicaSet", True, ["rs"], ["status", "scale"], _ALL),
    ])
    + _builtin("batch", "v1", [
        ("jobs", "Job", True, [], ["status"], _ALL),
        ("cronjobs", "CronJob", True, ["cj"], ["status"], _ALL),
    ])
    + _builtin("rbac.authorization.k8s.io", "v1", [
        ("roles", "Role", True, [], []),
        ("rolebindings", "RoleBinding", True, [], []),
        ("clusterroles", "ClusterRole", False, [], []),
        ("clusterrolebindings", "ClusterRoleBinding", False, [], []),
    ])
    + _builtin("apiextensions.k8s.io", "v1", [
        ("customresourcedefinitions", "CustomResourceDefinition", False, ["crd", "crds"], ["status"]),
    ])
    + _builtin("admissionregistration.k8s.io", "v1", [
        ("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False, [], []),
        ("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False, [], []),
    ])
    + _builtin("policy", "v1", [
        ("poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], ["status"]),
    ])
    + _builtin("autoscaling", "v2", [
        ("horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"], ["status"], _ALL),
    ])
    + _builtin("networking.k8s.io", "v1", [
        ("ingresses", "Ingress", True, ["ing"], ["status"]),
        ("ingressclasses", "IngressClass", False, [], []),
        ("networkpolicies", "NetworkPolicy", True, ["netpol"], []),
    ])
    + _builtin("coordination.k8s.io", "v1", [
        ("leases", "Lease", True, [], []),
    ])
    + _builtin("storage.k8s.io", "v1", [
        ("storageclasses", "StorageClass", False, ["sc"], []),
    ])
)

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str):
    """Sort key giving Kubernetes' version order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > anything else."""
    match = _VERSION_RE.match(version)
    if not match:
        return (0, 0, 0, version)
    major, stage, minor = match.groups()
    return ({None: 3, "beta": 2, "alpha": 1}[stage], int(major), int(minor or 0), "")


class Registry:
    """Built-in types plus the types registered by stored CustomResourceDefinitions."""

    def __init__(self):
        self._builtin = {(t.group, t.version, t.plural): t for t in BUILTINS}
        self._crd = {}

    def types(self):
        return list(self._builtin.values()) + list(self._crd.values())

    def lookup(self, group: str, version: str, plural: str):
        key = (group, version, plural)
        return self._builtin.get(key) or self._crd.get(key)

    def group_versions(self):
        """{group: [versions, preferred first]} in discovery order: core, built-in groups, then CRD groups."""
        groups = {}
        for rtype in self.types():
            versions = groups.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        for versions in groups.values():
            versions.sort(key=version_priority, reverse=True)
        return groups

    def resources_in(self, group: str, version: str):
        return [t for t in self.types() if t.group == group and t.version == version]

    def is_builtin_group(self, group: str) -> bool:
        return any(t.group == group for t in BUILTINS)

    def register_crd(self, crd: dict):
        self.unregister_crd(crd["metadata"]["name"])
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for ver in spec.get("versions", []):
            if not ver.get("served", True):
                continue
            subresources = tuple(sorted(ver.get("subresources") or {}))
            rtype = ResourceType(
                group=spec["group"], version=ver["name"], plural=names["plural"], kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()), subresources=subresources,
                categories=tuple(names.get("categories") or ()), crd=crd["metadata"]["name"],
                printer_columns=tuple(json.dumps(c, sort_keys=True) for c in ver.get("additionalPrinterColumns") or ()),
            )
            self._crd[(rtype.group, rtype.version, rtype.plural)] = rtype

    def unregister_crd(self, name: str):
        for key in [k for k, t in self._crd.items() if t.crd == name]:
            del self._crd[key]


def _storage_hash(rtype: ResourceType) -> str:
    digest = hashlib.sha256(f"{rtype.api_version}/{rtype.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_resource_list(registry: Registry, group: str, version: str):
    resources = []
    for rtype in registry.resources_in(group, version):
        entry = {
            "name": rtype.plural, "singularName": rtype.singular, "namespaced": rtype.namespaced,
            "kind": rtype.kind, "verbs": ALL_VERBS if rtype.plural != "namespaces" else [v for v in ALL_VERBS if v != "deletecollection"],
            "storageVersionHash": _storage_hash(rtype),
        }
        if rtype.short_names:
            entry["shortNames"] = list(rtype.short_names)
        if rtype.categories:
            entry["categories"] = list(rtype.categories)
        resources.append(entry)
        for sub in rtype.subresources:
            sub_entry = {"name": f"{rtype.plural}/{sub}", "singularName": "", "namespaced": rtype.namespaced, "kind": rtype.kind}
            if sub == "scale":
                sub_entry.update(group="autoscaling", version="v1", kind="Scale", verbs=["get", "patch", "update"])
            elif sub == "log":
                sub_entry.update(kind="Pod", verbs=["get"])
            elif sub == "exec":
                sub_entry.update(kind="PodExecOptions", verbs=["create", "get"])
            elif sub == "portforward":
                sub_entry.update(kind="PodPortForwardOptions", verbs=["create", "get"])
            elif sub == "finalize":
                sub_entry["verbs"] = ["update"]
            else:
                sub_entry["verbs"] = ["get", "patch", "update"]
            resources.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def api_group(group: str, versions):
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry):
    groups = [api_group(g, vs) for g, vs in registry.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def openapi_v3_root(registry: Registry):
    """The OpenAPI v3 index, listing built-in group versions only.

    kubectl reads it to learn whether the server validates fields itself (the ``fieldValidation``
    query parameter on PATCH). For a group it does not find here (a CRD's) it checks Namespace instead,
    exactly as it does against a real API server.
    """
    paths = {}
    for group, versions in registry.group_versions().items():
        if not registry.is_builtin_group(group):
            continue
        for version in versions:
            key = f"apis/{group}/{version}" if group else f"api/{version}"
            doc_hash = hashlib.sha256(json.dumps(openapi_v3_group_version(registry, group, version), sort_keys=True).encode()).hexdigest()
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={doc_hash.upper()[:128]}"}
    return {"paths": paths}


_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")


def _operation(action, gvk, params):
    return {
        "operationId": action, "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk,
        "parameters": [{"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for p in params],
        "responses": {"200": {"description": "OK"}},
    }


def openapi_v3_group_version(registry: Registry, group: str, version: str):
    """A minimal OpenAPI v3 document: one path per resource with its write operations, no schemas."""
    paths = {}
    for rtype in registry.resources_in(group, version):
        if rtype.crd:
            continue
        gvk = {"group": group, "version": version, "kind": rtype.kind}
        base = rtype.prefix + ("/namespaces/{namespace}" if rtype.namespaced else "") + f"/{rtype.plural}"
        paths[base] = {"get": _operation("list", gvk, ()), "post": _operation("post", gvk, _WRITE_PARAMS)}
        paths[base + "/{name}"] = {
            "get": _operation("get", gvk, ()), "put": _operation("put", gvk, _WRITE_PARAMS),
            "patch": _operation("patch", gvk, _WRITE_PARAMS + ("force",)), "delete": _operation("delete", gvk, ("dryRun",)),
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"}, "paths": paths, "components": {"schemas": {}}}
