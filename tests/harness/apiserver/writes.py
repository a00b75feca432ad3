"""The write pipeline: schema checks, admission, metadata, optimistic concurrency, create/update/patch/apply."""

from __future__ import annotations

import copy
import json
import uuid

from . import controllers, managed, validation
from .common import ApiError, bad_request, invalid, not_found, now, random_suffix
from .patching import PatchError, json_patch, merge_patch, removals, strategic_merge, strip_directives


def _comparable(obj):
    """What a write must change to be stored: not the bookkeeping, nor a managedFields time alone (as kube-apiserver)."""
    clean = copy.deepcopy(obj)
    meta = clean.get("metadata", {})
    for key in ("resourceVersion", "generation"):
        meta.pop(key, None)
    for entry in meta.get("managedFields") or []:
        entry.pop("time", None)
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


class WritesMixin:
    """Create, update, patch and server-side apply of :class:`~.api.Api`."""

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

    def _settled(self, rtype, obj, dry_run):
        if dry_run:
            return self.out(rtype, obj)
        self._drain()
        meta = obj["metadata"]
        current = self.find(rtype.group, rtype.plural, meta.get("namespace"), meta["name"])
        return self.out(rtype, current if current is not None else obj)

    def create(self, rtype, namespace, body, dry_run=False, field_validation=None, manager=None):
        with self.store.lock:
            obj = self._prepare_new(rtype, namespace, body)
            self._check_schema(rtype, obj, field_validation)
            name = obj["metadata"]["name"]
            if self.find(rtype.group, rtype.plural, namespace if rtype.namespaced else "", name) is not None:
                raise ApiError(409, "AlreadyExists", f'{rtype.group_resource} "{name}" already exists',
                               {"name": name, "group": rtype.group, "kind": rtype.plural})
            controllers.admit(self, rtype, obj, None)
            managed.record_update(rtype, None, obj, manager or "unknown")
            result = self._commit(rtype, None, obj, dry_run)
            return self._settled(rtype, result, dry_run)

    def update(self, rtype, namespace, name, body, dry_run=False, subresource=None, field_validation=None, manager=None):
        with self.store.lock:
            old = self.find(rtype.group, rtype.plural, namespace if rtype.namespaced else "", name)
            if old is None:
                raise not_found(rtype, name)
            result = self._update(rtype, old, body, dry_run, subresource, field_validation, manager)
            return self._settled(rtype, result, dry_run)

    def _update(self, rtype, old, body, dry_run, subresource, field_validation=None, manager=None, applied=None, force=False):
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
        new["metadata"]["managedFields"] = copy.deepcopy(old["metadata"].get("managedFields") or [])
        if applied is not None:
            managed.record_apply(rtype, old, new, applied, manager, force)
        else:
            managed.record_update(rtype, old, new, manager or "unknown", subresource)
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
            result = self._update(rtype, old, patched, dry_run, subresource, field_validation, field_manager)
            return self._settled(rtype, result, dry_run)

    def _apply(self, rtype, namespace, name, raw, dry_run, field_manager, force, field_validation=None):
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
            managed.record_apply(rtype, None, obj, doc, field_manager, force)
            result = self._commit(rtype, None, obj, dry_run)
        else:
            merged = strategic_merge(strategic_merge(self.out(rtype, old), removals(self.applied.get(key), doc), apply=True), doc,
                                     apply=True)
            result = self._update(rtype, old, merged, dry_run, None, field_validation, field_manager, doc, force)
        if not dry_run:
            self.applied[key] = copy.deepcopy(doc)
        return self._settled(rtype, result, dry_run)
