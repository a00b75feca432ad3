"""The PersistentVolumeClaim binder."""

from __future__ import annotations

import copy


def reconcile_pvc(api, namespace, name):
    pvc = api.find("", "persistentvolumeclaims", namespace, name)
    if pvc is None or (pvc.get("status") or {}).get("phase") == "Bound":
        return
    new = copy.deepcopy(pvc)
    new["spec"]["volumeName"] = f"pvc-{pvc['metadata']['uid']}"
    new["status"] = {"phase": "Bound", "accessModes": pvc["spec"].get("accessModes", ["ReadWriteOnce"]),
                     "capacity": {"storage": ((pvc["spec"].get("resources") or {}).get("requests") or {}).get("storage", "1Gi")}}
    api.internal_write("", "persistentvolumeclaims", new)
