"""Server-side printing (``meta.k8s.io/v1`` Table), which ``kubectl get`` asks for, with the columns of
the real printers for the kinds people look at."""

from __future__ import annotations

import datetime
import json


def age(timestamp):
    try:
        then = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return "<unknown>"
    seconds = max(int((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds()), 0)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _pod_ready(pod):
    spec, status = pod.get("spec", {}), pod.get("status", {})
    sidecars = [c["name"] for c in spec.get("initContainers", []) if c.get("restartPolicy") == "Always"]
    total = len(spec.get("containers", [])) + len(sidecars)
    ready = sum(1 for c in status.get("containerStatuses", []) if c.get("ready"))
    ready += sum(1 for c in status.get("initContainerStatuses", []) if c.get("name") in sidecars and c.get("ready"))
    return f"{ready}/{total}"


def _pod_status(pod):
    """kubectl's STATUS: the phase, else the last container's waiting or terminated reason; Terminating when deleted."""
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase", "Pending")
    running = False
    for container in reversed(status.get("containerStatuses", [])):
        state = container.get("state", {})
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif "terminated" in state:
            reason = f"ExitCode:{state['terminated'].get('exitCode', 0)}"
        elif "running" in state and container.get("ready"):
            running = True
    if reason == "Completed" and running:
        reason = "Running"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _service_ports(svc):
    ports = []
    for port in svc.get("spec", {}).get("ports", []):
        node = f":{port['nodePort']}" if port.get("nodePort") else ""
        ports.append(f"{port.get('port')}{node}/{port.get('protocol', 'TCP')}")
    return ",".join(ports) or "<none>"


def _external_ip(svc):
    ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    if ingress:
        return ",".join(i.get("ip") or i.get("hostname", "") for i in ingress)
    return "<pending>" if svc.get("spec", {}).get("type") == "LoadBalancer" else "<none>"


def _get(obj, *path, default=0):
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return default if obj is None else obj


# kind -> [(column name, type, cell function)]; Name comes first and Age last for every kind.
COLUMNS = {
    "Pod": [("Ready", "string", _pod_ready), ("Status", "string", _pod_status),
            ("Restarts", "string", lambda o: str(sum(c.get("restartCount", 0) for c in o.get("status", {}).get("containerStatuses", []))))],
    "Deployment": [("Ready", "string", lambda o: f"{_get(o, 'status', 'readyReplicas')}/{_get(o, 'spec', 'replicas')}"),
                   ("Up-to-date", "integer", lambda o: _get(o, "status", "updatedReplicas")),
                   ("Available", "integer", lambda o: _get(o, "status", "availableReplicas"))],
    "StatefulSet": [("Ready", "string", lambda o: f"{_get(o, 'status', 'readyReplicas')}/{_get(o, 'spec', 'replicas')}")],
    "ReplicaSet": [("Desired", "integer", lambda o: _get(o, "spec", "replicas")), ("Current", "integer", lambda o: _get(o, "status", "replicas")),
                   ("Ready", "integer", lambda o: _get(o, "status", "readyReplicas"))],
    "DaemonSet": [("Desired", "integer", lambda o: _get(o, "status", "desiredNumberScheduled")),
                  ("Current", "integer", lambda o: _get(o, "status", "currentNumberScheduled")),
                  ("Ready", "integer", lambda o: _get(o, "status", "numberReady")),
                  ("Up-to-date", "integer", lambda o: _get(o, "status", "updatedNumberScheduled")),
                  ("Available", "integer", lambda o: _get(o, "status", "numberAvailable"))],
    "Service": [("Type", "string", lambda o: _get(o, "spec", "type", default="ClusterIP")),
                ("Cluster-IP", "string", lambda o: _get(o, "spec", "clusterIP", default="<none>")),
                ("External-IP", "string", _external_ip), ("Port(s)", "string", _service_ports)],
    "Namespace": [("Status", "string", lambda o: _get(o, "status", "phase", default="Active"))],
    "Job": [("Status", "string", lambda o: "Complete" if _get(o, "status", "succeeded") else "Running"),
            ("Completions", "string", lambda o: f"{_get(o, 'status', 'succeeded')}/{_get(o, 'spec', 'completions', default=1)}")],
    "Node": [("Status", "string", lambda o: "Ready" if any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in _get(o, "status", "conditions", default=[])) else "NotReady")],
    "ConfigMap": [("Data", "integer", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    "Secret": [("Type", "string", lambda o: o.get("type", "Opaque")), ("Data", "integer", lambda o: len(o.get("data") or {}))],
}


def _json_path(obj, path):
    node = obj
    for part in path.strip().lstrip(".").replace("[", ".").replace("]", "").split("."):
        if not part:
            continue
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def _columns_for(rtype):
    if rtype.printer_columns:
        columns = []
        for raw in rtype.printer_columns:
            col = json.loads(raw)
            if col.get("name", "").lower() == "age":
                continue
            columns.append((col["name"], col.get("type", "string"), lambda o, p=col.get("jsonPath", ""): _json_path(o, p)))
        return columns
    return COLUMNS.get(rtype.kind, []) if not rtype.crd else []


def table(rtype, objects, resource_version, include_object="Metadata"):
    columns = _columns_for(rtype)
    definitions = [{"name": "Name", "type": "string", "format": "name", "description": "Name of the object", "priority": 0}]
    definitions += [{"name": n, "type": t, "format": "", "description": n, "priority": 0} for n, t, _cell in columns]
    definitions.append({"name": "Age", "type": "string", "format": "", "description": "Time since creation", "priority": 0})
    rows = []
    for obj in objects:
        cells = [obj["metadata"]["name"]] + [fn(obj) for _title, _type, fn in columns] + [age(obj["metadata"].get("creationTimestamp"))]
        if include_object == "Object":
            embedded = obj
        elif include_object == "None":
            embedded = None
        else:
            embedded = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
        rows.append({"cells": cells, "object": embedded})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": definitions, "rows": rows}
