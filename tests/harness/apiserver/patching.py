"""The patch formats of the Kubernetes API: JSON merge patch, strategic merge patch (approximated), JSON patch.

Strategic merge here uses a fixed table of list merge keys (the ones Kubernetes declares on the fields
the roles write) instead of per-type OpenAPI metadata: lists named in the table merge item by item,
any other list is replaced, maps merge recursively, ``null`` deletes. The patch directives kubectl
sends (``$patch``, ``$setElementOrder/``, ``$retainKeys``, ``$deleteFromPrimitiveList/``) are honoured.
"""

from __future__ import annotations

import copy

# Field name -> candidate merge keys, first one present in every item wins ("ports" is keyed by
# containerPort in a container and by port in a Service).
MERGE_KEYS = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "env": ("name",), "volumes": ("name",), "volumeMounts": ("mountPath",), "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",), "ports": ("containerPort", "port"), "conditions": ("type",),
    "ownerReferences": ("uid",), "hostAliases": ("ip",), "webhooks": ("name",),
    "topologySpreadConstraints": ("topologyKey",), "resourceClaims": ("name",),
}
PRIMITIVE_SET_LISTS = frozenset({"finalizers"})
# Server-side apply merges lists by their listMapKeys, all of them, where the strategic patchMergeKey is one field:
# ports by number and protocol (Grafana's 9094/TCP and 9094/UDP are two ports). A missing protocol is TCP.
APPLY_LIST_KEYS = {"ports": (("containerPort", "protocol"), ("port", "protocol"))}
KEY_DEFAULTS = {"protocol": "TCP"}


class PatchError(ValueError):
    """A patch that cannot be applied; the API answers 422 with this message."""


def strip_directives(value):
    if isinstance(value, dict):
        return {k: strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [strip_directives(v) for v in value if not (isinstance(v, dict) and v.get("$patch") in ("replace", "delete") and len(v) == 1)]
    return value


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key(field, items, apply=False):
    """The key tuple of a list's items (the first candidate whose first field every item has), or None."""
    dicts = [i for i in items if isinstance(i, dict)]
    if not dicts or len(dicts) != len(items):
        return None
    candidates = APPLY_LIST_KEYS.get(field) if apply and field in APPLY_LIST_KEYS else tuple((k,) for k in MERGE_KEYS.get(field, ()))
    for key in candidates:
        if all(key[0] in i for i in dicts):
            return key
    return None


def _identity(item, key):
    return tuple(item.get(k, KEY_DEFAULTS.get(k)) for k in key)


def _merge_list(field, original, patch, apply=False):
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return strip_directives([i for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")])
    if field in PRIMITIVE_SET_LISTS:
        return list(original) + [i for i in patch if i not in original]
    key = _merge_key(field, patch, apply)
    if key is None or not all(isinstance(i, dict) for i in original):
        return strip_directives(patch)
    result = copy.deepcopy(list(original))
    for item in patch:
        index = next((n for n, o in enumerate(result) if _identity(o, key) == _identity(item, key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(strip_directives(item))
        else:
            result[index] = strategic_merge(result[index], item, apply)
    return result


def _reorder(items, order, key):
    if key is None:
        return items

    def ident(item):
        return _identity(item, key) if isinstance(item, dict) else item
    position = {ident(o): n for n, o in enumerate(order)}
    indexed = list(enumerate(items))
    indexed.sort(key=lambda p: (position.get(ident(p[1]), len(order) + p[0])))
    return [item for _index, item in indexed]


def strategic_merge(original, patch, apply=False):
    """Apply a strategic merge patch to ``original`` and return the result (neither argument changes).

    ``apply``: merge lists as server-side apply does (:data:`APPLY_LIST_KEYS`)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return strip_directives(patch)
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    orders = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
        elif key.startswith("$"):
            continue
        elif value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = strategic_merge(result.get(key), value, apply)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value, apply)
        else:
            result[key] = strip_directives(value)
    if "$retainKeys" in patch:
        retained = set(patch["$retainKeys"])
        result = {k: v for k, v in result.items() if k in retained}
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _reorder(result[field], order, _merge_key(field, order, apply) if order and isinstance(order[0], dict) else ())
    return result


def removals(previous, current, field="", apply=True):
    """A strategic merge patch removing what ``previous`` (a manager's last applied configuration) set
    and ``current`` no longer does. Server-side apply uses it so dropping a field from a manifest
    removes it from the object (list items are told apart as server-side apply does, see ``apply``)."""
    if not isinstance(previous, dict) or not isinstance(current, dict):
        return {}
    patch = {}
    for key, old in previous.items():
        if key not in current:
            patch[key] = None
        elif isinstance(old, dict):
            sub = removals(old, current[key], key, apply)
            if sub:
                patch[key] = sub
        elif isinstance(old, list) and isinstance(current[key], list):
            mkey = _merge_key(key, old, apply)
            if mkey and _merge_key(key, current[key], apply) == mkey:
                kept = {_identity(i, mkey): i for i in current[key]}
                items = []
                for item in old:
                    ident = {k: item[k] for k in mkey if k in item}
                    if _identity(item, mkey) not in kept:
                        items.append(dict(ident, **{"$patch": "delete"}))
                    else:
                        # An item both declare: what the manager dropped inside it goes too (a container's port).
                        sub = removals(item, kept[_identity(item, mkey)], key, apply)
                        if sub:
                            items.append(dict(ident, **sub))
                if items:
                    patch[key] = items
    return patch


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, parts, path):
    node = doc
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise PatchError(f"path {path!r} does not exist") from exc
    return node


def _get(doc, path):
    parts = _pointer(path)
    if not parts:
        return doc
    node = _parent(doc, parts, path)
    try:
        return node[int(parts[-1])] if isinstance(node, list) else node[parts[-1]]
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise PatchError(f"path {path!r} does not exist") from exc


def _add(doc, path, value):
    parts = _pointer(path)
    if not parts:
        return value
    node = _parent(doc, parts, path)
    if isinstance(node, list):
        index = len(node) if parts[-1] == "-" else int(parts[-1])
        if index > len(node):
            raise PatchError(f"index out of range in {path!r}")
        node.insert(index, value)
    elif isinstance(node, dict):
        node[parts[-1]] = value
    else:
        raise PatchError(f"path {path!r} does not exist")
    return doc


def _remove(doc, path):
    parts = _pointer(path)
    node = _parent(doc, parts, path)
    try:
        del node[int(parts[-1]) if isinstance(node, list) else parts[-1]]
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise PatchError(f"path {path!r} does not exist") from exc
    return doc


def json_patch(document, operations):
    """RFC 6902 JSON patch."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(document)
    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            doc = _add(_remove(doc, path), path, copy.deepcopy(op.get("value"))) if _pointer(path) else copy.deepcopy(op.get("value"))
        elif kind in ("move", "copy"):
            value = copy.deepcopy(_get(doc, op.get("from", "")))
            if kind == "move":
                doc = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"test operation failed at {path!r}")
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}")
    return doc
