# -*- coding: utf-8 -*-
"""minikube_info against a real process that blocks as ``minikube service --url`` does on a port-forward host.

The recorded cases (cases/minikube_info.yml) replace the process runner; here a fake ``minikube`` binary really
prints its URL, starts a helper (minikube starts an ssh tunnel) and then waits to be interrupted, so the test sees
the module stop it within its timeout, leave no process behind and say what to do instead.
"""

from __future__ import annotations

import os
import sys
import time
from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.istiolab.mesh.plugins.modules import minikube_info

from tests.unit.cli_cases import ModuleExit, exit_json, fail_json

FAKE_MINIKUBE = '''#!{python}
import json, os, subprocess, sys, time
args = sys.argv[1:]
if args[:1] == ["version"]:
    print(json.dumps({{"commit": "65318f4cfff9c12cc87ec9eb8f4cdd57b25047f3", "minikubeVersion": "v1.39.0"}}))
elif args[:2] == ["profile", "list"]:
    print(json.dumps({{"invalid": [], "valid": [{{"Name": "mesh", "Status": "OK", "Config": {{
        "Name": "mesh", "Memory": 16384, "CPUs": 4, "DiskSize": 20000, "Driver": "docker",
        "KubernetesConfig": {{"KubernetesVersion": "v1.35.0", "ClusterName": "mesh", "ContainerRuntime": "docker"}},
        "Nodes": [{{"Name": "", "IP": "192.168.49.2", "Port": 8443, "ControlPlane": True, "Worker": True}}]}}}}]}}))
elif args[:1] == ["status"]:
    print(json.dumps({{"Name": "mesh", "Host": "Running", "Kubelet": "Running", "APIServer": "Running", "Kubeconfig": "Configured", "Worker": False}}))
elif args[:1] == ["ip"]:
    print("192.168.49.2")
elif args[:1] == ["service"] and not {needs_port_forward}:
    print("http://192.168.49.2:30080")
elif args[:1] == ["service"]:
    tunnel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    with open({pid_file!r}, "w") as handle:
        handle.write(str(tunnel.pid))
    print("http://127.0.0.1:51082", flush=True)
    sys.stderr.write("!  Because you are using a Docker driver on darwin, the terminal needs to be open to run it.\\n")
    sys.stderr.flush()
    time.sleep(300)
else:
    sys.exit(64)
'''


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_service_url_that_blocks_is_stopped_in_time_with_its_helpers(tmp_path):
    pid_file = tmp_path / "tunnel.pid"
    binary = tmp_path / "minikube"
    binary.write_text(FAKE_MINIKUBE.format(python=sys.executable, pid_file=str(pid_file), needs_port_forward=True))
    binary.chmod(0o755)
    args = {"profile": "mesh", "binary_path": str(binary), "service_timeout": 2,
            "services": [{"name": "productpage", "namespace": "bookinfo"}]}
    started = time.monotonic()
    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json):
        with pytest.raises(ModuleExit) as caught:
            minikube_info.main()
    elapsed = time.monotonic() - started
    result = caught.value.result

    assert result["failed"], result
    assert elapsed < 2 + 6, "the module took %.1f s for a 2 s timeout" % elapsed
    assert "did not return within 2 seconds and was stopped" in result["msg"]
    assert "cannot reach the node IP" in result["msg"]
    assert "bookinfo_gateway_mode=port-forward" in result["msg"] and "minikube tunnel" in result["msg"]
    # What minikube printed before it was stopped is kept, and the command is listed.
    assert "http://127.0.0.1:51082" in result["stdout"]
    assert "the terminal needs to be open" in result["stderr"]
    assert result["commands"][-1] == [str(binary), "service", "productpage", "-n", "bookinfo", "-p", "mesh", "--url"]
    # The helper the command started (minikube's ssh tunnel) was stopped with it.
    tunnel = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while not _gone(tunnel) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(tunnel), "the tunnel process %d is still running" % tunnel


def test_service_url_that_returns_is_read_as_before(tmp_path):
    binary = tmp_path / "minikube"
    # On a host that reaches the node IP, minikube prints the NodePort URL and returns.
    binary.write_text(FAKE_MINIKUBE.format(python=sys.executable, pid_file=str(tmp_path / "unused.pid"), needs_port_forward=False))
    binary.chmod(0o755)
    args = {"profile": "mesh", "binary_path": str(binary), "services": [{"name": "productpage", "namespace": "bookinfo"}]}
    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json):
        with pytest.raises(ModuleExit) as caught:
            minikube_info.main()
    result = caught.value.result
    assert not result["failed"], result.get("msg")
    assert result["service_urls"] == {"bookinfo/productpage": ["http://192.168.49.2:30080"]}
