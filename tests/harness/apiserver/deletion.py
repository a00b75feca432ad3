"""Deletion: propagation policies, preconditions, garbage collection, namespace termination."""

from __future__ import annotations

import copy
import datetime
import threading

from . import controllers
from .common import ApiError, controller_of, not_found, now


# How long a deleted namespace stays Terminating if nobody reads it (reading it by name or listing namespaces
# finishes the termination at once, so clients that wait for the deletion do not wait for this).
NAMESPACE_GRACE_SECONDS = 1.0


class DeletionMixin:
    """Delete, deletecollection and namespace termination of :class:`~.api.Api`."""

    def delete(self, rtype, namespace, name, dry_run=False, propagation=None, preconditions=None, grace=None):
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
            if rtype.kind == "Pod" and not rtype.group:
                graceful = self._terminate_pod(rtype, old, grace, dry_run)
                if graceful is not None:
                    return graceful
            result = self.out(rtype, old)
            if not dry_run:
                self.remove(rtype, old, propagation or "Background", notify_owner=True)
                self._drain()
            return result

    def _terminate_pod(self, rtype, pod, grace, dry_run):
        """A running pod is marked for deletion for its grace period, then removed; None: it goes at once.

        The grace is DeleteOptions.gracePeriodSeconds, else the pod's terminationGracePeriodSeconds, as kube-apiserver
        takes it; 0, a pod never bound to a node and a pod that has finished go at once. The offline cluster waits
        at most ``maxGraceSeconds`` of the pod rules (``POST /_harness/pod-rules``) for it, so a demo stays fast."""
        meta = pod["metadata"]
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        grace = max(int(grace), 0)
        if meta.get("deletionTimestamp"):
            if grace >= meta.get("deletionGracePeriodSeconds", 0):
                return self.out(rtype, pod)  # already terminating: only a shorter grace changes anything
        elif grace == 0 or not pod["spec"].get("nodeName") or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return None
        if grace == 0:
            return None
        new = copy.deepcopy(pod)
        new["metadata"]["deletionTimestamp"] = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=grace)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        new["metadata"]["deletionGracePeriodSeconds"] = grace
        result = self._commit(rtype, pod, new, dry_run)
        if not dry_run:
            timer = threading.Timer(min(grace, self.pod_rules.settings["maxGraceSeconds"]), self._pod_terminated,
                                    [meta["namespace"], meta["name"], meta["uid"]])
            timer.daemon = True
            timer.start()
            owner = controller_of(pod)
            if owner:  # its controller replaces a terminating pod at once
                self._enqueue(owner["apiVersion"].rpartition("/")[0], owner["kind"], meta["namespace"], owner["name"])
            self._drain()
        return self.out(rtype, result)

    def _pod_terminated(self, namespace, name, uid):
        with self.store.lock:
            pod = self.find("", "pods", namespace, name)
            if pod is not None and pod["metadata"]["uid"] == uid:
                self.remove(self.rtype_of("", "pods"), pod, notify_owner=True)
                self._drain()

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
        self.pod_life.pop(meta.get("uid"), None)
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
