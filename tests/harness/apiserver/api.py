"""The API server's semantics: an in-memory store and the create/read/update/patch/delete pipeline.

Every public method holds one lock for the whole request, including the controllers it triggers, so a
client sees the cluster settle before it gets its answer (Deployments are ready when ``apply`` returns).
"""

from __future__ import annotations

import collections
import copy
import json
import threading
import uuid

from . import controllers, validation
from .common import ApiError, bad_request, controller_of, invalid, not_found, now, random_suffix
from .patching import PatchError, json_patch, merge_patch, removals, strategic_merge, strip_directives
from .resources import Registry
from .selectors import SelectorError, parse_fields, parse_labels

# How long a deleted namespace stays Terminating if nobody reads it (reading it by name or listing namespaces
# finishes the termination at once, so clients that wait for the deletion do not wait for this).
NAMESPACE_GRACE_SECONDS = 1.0


def _comparable(obj):
    clean = copy.deepcopy(obj)
    meta = clean.get("metadata", {})
    for key in ("resourceVersion", "generation", "managedFields"):
        meta.pop(key, None)
    return clean


def _drop_nulls(value):
    """What Go's typed decoding keeps of a built-in object: a ``null`` field is as if not sent."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _spec_part(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Store:
    """Objects by (group, plural, namespace, name), a resourceVersion counter and a bounded event log for watches."""

    def __init__(self):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects = {}
        self.revision = 1
        self.events = collections.deque(maxlen=20000)

    def bump(self):
        self.revision += 1
        return self.revision

    def record(self, group, plural, event, obj):
        self.events.append((int(obj["metadata"].get("resourceVersion", self.revision)), group, plural, event, copy.deepcopy(obj)))
        self.changed.notify_all()

    def items(self, group, plural, namespace=None):
        return [o for (g, p, ns, _name), o in sorted(self.objects.items()) if g == group and p == plural and (namespace is None or ns == namespace)]


class Api:
    def __init__(self):
        self.store = Store()
        self.registry = Registry()
        self.queue = []
        self.applied = {}
        self.logs = {}
        self.terminating = set()
        self.local = threading.local()
        self.allocated = {"cluster_ips": {"10.96.0.1", "10.96.0.10"}, "node_ports": set(), "pod_ip": 2}
        with self.store.lock:
            controllers.bootstrap(self)
            self._drain()

    # ---- lookups -------------------------------------------------------------------------------
    def rtype_of(self, group, plural):
        candidates = [t for t in self.registry.types() if t.group == group and t.plural == plural]
        return candidates[0] if candidates else None

    def find(self, group, plural, namespace, name):
        return self.store.objects.get((group, plural, namespace or "", name))

    def children(self, owner, group, plural):
        uid = owner["metadata"]["uid"]
        return [o for o in self.store.items(group, plural, owner["metadata"].get("namespace"))
                if any(r.get("uid") == uid and r.get("controller") for r in o["metadata"].get("ownerReferences") or [])]

    def out(self, rtype, obj):
        result = copy.deepcopy(obj)
        result["apiVersion"] = rtype.api_version
        result["kind"] = rtype.kind
        return result

    # ---- reads -------------------------------------------------------------------------------
    def get(self, rtype, namespace, name):
        with self.store.lock:
            if rtype.kind == "Namespace" and not rtype.group:
                self.finish_termination(name)
            obj = self.find(rtype.group, rtype.plural, namespace, name)
            if obj is None:
                raise not_found(rtype, name)
            return self.out(rtype, obj)

    def list(self, rtype, namespace, label_selector="", field_selector=""):
        matches = self.matcher(rtype, label_selector, field_selector)
        with self.store.lock:
            if rtype.kind == "Namespace" and not rtype.group:
                self.finish_termination()
            items = [self.out(rtype, o) for o in self.store.items(rtype.group, rtype.plural, namespace if rtype.namespaced else None) if matches(o)]
            return items, str(self.store.revision)

    def matcher(self, rtype, label_selector="", field_selector=""):
        try:
            match_labels = parse_labels(label_selector)
            match_fields = parse_fields(field_selector, rtype.kind)
        except SelectorError as exc:
            raise bad_request(str(exc)) from exc
        return lambda o: match_labels(o["metadata"].get("labels")) and match_fields(o)

    def pod_log(self, namespace, name, container):
        with self.store.lock:
            rtype = self.rtype_of("", "pods")
            pod = self.find("", "pods", namespace, name)
            if pod is None:
                raise not_found(rtype, name)
            names = [c["name"] for c in pod["spec"].get("containers", [])]
            all_names = names + [c["name"] for c in pod["spec"].get("initContainers", [])]
            if not container:
                default = pod["metadata"].get("annotations", {}).get("kubectl.kubernetes.io/default-container")
                if len(names) != 1 and not default:
                    raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")
                container = default or names[0]
            if container not in all_names:
                raise bad_request(f"container {container} is not valid for pod {name}")
            started = pod.get("status", {}).get("startTime", pod["metadata"]["creationTimestamp"])
            lines = [f"{started} harness: container {container} of pod {namespace}/{name} started"]
            return "".join(line + "\n" for line in lines + self.logs.get((namespace, name, container), []))

    def append_log(self, namespace, name, container, lines):
        with self.store.lock:
            self.logs.setdefault((namespace, name, container), []).extend(lines)

    # ---- writes ------------------------------------------------------------------------------
    def take_warnings(self):
        """The warnings of this thread's last write (unknown fields pruned), for the response's Warning headers."""
        warnings, self.local.warnings = getattr(self.local, "warnings", []), []
        return warnings

    def _check_schema(self, rtype, obj, field_validation):
        """Prune, default and validate a custom resource against its stored CRD, as kube-apiserver does."""
        if not rtype.crd:
            return
        crd = self.find("apiextensions.k8s.io", "customresourcedefinitions", "", rtype.crd)
        if crd is not None:
            self.local.warnings = validation.admit_custom_resource(rtype, crd, obj, field_validation)

    def _prepare_new(self, rtype, namespace, body, keep_status=False):
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        if body.get("kind") not in (None, rtype.kind):
            raise bad_request(f"the kind in the data ({body.get('kind')}) does not match the expected kind ({rtype.kind})")
        obj = strip_directives(copy.deepcopy(body))
        if not rtype.crd:
            obj = _drop_nulls(obj)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = obj.setdefault("metadata", {})
        if rtype.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace
            namespace_obj = self.find("", "namespaces", "", namespace)
            if namespace_obj is None:
                raise not_found(self.rtype_of("", "namespaces"), namespace)
            if namespace_obj["metadata"].get("deletionTimestamp"):
                raise ApiError(403, "Forbidden", f"{rtype.group_resource} \"{meta.get('name') or meta.get('generateName', '')}\" is forbidden: "
                               f"unable to create new content in namespace {namespace} because it is being terminated",
                               {"name": meta.get("name", ""), "group": rtype.group, "kind": rtype.plural,
                                "causes": [{"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being terminated",
                                            "field": "metadata.namespace"}]})
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise invalid(rtype, "", "metadata.name", "Required value: name or generateName is required", "FieldValueRequired")
            meta["name"] = meta["generateName"] + random_suffix()
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if rtype.has_status and not keep_status:
            obj.pop("status", None)
        return obj

    def _commit(self, rtype, old, new, dry_run=False):
        if old is not None and _comparable(old) == _comparable(new):
            return old
        meta = new["metadata"]
        if old is None:
            meta["generation"] = 1
        else:
            meta["generation"] = old["metadata"].get("generation", 1) + (_spec_part(old) != _spec_part(new))
        if dry_run:
            meta["resourceVersion"] = old["metadata"]["resourceVersion"] if old else ""
            return new
        meta["resourceVersion"] = str(self.store.bump())
        self.store.objects[(rtype.group, rtype.plural, meta.get("namespace", ""), meta["name"])] = new
        self.store.record(rtype.group, rtype.plural, "ADDED" if old is None else "MODIFIED", new)
        self._enqueue_for(rtype, new)
        return new

    def _enqueue(self, group, kind, namespace, name):
        item = (group, kind, namespace or "", name)
        if item not in self.queue:
            self.queue.append(item)

    def _enqueue_for(self, rtype, obj):
        meta = obj["metadata"]
        if (rtype.group, rtype.kind) in controllers.RECONCILERS and not rtype.crd:
            self._enqueue(rtype.group, rtype.kind, meta.get("namespace"), meta["name"])
        owner = controller_of(obj)
        if owner:
            self._enqueue(owner["apiVersion"].rpartition("/")[0], owner["kind"], meta.get("namespace"), owner["name"])
        if rtype.kind == "Node" and not rtype.group:
            for ds in self.store.items("apps", "daemonsets"):
                self._enqueue("apps", "DaemonSet", ds["metadata"]["namespace"], ds["metadata"]["name"])
            for pod in self.store.items("", "pods"):
                if not pod["spec"].get("nodeName"):  # the scheduler tries pending pods again on a node change
                    self._enqueue("", "Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
        if rtype.kind == "ServiceAccount" and not rtype.group:
            # Controllers whose pods were refused for want of this ServiceAccount retry, as their work queues do.
            for group, plural, kind in (("apps", "replicasets", "ReplicaSet"), ("apps", "statefulsets", "StatefulSet"),
                                        ("apps", "daemonsets", "DaemonSet"), ("batch", "jobs", "Job")):
                for owner in self.store.items(group, plural, meta["namespace"]):
                    self._enqueue(group, kind, meta["namespace"], owner["metadata"]["name"])

    def _drain(self):
        for _round in range(100000):
            if not self.queue:
                return
            group, kind, namespace, name = self.queue.pop(0)
            controllers.RECONCILERS[(group, kind)](self, namespace, name)
        raise RuntimeError("controllers did not settle; the emulator has a reconcile loop")

    def _settled(self, rtype, obj, dry_run):
        if dry_run:
            return self.out(rtype, obj)
        self._drain()
        meta = obj["metadata"]
        current = self.find(rtype.group, rtype.plural, meta.get("namespace"), meta["name"])
        return self.out(rtype, current if current is not None else obj)

    def create(self, rtype, namespace, body, dry_run=False, field_validation=None):
        with self.store.lock:
            obj = self._prepare_new(rtype, namespace, body)
            self._check_schema(rtype, obj, field_validation)
            name = obj["metadata"]["name"]
            if self.find(rtype.group, rtype.plural, namespace if rtype.namespaced else "", name) is not None:
                raise ApiError(409, "AlreadyExists", f'{rtype.group_resource} "{name}" already exists',
                               {"name": name, "group": rtype.group, "kind": rtype.plural})
            controllers.admit(self, rtype, obj, None)
            result = self._commit(rtype, None, obj, dry_run)
            return self._settled(rtype, result, dry_run)

    def update(self, rtype, namespace, name, body, dry_run=False, subresource=None, field_validation=None):
        with self.store.lock:
            old = self.find(rtype.group, rtype.plural, namespace if rtype.namespaced else "", name)
            if old is None:
                raise not_found(rtype, name)
            result = self._update(rtype, old, body, dry_run, subresource, field_validation)
            return self._settled(rtype, result, dry_run)

    def _update(self, rtype, old, body, dry_run, subresource, field_validation=None):
        name = old["metadata"]["name"]
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        meta = body.get("metadata") or {}
        if meta.get("name") not in (None, name):
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})")
        if meta.get("resourceVersion") and meta["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rtype.group_resource} "{name}": '
                           "the object has been modified; please apply your changes to the latest version and try again",
                           {"name": name, "group": rtype.group, "kind": rtype.plural})
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = copy.deepcopy(body.get("status"))
            if new["status"] is None:
                new.pop("status")
        elif subresource == "scale":
            new = copy.deepcopy(old)
            new["spec"]["replicas"] = (body.get("spec") or {}).get("replicas", 0)
        else:
            new = strip_directives(copy.deepcopy(body))
            if not rtype.crd:
                new = _drop_nulls(new)
            new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
            new_meta = new.setdefault("metadata", {})
            for key in ("name", "namespace", "uid", "creationTimestamp", "generation"):
                if key in old["metadata"]:
                    new_meta[key] = old["metadata"][key]
                else:
                    new_meta.pop(key, None)
            new_meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            if rtype.has_status:
                new.pop("status", None)
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
            controllers.admit(self, rtype, new, old)
        if subresource != "scale":
            self._check_schema(rtype, new, field_validation)
        return self._commit(rtype, old, new, dry_run)

    def patch(self, rtype, namespace, name, content_type, raw, dry_run=False, subresource=None, field_manager=None, force=False,
              field_validation=None):
        with self.store.lock:
            ns = namespace if rtype.namespaced else ""
            if content_type == "application/apply-patch+yaml":
                return self._apply(rtype, ns, name, raw, dry_run, field_manager, force, field_validation)
            old = self.find(rtype.group, rtype.plural, ns, name)
            if old is None:
                raise not_found(rtype, name)
            try:
                doc = json.loads(raw or b"null")
            except ValueError as exc:
                raise bad_request(f"the request body is not valid JSON: {exc}") from exc
            base = self.out(rtype, old)
            if subresource == "scale":
                base = controllers.scale_of(rtype, old)
            try:
                if content_type == "application/merge-patch+json":
                    patched = merge_patch(base, doc)
                elif content_type == "application/strategic-merge-patch+json":
                    if rtype.crd:
                        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: "
                                       "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
                    patched = strategic_merge(base, doc)
                elif content_type == "application/json-patch+json":
                    patched = json_patch(base, doc)
                else:
                    raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {content_type!r}")
            except PatchError as exc:
                raise invalid(rtype, name, "patch", str(exc)) from exc
            result = self._update(rtype, old, patched, dry_run, subresource, field_validation)
            return self._settled(rtype, result, dry_run)

    def _apply(self, rtype, namespace, name, raw, dry_run, field_manager, force, field_validation=None):
        del force  # ownership conflicts between field managers are not tracked, so forcing changes nothing
        if not field_manager:
            raise bad_request("PATCH requests of type application/apply-patch+yaml must set the fieldManager query parameter")
        doc = controllers.parse_apply_body(raw)
        if not isinstance(doc, dict) or doc.get("kind") != rtype.kind or not doc.get("apiVersion"):
            raise bad_request("an apply patch must be an object with apiVersion and kind matching the URL")
        if (doc.get("metadata") or {}).get("name") not in (None, name):
            raise bad_request("the name of the object does not match the name on the URL")
        doc.setdefault("metadata", {})["name"] = name
        old = self.find(rtype.group, rtype.plural, namespace, name)
        key = (rtype.group, rtype.plural, namespace, name, field_manager)
        if old is None:
            obj = self._prepare_new(rtype, namespace, doc)
            self._check_schema(rtype, obj, field_validation)
            controllers.admit(self, rtype, obj, None)
            result = self._commit(rtype, None, obj, dry_run)
        else:
            merged = strategic_merge(strategic_merge(self.out(rtype, old), removals(self.applied.get(key), doc), apply=True), doc, apply=True)
            result = self._update(rtype, old, merged, dry_run, None, field_validation)
        if not dry_run:
            self.applied[key] = copy.deepcopy(doc)
        return self._settled(rtype, result, dry_run)

    def delete(self, rtype, namespace, name, dry_run=False, propagation=None, preconditions=None):
        with self.store.lock:
            old = self.find(rtype.group, rtype.plural, namespace if rtype.namespaced else "", name)
            if old is None:
                raise not_found(rtype, name)
            for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                wanted = (preconditions or {}).get(key)
                if wanted is not None and wanted != old["metadata"].get(key):
                    raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rtype.group_resource} "{name}": Precondition failed: '
                                   f"{label} in precondition: {wanted}, {label} in object meta: {old['metadata'].get(key)}",
                                   {"name": name, "group": rtype.group, "kind": rtype.plural})
            if rtype.kind == "Namespace" and not rtype.group:
                return self._terminate_namespace(rtype, old, dry_run)
            result = self.out(rtype, old)
            if not dry_run:
                self.remove(rtype, old, propagation or "Background", notify_owner=True)
                self._drain()
            return result

    def _terminate_namespace(self, rtype, namespace_obj, dry_run):
        """Mark a namespace Terminating; its content goes when it is next read or after NAMESPACE_GRACE_SECONDS.

        As on a cluster, objects in it can still be deleted by name meanwhile (``kubectl delete -f`` of a file
        that starts with the Namespace), and new ones are refused."""
        new = copy.deepcopy(namespace_obj)
        if not new["metadata"].get("deletionTimestamp"):
            new["metadata"]["deletionTimestamp"] = now()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["status"] = {"phase": "Terminating"}
        result = self._commit(rtype, namespace_obj, new, dry_run)
        if not dry_run:
            self.terminating.add(new["metadata"]["name"])
            timer = threading.Timer(NAMESPACE_GRACE_SECONDS, self.finish_termination, [new["metadata"]["name"]])
            timer.daemon = True
            timer.start()
        return self.out(rtype, result)

    def finish_termination(self, name=None):
        """Remove a Terminating namespace (all of them when ``name`` is None) with everything in it."""
        with self.store.lock:
            for namespace in sorted(self.terminating if name is None else self.terminating & {name}):
                self.terminating.discard(namespace)
                obj = self.find("", "namespaces", "", namespace)
                if obj is not None and obj["metadata"].get("deletionTimestamp"):
                    self.remove(self.rtype_of("", "namespaces"), obj)
            self._drain()

    def delete_collection(self, rtype, namespace, label_selector, field_selector, dry_run=False, propagation=None):
        items, revision = self.list(rtype, namespace, label_selector, field_selector)
        with self.store.lock:
            if not dry_run:
                for item in items:
                    current = self.find(rtype.group, rtype.plural, item["metadata"].get("namespace", ""), item["metadata"]["name"])
                    if current is not None:
                        self.remove(rtype, current, propagation or "Background", notify_owner=True)
                self._drain()
            return items, revision

    def remove(self, rtype, obj, propagation="Background", notify_owner=False):
        """Delete an object now, with Kubernetes' garbage collection of what it owns or contains."""
        meta = obj["metadata"]
        key = (rtype.group, rtype.plural, meta.get("namespace", ""), meta["name"])
        if self.store.objects.pop(key, None) is None:
            return
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self.store.bump())
        self.store.record(rtype.group, rtype.plural, "DELETED", gone)
        for applied_key in [k for k in self.applied if k[:4] == key]:
            del self.applied[applied_key]
        if not rtype.group and (rtype.kind, meta["name"]) in (("ConfigMap", controllers.ROOT_CA_CONFIGMAP), ("ServiceAccount", "default")):
            self._enqueue("", "Namespace", "", meta["namespace"])  # their controllers put them back
        if rtype.kind == "Namespace" and not rtype.group:
            for (group, plural, ns, _name), child in sorted(self.store.objects.items()):
                if ns == meta["name"]:
                    self.remove(self.rtype_of(group, plural), child)
        if rtype.kind == "CustomResourceDefinition" and rtype.group == "apiextensions.k8s.io":
            spec = obj.get("spec", {})
            for child in self.store.items(spec.get("group"), spec.get("names", {}).get("plural")):
                self.remove(self.rtype_of(spec["group"], spec["names"]["plural"]), child)
            self.registry.unregister_crd(meta["name"])
        uid = meta["uid"]
        for (group, plural, _ns, _name), dependent in sorted(self.store.objects.items()):
            refs = dependent["metadata"].get("ownerReferences") or []
            if not any(r.get("uid") == uid for r in refs):
                continue
            dep_type = self.rtype_of(group, plural)
            if propagation == "Orphan":
                orphan = copy.deepcopy(dependent)
                orphan["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid] or None
                if orphan["metadata"]["ownerReferences"] is None:
                    del orphan["metadata"]["ownerReferences"]
                self._commit(dep_type, dependent, orphan)
            else:
                self.remove(dep_type, dependent, propagation)
        owner = controller_of(obj)
        if notify_owner and owner:
            self._enqueue(owner["apiVersion"].rpartition("/")[0], owner["kind"], meta.get("namespace"), owner["name"])

    # ---- used by controllers ----------------------------------------------------------------------
    def internal_create(self, group, plural, obj, keep_status=False):
        rtype = self.rtype_of(group, plural)
        new = self._prepare_new(rtype, obj["metadata"].get("namespace", ""), obj, keep_status=keep_status)
        controllers.admit(self, rtype, new, None)
        return self._commit(rtype, None, new)

    def internal_write(self, group, plural, new):
        """Store a controller's full new version of an object (status included)."""
        rtype = self.rtype_of(group, plural)
        meta = new["metadata"]
        old = self.find(group, plural, meta.get("namespace"), meta["name"])
        return self._commit(rtype, old, new)

    def internal_delete(self, group, plural, obj):
        self.remove(self.rtype_of(group, plural), obj)
