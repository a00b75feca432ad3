# -*- coding: utf-8 -*-
"""minikube_info against recorded minikube output (cases/minikube_info.yml)."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.istiolab.mesh.plugins.modules import minikube_info

from tests.unit.cli_cases import check_case

_CASES_FILE = os.path.join(os.path.dirname(__file__), "cases", "minikube_info.yml")


def _cases():
    with open(_CASES_FILE, encoding="utf-8") as handle:
        entries = yaml.safe_load(handle)
    return [pytest.param(case, id=case["id"]) for case in entries if "id" in case]


@pytest.mark.parametrize("case", _cases())
def test_minikube_info(case):
    check_case(minikube_info.main, case)
