# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a provisioning role applied, and whether the cluster still holds exactly that.

A role that applies objects records, after a successful apply, a digest of the objects it was given and, for each
object the API server returned, its identity and version: ``uid`` (a deleted and recreated object has a new one) and
``generation`` when the object has one (it moves on every change of ``spec``; status updates by controllers leave it
alone), else ``resourceVersion`` (Services, ConfigMaps, ServiceAccounts, Namespaces: any change moves it). On the next
run the role compares that record with the objects the cluster lists, one list per kind and namespace, and skips its
apply only when the digest is the same and every recorded object is there with the same uid and version. Anything
else (no record, other inputs, an object missing, recreated or changed) means apply again.

What this does not see: a change to a Deployment's (or custom resource's) labels or annotations alone, which moves
neither its generation nor its spec. Standard library only; the lookup ``istiolab.mesh.drift`` and the filter
``istiolab.mesh.drift_record`` use it on the control node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

RECORD_VERSION = "1"


def digest(objects):
    """A stable digest of the objects a role was asked to apply (key order does not matter)."""
    text = json.dumps(objects, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def identity(obj):
    """(apiVersion, kind, namespace, name) of an object."""
    meta = obj.get("metadata") or {}
    return (obj.get("apiVersion") or "v1", obj.get("kind") or "", meta.get("namespace") or "", meta.get("name") or "")


def version(obj):
    """What moves when the object is changed: its generation when it has one, else its resourceVersion."""
    meta = obj.get("metadata") or {}
    if meta.get("generation") is not None:
        return "generation:%s" % meta["generation"]
    return "resourceVersion:%s" % meta.get("resourceVersion", "")


def applied_objects(registered):
    """The objects the API server returned to one or more kubernetes.core.k8s results (one definition or a list,
    a loop's results too), in order."""
    found = []
    pending = list(registered) if isinstance(registered, list) else [registered]
    while pending:
        item = pending.pop(0)
        if not isinstance(item, dict) or item.get("skipped"):
            continue
        if isinstance(item.get("results"), list):
            pending[0:0] = item["results"]
            continue
        result = item.get("result")
        if isinstance(result, dict) and isinstance(result.get("results"), list):
            pending[0:0] = result["results"]
        elif isinstance(result, dict) and (result.get("metadata") or {}).get("uid"):
            found.append(result)
    return found


def record_data(objects_digest, applied):
    """The data of the record ConfigMap for the objects just applied."""
    entries = []
    for obj in applied:
        api_version, kind, namespace, name = identity(obj)
        entries.append({"apiVersion": api_version, "kind": kind, "namespace": namespace, "name": name,
                        "uid": obj["metadata"]["uid"], "version": version(obj)})
    entries.sort(key=lambda e: (e["apiVersion"], e["kind"], e["namespace"], e["name"]))
    return {"format": RECORD_VERSION, "digest": objects_digest, "objects": json.dumps(entries, sort_keys=True)}


def recorded_objects(record):
    """The object entries of a record ConfigMap (its ``data``), or None when it is not a record this code wrote."""
    data = (record or {}).get("data") or {}
    if data.get("format") != RECORD_VERSION or not data.get("digest"):
        return None
    try:
        entries = json.loads(data.get("objects") or "[]")
    except ValueError:
        return None
    return entries if isinstance(entries, list) and entries else None


def kinds_to_list(entries):
    """The (apiVersion, kind, namespace) lists the comparison needs: one per kind and namespace."""
    return sorted({(e["apiVersion"], e["kind"], e["namespace"]) for e in entries})


def compare(record, objects_digest, listed):
    """Why the cluster does not hold what the record says was applied (an empty list: it does).

    ``listed`` maps each (apiVersion, kind, namespace) of :func:`kinds_to_list` to the objects listed there, or to
    None when the list failed (a kind the cluster no longer serves)."""
    entries = recorded_objects(record)
    if entries is None:
        return ["nothing recorded from an earlier apply"]
    if (record.get("data") or {}).get("digest") != objects_digest:
        return ["the objects to apply differ from the ones recorded"]
    reasons = []
    by_kind = {}
    for key in kinds_to_list(entries):
        items = listed.get(key)
        if items is None:
            reasons.append("%s %s could not be listed" % (key[1], ("in " + key[2]) if key[2] else "(cluster-wide)"))
        by_kind[key] = {(i.get("metadata") or {}).get("name"): i for i in items or []}
    for entry in entries:
        key = (entry["apiVersion"], entry["kind"], entry["namespace"])
        where = "%s %s" % (entry["kind"], "/".join(p for p in (entry["namespace"], entry["name"]) if p))
        current = by_kind.get(key, {}).get(entry["name"])
        if listed.get(key) is None:
            continue
        if current is None:
            reasons.append(where + " is missing")
        elif (current.get("metadata") or {}).get("uid") != entry["uid"]:
            reasons.append(where + " was recreated")
        elif version(current) != entry["version"]:
            reasons.append(where + " was changed (%s, recorded %s)" % (version(current), entry["version"]))
    return reasons
