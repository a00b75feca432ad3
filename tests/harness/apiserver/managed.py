"""``metadata.managedFields``: which field manager owns which field, and the conflicts of server-side apply.

A field set is a set of paths; a path is a tuple of FieldsV1 keys (``f:spec``, ``k:{"name":"web"}``, ``v:"x"``), as
kube-apiserver writes them. Maps are owned field by field, items of lists with merge keys (containers by name, ports
by number and protocol, ...) item by item (the item itself as ``.`` and its fields), other lists and scalars whole.
"""

from __future__ import annotations

import json

from .common import ApiError, now
from .patching import APPLY_LIST_KEYS, KEY_DEFAULTS, MERGE_KEYS, PRIMITIVE_SET_LISTS

# Metadata the server sets: never owned by a manager.
SERVER_METADATA = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                             "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"})
DOT = "."


def _item_key(field, item):
    candidates = APPLY_LIST_KEYS.get(field) or tuple((k,) for k in MERGE_KEYS.get(field, ()))
    for keys in candidates:
        if keys[0] in item:
            return {k: item.get(k, KEY_DEFAULTS.get(k)) for k in keys if k in item or k in KEY_DEFAULTS}
    return None


def _walk(value, path, field, out):
    if isinstance(value, dict) and value:
        for key, child in value.items():
            _walk(child, path + (f"f:{key}",), key, out)
        return
    if isinstance(value, list) and value and field in PRIMITIVE_SET_LISTS:
        for item in value:
            out[path + (f"v:{json.dumps(item, separators=(',', ':'))}",)] = item
        return
    if isinstance(value, list) and value and all(isinstance(i, dict) for i in value) and all(_item_key(field, i) for i in value):
        for item in value:
            item_path = path + ("k:" + json.dumps(_item_key(field, item), separators=(",", ":"), sort_keys=True),)
            out[item_path + (DOT,)] = None
            _walk(item, item_path, None, out)
        return
    out[path] = value


def field_values(obj, status=True):
    """{path: value} of every owned leaf of ``obj`` (server metadata and, unless ``status``, the status left out)."""
    out = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind") or (key == "status" and not status):
            continue
        if key == "metadata":
            value = {k: v for k, v in (value or {}).items() if k not in SERVER_METADATA}
            if not value:
                continue
        _walk(value, (f"f:{key}",), key, out)
    return out


def to_fields_v1(paths):
    tree = {}
    for path in sorted(paths):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    return tree


def from_fields_v1(tree, prefix=()):
    paths = set()
    for key, child in (tree or {}).items():
        if key == DOT:
            paths.add(prefix + (DOT,))
        elif child:
            paths |= from_fields_v1(child, prefix + (key,))
        else:
            paths.add(prefix + (key,))
    return paths


def path_string(path):
    """A path as structured-merge-diff prints it in a conflict: ``.spec.template.spec.containers[name="web"].image``."""
    text = ""
    for element in path:
        if element == DOT:
            continue
        kind, _colon, rest = element.partition(":")
        if kind == "f":
            text += "." + rest
        elif kind == "k":
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(rest).items()) + "]"
        else:
            text += f"[={rest}]"
    return text


def default_manager(user_agent):
    """kube-apiserver's manager for a write without fieldManager: the User-Agent up to its first ``/``."""
    return (user_agent or "unknown").split("/", 1)[0][:128] or "unknown"


def _entries(obj):
    return list((obj or {}).get("metadata", {}).get("managedFields") or [])


def _set_entry(entries, manager, operation, api_version, paths, subresource=None):
    """The entries with this manager's (replaced where it was, else added last; dropped when it owns nothing)."""
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now(),
             "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}
    if subresource:
        entry["subresource"] = subresource
    result, placed = [], False
    for old in entries:
        if (old["manager"], old["operation"], old.get("subresource")) == (manager, operation, subresource):
            if paths:
                result.append(entry if old.get("fieldsV1") != entry["fieldsV1"] or old.get("apiVersion") != api_version else old)
            placed = True
        else:
            result.append(old)
    if paths and not placed:
        result.append(entry)
    return result


def _disown(entries, paths, keep=None):
    result = []
    for entry in entries:
        if keep is not None and (entry["manager"], entry["operation"], entry.get("subresource")) == keep:
            result.append(entry)
            continue
        owned = from_fields_v1(entry.get("fieldsV1")) - paths
        if owned:
            result.append(dict(entry, fieldsV1=to_fields_v1(owned)))
    return result


def record_update(rtype, old, new, manager, subresource=None):
    """managedFields of ``new`` after an Update (create, update, patch) by ``manager``: it owns what it changed."""
    status = subresource == "status" or not rtype.has_status
    before = field_values(old, status) if old is not None else {}
    after = field_values(new, status)
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    if subresource == "status":
        changed = {p for p in changed if p[0] == "f:status"}
    gone = set(before) - set(after)
    entries = _disown(_entries(old), changed | gone)
    mine = next((e for e in _entries(old) if (e["manager"], e["operation"], e.get("subresource")) == (manager, "Update", subresource)), None)
    owned = (from_fields_v1(mine["fieldsV1"]) - gone if mine else set()) | changed
    _store(new, _set_entry(entries, manager, "Update", rtype.api_version, owned, subresource) if owned else entries)


def _store(obj, entries):
    if entries:
        obj["metadata"]["managedFields"] = entries
    else:
        obj["metadata"].pop("managedFields", None)


def record_apply(rtype, old, new, applied, manager, force):
    """managedFields after a server-side apply of ``applied`` by ``manager``; 409 Conflict when another manager owns
    a field the configuration sets to another value, unless ``force`` (then the field changes owner)."""
    config = field_values(applied)
    live = field_values(old) if old is not None else {}
    entries = _entries(old)
    key = (manager, "Apply", None)
    conflicts = []
    for entry in entries:
        if (entry["manager"], entry["operation"], entry.get("subresource")) == key:
            continue
        owned = from_fields_v1(entry.get("fieldsV1"))
        for path in sorted(owned & set(config)):
            if path[-1] != DOT and path in live and live[path] != config[path]:
                conflicts.append((entry, path))
    if conflicts and not force:
        raise conflict_error(conflicts)
    if conflicts:
        entries = _disown(entries, {path for _entry, path in conflicts}, keep=key)
    _store(new, _set_entry(entries, manager, "Apply", rtype.api_version, set(config)))


def _owner_text(entry):
    text = json.dumps(entry["manager"])
    if entry.get("subresource"):
        text += f" with subresource {json.dumps(entry['subresource'])}"
    if entry["operation"] == "Update":
        text += f" using {entry['apiVersion']}"
    return text


def conflict_error(conflicts):
    causes = [{"type": "FieldManagerConflict", "message": f"conflict with {_owner_text(e)}", "field": path_string(p)} for e, p in conflicts]
    if len(conflicts) == 1:
        message = f"Apply failed with 1 conflict: conflict with {_owner_text(conflicts[0][0])}: {path_string(conflicts[0][1])}"
    else:
        lines = []
        for owner in sorted({_owner_text(e) for e, _p in conflicts}):
            lines.append(f"conflicts with {owner}:")
            lines.extend(f"- {path_string(p)}" for e, p in conflicts if _owner_text(e) == owner)
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})
