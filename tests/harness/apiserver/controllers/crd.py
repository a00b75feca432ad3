"""The CustomResourceDefinition controller (its Established and NamesAccepted conditions)."""

from __future__ import annotations

from .base import conditions, set_status


def reconcile_crd(api, namespace, name):
    del namespace
    crd = api.find("apiextensions.k8s.io", "customresourcedefinitions", "", name)
    if crd is None:
        return
    api.registry.register_crd(crd)
    names = crd["spec"]["names"]
    accepted = {k: v for k, v in names.items() if k in ("kind", "listKind", "plural", "singular", "shortNames", "categories")}
    stored = list((crd.get("status") or {}).get("storedVersions") or [])
    storage = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
    status = {"acceptedNames": accepted, "storedVersions": stored + ([storage] if storage not in stored else []),
              "conditions": conditions((crd.get("status") or {}).get("conditions"), [
                  {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
                  {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
              ])}
    set_status(api, "apiextensions.k8s.io", "customresourcedefinitions", crd, status)
