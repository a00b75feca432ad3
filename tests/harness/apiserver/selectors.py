"""Label and field selectors, with the syntax and the field support of the real API server."""

from __future__ import annotations

import re


class SelectorError(ValueError):
    """An unparsable selector or an unsupported field; the API answers 400 with this message."""


_SET_RE = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*$")


def _split(selector):
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def parse_labels(selector):
    """Return a predicate over a labels dict for a label selector string."""
    requirements = []
    for part in _split(selector or ""):
        if match := _SET_RE.match(part):
            key, op, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",") if v.strip()}
            if op == "in":
                requirements.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                requirements.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif match := _EQ_RE.match(part):
            key, op, value = match.groups()
            if op == "!=":
                requirements.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                requirements.append(lambda labels, k=key, v=value: k in labels and labels[k] == v)
        elif match := _EXISTS_RE.match(part):
            negate, key = match.groups()
            requirements.append(lambda labels, k=key, n=bool(negate): (k in labels) != n)
        else:
            raise SelectorError(f"unable to parse requirement: {part.strip()!r}")
    return lambda labels: all(req(labels or {}) for req in requirements)


def match_label_selector(selector_obj, labels):
    """Evaluate a structured LabelSelector (matchLabels / matchExpressions) against labels."""
    labels = labels or {}
    for key, value in (selector_obj or {}).get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in (selector_obj or {}).get("matchExpressions", []):
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# Fields each kind can be selected on in Kubernetes (metadata.name and metadata.namespace work for all).
_FIELDS = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
            "status.phase", "status.podIP", "status.nominatedNodeName"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"},
    "Secret": {"type"},
    "Namespace": {"status.phase"},
    "Node": {"spec.unschedulable"},
    "Job": {"status.successful"},
    "ReplicaSet": {"status.replicas"},
    "Service": {"spec.clusterIP", "spec.type"},
}


def _field_value(obj, path):
    node = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)


def parse_fields(selector, kind):
    """Return a predicate over an object for a field selector, rejecting fields Kubernetes does not index."""
    requirements = []
    for part in _split(selector or ""):
        match = re.match(r"^\s*([A-Za-z0-9._]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not match:
            raise SelectorError(f"invalid selector: {part.strip()!r}; can't understand {part.strip()!r}")
        field, op, value = match.groups()
        if field not in ("metadata.name", "metadata.namespace") and field not in _FIELDS.get(kind, ()):
            raise SelectorError(f'field label not supported: {field}')
        if op == "!=":
            requirements.append(lambda o, f=field, v=value: _field_value(o, f) != v)
        else:
            requirements.append(lambda o, f=field, v=value: _field_value(o, f) == v)
    return lambda obj: all(req(obj) for req in requirements)
