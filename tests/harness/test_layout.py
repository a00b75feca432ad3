"""What each part of the harness may import (README, Layout): a change that crosses these lines fails here."""

from __future__ import annotations

import ast
import os

import pytest

HARNESS = os.path.dirname(os.path.abspath(__file__))


def _imports(path):
    """The absolute dotted names a module imports (relative imports resolved against its package)."""
    package = os.path.relpath(os.path.dirname(path), os.path.dirname(os.path.dirname(HARNESS))).replace(os.sep, ".")
    found = set()
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _harness_imports(path):
    return {name for name in _imports(path) if name.startswith("tests.")}


def _modules(directory):
    return sorted(os.path.join(directory, name) for name in os.listdir(directory) if name.endswith(".py"))


def test_the_service_module_imports_nothing_of_the_harness():
    assert _harness_imports(os.path.join(HARNESS, "service.py")) == set()


@pytest.mark.parametrize("name, other", [("dataplane", "fake_release"), ("fake_release", "dataplane")])
def test_the_services_do_not_import_each_other(name, other):
    imported = _harness_imports(os.path.join(HARNESS, name + ".py"))
    assert "tests.harness.service" in imported
    assert not {n for n in imported if n == f"tests.harness.{other}" or n.startswith(f"tests.harness.{other}.")}


def test_the_emulator_imports_only_loopback_and_service_from_outside():
    outside = set()
    for directory in (os.path.join(HARNESS, "apiserver"), os.path.join(HARNESS, "apiserver", "controllers")):
        for path in _modules(directory):
            outside |= {n for n in _harness_imports(path) if not n.startswith("tests.harness.apiserver")}
    assert outside - {"tests.harness"} <= {"tests.harness.loopback", "tests.harness.loopback.LoopbackServer",
                                           "tests.harness.service"}


def test_controllers_get_the_api_as_an_argument_and_do_not_import_it():
    api_parts = {"api", "store", "reads", "writes", "deletion", "reconcile", "server", "routing", "watch", "control"}
    for path in _modules(os.path.join(HARNESS, "apiserver", "controllers")):
        imported = _harness_imports(path)
        wrong = {n for n in imported for part in api_parts
                 if n == f"tests.harness.apiserver.{part}" or n.startswith(f"tests.harness.apiserver.{part}.")}
        assert wrong == set(), f"{os.path.basename(path)} imports {sorted(wrong)}"
