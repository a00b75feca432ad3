"""The controller queue: which writes wake which controllers, and the writes controllers make."""

from __future__ import annotations

import threading

from . import controllers
from .common import controller_of


class ReconcileMixin:
    """The controller queue of :class:`~.api.Api` and the writes controllers make through it."""

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

    def later(self, seconds, group, kind, namespace, name):
        """Reconcile an object again after ``seconds`` (what happens on a clock: back-offs, a Job's run, a grace period)."""
        def fire():
            with self.store.lock:
                self._enqueue(group, kind, namespace, name)
                self._drain()
        timer = threading.Timer(max(seconds, 0) + 0.005, fire)
        timer.daemon = True
        timer.start()

    def _drain(self):
        for _round in range(100000):
            if not self.queue:
                return
            group, kind, namespace, name = self.queue.pop(0)
            controllers.RECONCILERS[(group, kind)](self, namespace, name)
        raise RuntimeError("controllers did not settle; the emulator has a reconcile loop")

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
