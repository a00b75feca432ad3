"""Reads of the API: lookups, get, list with selectors, pod logs."""

from __future__ import annotations

import copy

from .common import bad_request, not_found
from .selectors import SelectorError, parse_fields, parse_labels


class ReadsMixin:
    """Lookups and reads of :class:`~.api.Api` (callers hold the store's lock)."""

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
