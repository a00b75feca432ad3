# -*- coding: utf-8 -*-
"""The CLI-wrapping modules against recorded CLI output: one YAML case file per module in cases/.

istio_install has its own test file because its cases also state the install record on the cluster.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.istiolab.mesh.plugins.modules import istio_info, minikube_addon, minikube_cluster, minikube_info

from tests.unit.cli_cases import check_case, load_cases, run_case

_CASES = os.path.join(os.path.dirname(__file__), "cases")
_MODULES = {module.__name__.rsplit(".", 1)[-1]: module for module in (minikube_cluster, minikube_addon, minikube_info, istio_info)}


def _all_cases():
    return [
        pytest.param(name, param.values[0], id="%s-%s" % (name, param.id))
        for name in sorted(_MODULES)
        for param in load_cases(os.path.join(_CASES, name + ".yml"))
    ]


@pytest.mark.parametrize("name, case", _all_cases())
def test_module_case(name, case):
    check_case(_MODULES[name].main, case)


_VERSION_KEYS = {"client_version", "control_plane_version", "control_plane_components", "data_plane_versions"}


@pytest.mark.parametrize("case", load_cases(os.path.join(_CASES, "istio_info.yml")))
def test_istio_info_returns_versions_only_when_it_asked_for_them(case):
    gather = (case.get("params") or {}).get("gather", ["versions", "proxy_status", "analyze"])
    result, ran = run_case(istio_info.main, case)
    asked = any(argv[1:4] == ["version", "-o", "json"] for argv in ran)
    assert asked == bool({"versions", "proxy_status"} & set(gather)) or result["failed"], ran
    if not asked:
        assert not _VERSION_KEYS & set(result), result
