"""Helpers every controller uses: object hashes, owner references, conditions, pods made from templates."""

from __future__ import annotations

import copy
import hashlib
import json

from ..common import ApiError, bad_request, now as _now

POD_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
NODE_IP = "192.168.49.2"
DEFAULT_NODE = "minikube"
# Used for the sidecar image only when no istiod Deployment exists to take the version from.
FALLBACK_PROXY_TAG = "1.31.1"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def parse_apply_body(raw):
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise bad_request("this emulator needs PyYAML to read a YAML apply patch; send JSON or run it with the project venv") from exc
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise bad_request(f"the apply patch is not valid YAML: {exc}") from exc


def template_hash(template):
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(POD_NAME_ALPHABET[b % len(POD_NAME_ALPHABET)] for b in digest[:10])


def owner_ref(owner):
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def conditions(previous, wanted, update_time=False):
    """Conditions with timestamps kept from ``previous`` when nothing about them changed."""
    result = []
    for want in wanted:
        old = next((c for c in previous or [] if c.get("type") == want["type"]), None)
        if old and all(old.get(k) == v for k, v in want.items()):
            result.append(old)
            continue
        cond = dict(want, lastTransitionTime=_now())
        if update_time:
            cond["lastUpdateTime"] = cond["lastTransitionTime"]
        result.append(cond)
    return result


def drop_zero(status):
    return {k: v for k, v in status.items() if v not in (0, None)}


def pod_ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in pod.get("status", {}).get("conditions", []))


def live_pods(api, owner):
    """The pods of a controller that are not terminating: what it counts, so it replaces a deleted pod at once."""
    return [p for p in api.children(owner, "", "pods") if not p["metadata"].get("deletionTimestamp")]


def pod_from_template(template, owner, name=None, extra_labels=None):
    meta = copy.deepcopy(template.get("metadata") or {})
    labels = dict(meta.get("labels") or {}, **(extra_labels or {}))
    pod_meta = {"namespace": owner["metadata"]["namespace"], "labels": labels, "ownerReferences": [owner_ref(owner)]}
    if meta.get("annotations"):
        pod_meta["annotations"] = meta["annotations"]
    if name:
        pod_meta["name"] = name
    else:
        pod_meta["generateName"] = owner["metadata"]["name"] + "-"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": copy.deepcopy(template.get("spec") or {})}


def set_status(api, group, plural, obj, status):
    if obj.get("status") != status:
        new = copy.deepcopy(obj)
        new["status"] = status
        api.internal_write(group, plural, new)


def create_pod(api, pod):
    """Create a controller's pod; the message of an admission refusal (403) instead of raising it, as controllers retry."""
    try:
        api.internal_create("", "pods", pod)
    except ApiError as err:
        if err.code != 403:
            raise
        return err.message
    return None
