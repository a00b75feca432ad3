"""The API server's semantics: an in-memory store and the create/read/update/patch/delete pipeline.

Every public method holds one lock for the whole request, including the controllers it triggers, so a
client sees the cluster settle before it gets its answer (Deployments are ready when ``apply`` returns).

``Api`` is put together from one part per job: ``store.py`` (objects, resourceVersions, the event log),
``reads.py``, ``writes.py`` (the write pipeline with admission), ``deletion.py`` and ``reconcile.py`` (the
controller queue).
"""

from __future__ import annotations

import threading

from . import controllers
from .deletion import DeletionMixin
from .reads import ReadsMixin
from .reconcile import ReconcileMixin
from .resources import Registry
from .store import Store
from .writes import WritesMixin


class Api(ReadsMixin, WritesMixin, DeletionMixin, ReconcileMixin):
    def __init__(self):
        self.store = Store()
        self.registry = Registry()
        self.queue = []
        self.applied = {}
        self.logs = {}
        self.terminating = set()
        self.pod_rules = controllers.PodRules()
        self.pod_life = {}
        self.local = threading.local()
        self.allocated = {"cluster_ips": {"10.96.0.1", "10.96.0.10"}, "node_ports": set(), "pod_ip": 2}
        with self.store.lock:
            controllers.bootstrap(self)
            self._drain()
