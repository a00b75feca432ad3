"""`python -m tests.harness up|status|env|down`: files written, idempotent start, nothing left running."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.parse

from tests.harness import client, service
from tests.harness.apiserver import lifecycle

CLI = [sys.executable, "-m", "tests.harness"]


def _cli(*args):
    return subprocess.run([*CLI, *args], cwd=lifecycle.REPO, capture_output=True, text=True, timeout=60, check=False)


def _processes_mentioning(text):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and lifecycle.pid_alive(int(pid)):
            found.append((int(pid), cmdline))
    return found


def _port_open(server):
    address = urllib.parse.urlsplit(server)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((address.hostname, address.port)) == 0


def test_up_writes_its_files_and_down_leaves_no_process(tmp_path):
    directory = str(tmp_path / "state")
    started = _cli("up", "--dir", directory)
    assert started.returncode == 0, started.stderr
    try:
        info = json.loads((tmp_path / "state" / "harness.json").read_text())
        assert info["server"].startswith("https://127.0.0.1:") and info["dir"] == directory
        assert info["certificate-authority"] == f"{directory}/.minikube/ca.crt"
        kubeconfig = json.loads((tmp_path / "state" / "kubeconfig").read_text())
        assert kubeconfig["current-context"] == "harness"
        assert kubeconfig["clusters"] == [{"name": "harness", "cluster": {"certificate-authority": info["certificate-authority"],
                                                                          "server": info["server"]}}]
        env_sh = (tmp_path / "state" / "env.sh").read_text()
        for line in (f"export MESH_HARNESS_DIR={directory}", f"export KUBECONFIG={directory}/kubeconfig",
                     f"export K8S_AUTH_KUBECONFIG={directory}/kubeconfig", f'export PATH={lifecycle.BIN_DIR}:"$PATH"'):
            assert line in env_sh.splitlines()
        assert _cli("env", "--dir", directory).stdout == env_sh
        assert lifecycle.pid_alive(info["pid"]) and _port_open(info["server"])
        # The server runs in its own session, so it survives the `up` process and the terminal that ran it.
        assert os.getsid(info["pid"]) == info["pid"]

        again = _cli("up", "--dir", directory)
        assert again.returncode == 0 and json.loads((tmp_path / "state" / "harness.json").read_text())["pid"] == info["pid"]
        assert _cli("status", "--dir", directory).returncode == 0
    finally:
        stopped = _cli("down", "--dir", directory)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not lifecycle.pid_alive(info["pid"])
    assert not _port_open(info["server"])
    assert _processes_mentioning(directory) == []
    assert not (tmp_path / "state" / "harness.json").exists()
    assert (tmp_path / "state" / "apiserver.log").read_text().rstrip().endswith("stopped")
    status = _cli("status", "--dir", directory)
    assert status.returncode == 3 and "not running" in status.stdout


def test_down_without_a_running_emulator_says_so(tmp_path):
    result = _cli("down", "--dir", str(tmp_path))
    assert result.returncode == 0 and "nothing was running" in result.stdout


def test_up_keeps_contexts_added_to_a_running_harness(fresh_harness):
    client.set_kube_context("demo-profile", kubeconfig=fresh_harness.kubeconfig, directory=fresh_harness.dir)
    assert lifecycle.up(fresh_harness.dir)["server"] == fresh_harness.server
    with open(fresh_harness.kubeconfig, encoding="utf-8") as handle:
        config = json.load(handle)
    assert [c["name"] for c in config["contexts"]] == ["harness", "demo-profile"]
    assert config["current-context"] == "demo-profile"
    client.remove_kube_context("demo-profile", kubeconfig=fresh_harness.kubeconfig)
    with open(fresh_harness.kubeconfig, encoding="utf-8") as handle:
        config = json.load(handle)
    assert [c["name"] for c in config["contexts"]] == ["harness"] and config["current-context"] == "harness"


def test_up_all_starts_every_service_and_down_all_stops_them(tmp_path):
    directory = str(tmp_path / "state")
    started = _cli("up", "--all", "--dir", directory)
    try:
        assert started.returncode == 0, started.stderr
        info = json.loads((tmp_path / "state" / "harness.json").read_text())
        release = json.loads((tmp_path / "state" / "release.json").read_text())
        plane = json.loads((tmp_path / "state" / "dataplane.json").read_text())
        lines = started.stdout.splitlines()
        assert lines[0].startswith(f"harness: API emulator on {info['server']} (pid {info['pid']})")
        assert lines[1:] == [f"harness: fake Istio release on {release['url']} (pid {release['pid']})",
                             f"harness: data-plane stand-in on {plane['url']} (pid {plane['pid']})"]
        pids = [info["pid"], release["pid"], plane["pid"]]
        assert all(lifecycle.pid_alive(pid) and os.getsid(pid) == pid for pid in pids)
        assert service.answers(release["url"] + "/") and service.answers(plane["url"] + "/_dataplane/healthz")
        status = _cli("status", "--all", "--dir", directory)
        assert status.returncode == 0 and len(status.stdout.splitlines()) == 3
        # Only the emulator stopped: `status --all` says which one is missing and exits 3.
        assert _cli("down", "--dir", directory).returncode == 0
        partial = _cli("status", "--all", "--dir", directory)
        assert partial.returncode == 3 and "not running in" in partial.stdout.splitlines()[0]
    finally:
        stopped = _cli("down", "--all", "--dir", directory)
    assert stopped.returncode == 0
    assert "harness: data-plane stand-in stopped" in stopped.stdout.splitlines()
    assert "harness: fake Istio release stopped" in stopped.stdout.splitlines()
    assert not any(lifecycle.pid_alive(pid) for pid in pids)
    assert _processes_mentioning(directory) == []
    for name in ("harness.json", "release.json", "dataplane.json"):
        assert not (tmp_path / "state" / name).exists()
    assert _cli("status", "--all", "--dir", directory).returncode == 3
