"""The fake docker answers the preflight role's two calls in the real CLI's format, faults included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DOCKER = Path(__file__).resolve().parent / "bin" / "docker"
FORMAT = "{{json .}}"
DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"


def docker(tmp_path: Path, *args: str, faults: dict | None = None) -> subprocess.CompletedProcess:
    if faults is not None:
        (tmp_path / "faults.json").write_text(json.dumps(faults))
    env = dict(os.environ, MESH_HARNESS_DIR=str(tmp_path))
    # The fake runs under whatever python3 is first on PATH, like the real wrapper does.
    return subprocess.run([sys.executable, str(DOCKER), *args], env=env, capture_output=True, text=True, check=False)


def test_info_reports_a_healthy_engine_with_the_real_field_names(tmp_path):
    result = docker(tmp_path, "info", "--format", FORMAT)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["NCPU"] == 8
    assert info["MemTotal"] == 32 * 1024**3
    assert info["OSType"] == "linux"
    assert info["ServerVersion"] and info["Architecture"] and info["DockerRootDir"] == "/var/lib/docker"
    assert info["ClientInfo"]["Version"] == info["ServerVersion"]


def test_values_come_from_faults_json(tmp_path):
    info = json.loads(docker(tmp_path, "info", "--format", FORMAT, faults={"docker": {"ncpu": 2, "mem_total": 4294967296}}).stdout)
    assert (info["NCPU"], info["MemTotal"]) == (2, 4294967296)


@pytest.mark.parametrize("command", ["info", "version"])
def test_engine_down_prints_the_real_error_and_exits_1(tmp_path, command):
    result = docker(tmp_path, command, "--format", FORMAT, faults={"docker": {command: "down"}})
    assert result.returncode == 1
    assert result.stderr.strip() == DOWN
    document = json.loads(result.stdout)
    if command == "info":
        assert (document["NCPU"], document["ServerVersion"]) == (0, "")
    else:
        assert document["Server"] is None and document["Client"]["Version"]


def test_permission_denied(tmp_path):
    result = docker(tmp_path, "info", "--format", FORMAT, faults={"docker": {"info": "denied"}})
    assert result.returncode == 1
    assert result.stderr.startswith("permission denied while trying to connect to the Docker daemon socket")


def test_version_reports_the_server(tmp_path):
    result = docker(tmp_path, "version", "--format", FORMAT)
    assert result.returncode == 0
    assert json.loads(result.stdout)["Server"]["Version"] == "28.2.2"


def test_unknown_commands_and_formats_fail_like_the_cli(tmp_path):
    assert docker(tmp_path, "run", "busybox").returncode == 1
    assert docker(tmp_path, "info").returncode == 2


def test_every_call_is_recorded(tmp_path):
    docker(tmp_path, "info", "--format", FORMAT)
    docker(tmp_path, "version", "--format", FORMAT)
    calls = [json.loads(line) for line in (tmp_path / "cli-calls.jsonl").read_text().splitlines()]
    assert calls == [{"cli": "docker", "args": ["info", "--format", FORMAT]},
                     {"cli": "docker", "args": ["version", "--format", FORMAT]}]


def _with_host(tmp_path: Path, profile: str) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"profile": profile}))


def test_default_host_is_plain_linux_docker(tmp_path):
    info = json.loads(docker(tmp_path, "info", "--format", FORMAT).stdout)
    assert info["OperatingSystem"] != "Docker Desktop"
    assert "name=rootless" not in info["SecurityOptions"]
    assert info["ClientInfo"]["Os"] == "linux"


@pytest.mark.parametrize(
    ("profile", "client_os"), [("darwin-docker-desktop", "darwin"), ("linux-docker-desktop", "linux")]
)
def test_docker_desktop_hosts_report_docker_desktop(tmp_path, profile, client_os):
    _with_host(tmp_path, profile)
    info = json.loads(docker(tmp_path, "info", "--format", FORMAT).stdout)
    assert info["OperatingSystem"] == "Docker Desktop"
    assert info["OSType"] == "linux"
    assert info["KernelVersion"].endswith("-linuxkit")
    assert info["ClientInfo"]["Os"] == client_os
    # The VM's memory (what Settings > Resources gives it), not the 32 GiB default of the plain engine.
    assert info["MemTotal"] == 12_541_063_168
    version = json.loads(docker(tmp_path, "version", "--format", FORMAT).stdout)
    assert version["Server"]["Platform"]["Name"].startswith("Docker Desktop")


def test_rootless_host_reports_the_rootless_security_option(tmp_path):
    _with_host(tmp_path, "linux-rootless")
    info = json.loads(docker(tmp_path, "info", "--format", FORMAT).stdout)
    assert "name=rootless" in info["SecurityOptions"]
    assert info["OperatingSystem"] != "Docker Desktop"
    assert info["DockerRootDir"].endswith("/.local/share/docker")
    assert info["MemTotal"] == 16_421_076_992


def test_faults_json_values_win_over_the_host_profile(tmp_path):
    _with_host(tmp_path, "linux-rootless")
    info = json.loads(docker(tmp_path, "info", "--format", FORMAT, faults={"docker": {"mem_total": 4294967296}}).stdout)
    assert info["MemTotal"] == 4294967296 and "name=rootless" in info["SecurityOptions"]


def test_unknown_host_profile_is_refused_with_the_known_names(tmp_path):
    _with_host(tmp_path, "windows-hyperv")
    result = docker(tmp_path, "info", "--format", FORMAT)
    assert result.returncode == 2
    assert "windows-hyperv" in result.stderr and "linux-rootless" in result.stderr
