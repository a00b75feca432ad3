"""gateway_access: minikube's NeedsPortForward rule, case by case, and against the fake docker's host profiles."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.filter.gateway_access import FilterModule, gateway_access
from tests.harness import fake_docker

ROOT_ENGINE = {"OperatingSystem": "Ubuntu 24.04.2 LTS", "SecurityOptions": ["name=apparmor", "name=seccomp,profile=builtin", "name=cgroupns"]}
DESKTOP = {"OperatingSystem": "Docker Desktop", "SecurityOptions": ["name=seccomp,profile=unconfined", "name=cgroupns"]}
ROOTLESS = {"OperatingSystem": "Ubuntu 24.04.2 LTS", "SecurityOptions": ["name=seccomp,profile=builtin", "name=rootless", "name=cgroupns"]}


def test_registered_under_its_name():
    assert FilterModule().filters() == {"gateway_access": gateway_access}


@pytest.mark.parametrize(
    ("driver", "system", "env", "kernel", "info", "mode", "why"),
    [
        ("docker", "Linux", {}, "6.8.0-51-generic", ROOT_ENGINE, "nodeport", "runs as root"),
        ("docker", "Darwin", {}, "24.6.0", DESKTOP, "port-forward", "macOS"),
        ("docker", "Windows", {}, "", DESKTOP, "port-forward", "Windows"),
        ("docker", "Linux", {"WSL_DISTRO_NAME": "Ubuntu"}, "5.15.167.4-microsoft-standard-WSL2", ROOT_ENGINE, "port-forward", "WSL"),
        ("docker", "Linux", {}, "5.15.167.4-microsoft-standard-WSL2", ROOT_ENGINE, "port-forward", "WSL"),
        ("docker", "Linux", {}, "6.8.0", DESKTOP, "port-forward", "Docker Desktop on Linux"),
        ("docker", "Linux", {}, "6.8.0", ROOTLESS, "port-forward", "rootless"),
        ("docker", "Linux", {"DOCKER_HOST": "ssh://me@build-box"}, "6.8.0", ROOT_ENGINE, "port-forward", "another machine"),
        ("docker", "Linux", {"DOCKER_HOST": "tcp://10.0.0.5:2376"}, "6.8.0", ROOT_ENGINE, "port-forward", "another machine"),
        # A local socket named in DOCKER_HOST is still this machine (rootless Docker sets exactly that).
        ("docker", "Linux", {"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "6.8.0", ROOT_ENGINE, "nodeport", "runs as root"),
        ("docker", "Linux", {}, "6.8.0", {}, "port-forward", "could not be read"),
        ("podman", "Linux", {}, "6.8.0", {"host": {"security": {"rootless": True}}}, "port-forward", "rootless"),
        ("podman", "Linux", {}, "6.8.0", {"host": {"security": {"rootless": False}}}, "nodeport", "runs as root"),
        ("kvm2", "Linux", {}, "6.8.0", {}, "nodeport", "VM"),
        ("vfkit", "Darwin", {}, "24.6.0", {}, "nodeport", "VM"),
    ],
)
def test_needs_port_forward_cases(driver, system, env, kernel, info, mode, why):
    decision = gateway_access(driver, system, env=env, kernel=kernel, engine_info=info)
    assert decision["mode"] == mode
    assert why in decision["reason"]


@pytest.mark.parametrize(
    ("profile", "system", "mode"),
    [("linux-docker", "Linux", "nodeport"), ("darwin-docker-desktop", "Darwin", "port-forward"),
     ("linux-docker-desktop", "Linux", "port-forward"), ("linux-rootless", "Linux", "port-forward")],
)
def test_the_fake_hosts_get_the_mode_minikube_gives_them(tmp_path, monkeypatch, profile, system, mode):
    (tmp_path / "host.json").write_text(json.dumps({"profile": profile}))
    monkeypatch.setenv("MESH_HARNESS_DIR", str(tmp_path))
    info = fake_docker.info_document(fake_docker.engine_settings())
    assert gateway_access("docker", system, engine_info=info)["mode"] == mode
    assert fake_docker.HOST_PROFILES[profile]["needs_port_forward"] is (mode == "port-forward")


@pytest.mark.parametrize("bad", [None, "", 3])
def test_refuses_a_missing_driver(bad):
    with pytest.raises(AnsibleFilterError, match="driver name"):
        gateway_access(bad, "Linux")
