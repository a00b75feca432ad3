"""The in-memory store: objects by key, the resourceVersion counter and the event log watches read."""

from __future__ import annotations

import collections
import copy
import threading


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
