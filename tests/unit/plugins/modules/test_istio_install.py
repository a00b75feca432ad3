# -*- coding: utf-8 -*-
"""istio_install against recorded istioctl output (cases/istio_install.yml).

The install record (a ConfigMap the module reads and writes with the kubernetes client) is the one
boundary besides istioctl: it is replaced by an in-memory store so each case states the record
before the run (``record``) and after it (``expect_record``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os

import pytest

from ansible.module_utils import basic
from ansible_collections.istiolab.mesh.plugins.module_utils._istioctl import record_name
from ansible_collections.istiolab.mesh.plugins.modules import istio_install

from tests.unit.cli_cases import check_case, load_cases

_CASES_FILE = os.path.join(os.path.dirname(__file__), "cases", "istio_install.yml")




def _substitute(value, words):
    if isinstance(value, str):
        for placeholder, replacement in words.items():
            value = value.replace(placeholder, replacement)
        return value
    if isinstance(value, list):
        return [_substitute(item, words) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, words) for key, item in value.items()}
    return value


def _manifest_digest(case):
    for call in case.get("calls") or []:
        if call["command"][1:3] == ["manifest", "generate"]:
            return hashlib.sha256(call["out"].encode("utf-8")).hexdigest()
    return "no-manifest-in-this-case"


def _record_store(monkeypatch, initial):
    store = dict(initial)

    class MemoryRecord:
        def __init__(self, module, revision=None):
            self.name = record_name(revision)

        def read(self):
            return copy.deepcopy(store.get(self.name))

        def write(self, data):
            store[self.name] = {key: "" if value is None else str(value) for key, value in data.items()}

        def delete(self):
            store.pop(self.name, None)

    monkeypatch.setattr(istio_install, "InstallRecord", MemoryRecord)
    return store


@pytest.mark.parametrize("case", load_cases(_CASES_FILE))
def test_istio_install(case, tmp_path, monkeypatch):
    case = _substitute(case, {"{manifest_digest}": _manifest_digest(case), "{tmpdir}": str(tmp_path)})
    name = record_name((case.get("params") or {}).get("revision"))
    store = _record_store(monkeypatch, {name: case["record"]} if case.get("record") else {})
    monkeypatch.setattr(basic.AnsibleModule, "tmpdir", property(lambda self: str(tmp_path)))

    check_case(istio_install.main, case)

    if "expect_record" in case:
        assert store.get(name) == case["expect_record"]
    if "expect_overlay" in case:
        assert json.loads((tmp_path / "istio-overlay.json").read_text()) == case["expect_overlay"]
