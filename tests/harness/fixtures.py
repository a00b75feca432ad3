"""Pytest fixtures for the offline cluster (registered for the whole suite by tests/conftest.py).

``harness``: one emulator for the test session, in a temporary directory. Tests share it, so each test
works in namespaces (and profile names) of its own.
``fresh_harness``: an emulator of its own for one test (a few hundred ms), for tests that break it on
purpose (fault injection) or need it empty.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
import uuid

import pytest

from .apiserver import lifecycle
from .client import HarnessClient

VENV_BIN = os.path.dirname(sys.executable)


@dataclasses.dataclass
class Harness:
    dir: str
    server: str
    kubeconfig: str
    env: dict
    client: HarnessClient

    def run(self, argv, check=True, timeout=120, **kwargs):
        """Run a command with the harness environment; returns the CompletedProcess (text mode)."""
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        return result

    def kubectl(self, *args, check=True, **kwargs):
        return self.run([os.path.join(VENV_BIN, "kubectl"), *args], check=check, **kwargs)

    def playbook(self, path, *args, check=True, **kwargs):
        env = dict(self.env, ANSIBLE_CONFIG=os.path.join(lifecycle.REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        result = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), str(path), *args], env=env, cwd=lifecycle.REPO,
                                capture_output=True, text=True, timeout=kwargs.pop("timeout", 300), check=False, **kwargs)
        if check and result.returncode != 0:
            raise AssertionError(f"ansible-playbook {path} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result


@contextlib.contextmanager
def scratch_namespace(harness, prefix):
    """A namespace of its own for one test (``<prefix>-<6 hex>``), deleted after it."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    harness.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        yield name
    finally:
        harness.client.delete(f"/api/v1/namespaces/{name}")


def start(directory):
    """Start an emulator in ``directory`` and describe it; stop it with ``lifecycle.down(directory)``."""
    info = lifecycle.up(str(directory))
    env = dict(os.environ)
    env.update(lifecycle.environment(str(directory)))
    env["PATH"] = os.pathsep.join([lifecycle.BIN_DIR, VENV_BIN, env.get("PATH", "")])
    return Harness(dir=str(directory), server=info["server"], kubeconfig=env["KUBECONFIG"], env=env,
                   client=HarnessClient.from_info(info))


@pytest.fixture(scope="session")
def harness(tmp_path_factory):
    directory = tmp_path_factory.mktemp("harness")
    started = start(directory)
    try:
        yield started
    finally:
        lifecycle.down(str(directory))


@pytest.fixture
def fresh_harness(tmp_path):
    directory = tmp_path / "harness"
    started = start(directory)
    try:
        yield started
    finally:
        lifecycle.down(str(directory))
