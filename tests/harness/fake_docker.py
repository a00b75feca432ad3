"""A fake ``docker`` CLI for the offline cluster: the two read-only calls the preflight role makes.

``docker info --format '{{json .}}'`` and ``docker version --format '{{json .}}'`` print the JSON
documents the real CLI prints (field names as in Docker Engine's ``/info`` and ``/version`` API
responses), with values taken from ``$MESH_HARNESS_DIR/faults.json`` key ``docker`` when set:

    {"docker": {"info": "down"}}          the engine is unreachable (the real message, exit code 1)
    {"docker": {"info": "denied"}}        the socket refuses this user (exit code 1)
    {"docker": {"version": "down"}}       the same for ``docker version``
    {"docker": {"ncpu": 2, "mem_total": 8589934592, "server_version": "28.2.2",
                "architecture": "x86_64", "os_type": "linux", "docker_root_dir": "/var/lib/docker"}}

The host the engine runs on comes from ``$MESH_HARNESS_DIR/host.json`` (``{"profile": NAME}``, see
:data:`HOST_PROFILES`; no file means ``linux-docker``): Docker Desktop reports ``OperatingSystem``
"Docker Desktop" and a linuxkit kernel, rootless Docker adds ``name=rootless`` to ``SecurityOptions``.
faults.json values win over the profile's.

Every invocation is recorded with ``client.record_call("docker", argv)``. Standard library only.
See fake_docker.md for the subcommands and the upstream reference of each format.
"""

from __future__ import annotations

import json
import os
import platform
import sys

from tests.harness import client

SOCKET = "unix:///var/run/docker.sock"
CLIENT_VERSION = "28.2.2"
API_VERSION = "1.50"
DOWN = "Cannot connect to the Docker daemon at %s. Is the docker daemon running?" % SOCKET
DENIED = (
    "permission denied while trying to connect to the Docker daemon socket at %s: "
    'Get "http://%%2Fvar%%2Frun%%2Fdocker.sock/v%s/info": dial unix /var/run/docker.sock: connect: permission denied'
    % (SOCKET, API_VERSION)
)
JSON_FORMAT = "{{json .}}"

# What a healthy engine reports unless faults.json says otherwise: enough for the full demo.
DEFAULTS = {
    "ncpu": 8,
    "mem_total": 33_554_432 * 1024,
    "server_version": CLIENT_VERSION,
    "architecture": platform.machine() or "x86_64",
    "os_type": "linux",
    "docker_root_dir": "/var/lib/docker",
}


# What `docker info` reports on each kind of host (values as the real engines print them; see fake_docker.md).
# needs_port_forward: whether minikube's docker driver can reach the node IP from the host there
# (kubernetes/minikube pkg/minikube/driver/driver.go NeedsPortForward); fake_minikube reads it.
HOST_PROFILES = {
    "linux-docker": {
        "client_os": "linux", "operating_system": "Debian GNU/Linux 12 (bookworm)", "os_version": "12",
        "kernel_version": None, "name": "harness", "security_options": ["name=seccomp,profile=builtin", "name=cgroupns"],
        "platform_name": "Docker Engine - Community", "context": "default", "needs_port_forward": False,
    },
    "darwin-docker-desktop": {
        # Docker Desktop's Linux VM: what Settings > Resources gives it, not the Mac's memory.
        "client_os": "darwin", "operating_system": "Docker Desktop", "os_version": "",
        "kernel_version": "6.10.14-linuxkit", "name": "docker-desktop",
        "security_options": ["name=seccomp,profile=unconfined", "name=cgroupns"],
        "platform_name": "Docker Desktop 4.43.1 (198352)", "context": "desktop-linux", "needs_port_forward": True,
        "ncpu": 8, "mem_total": 12_541_063_168,
    },
    "linux-docker-desktop": {
        "client_os": "linux", "operating_system": "Docker Desktop", "os_version": "",
        "kernel_version": "6.10.14-linuxkit", "name": "docker-desktop",
        "security_options": ["name=seccomp,profile=unconfined", "name=cgroupns"],
        "platform_name": "Docker Desktop 4.43.1 (198352)", "context": "desktop-linux", "needs_port_forward": True,
        "ncpu": 8, "mem_total": 12_541_063_168,
    },
    "linux-rootless": {
        "client_os": "linux", "operating_system": "Ubuntu 24.04.2 LTS", "os_version": "24.04",
        "kernel_version": None, "name": "harness",
        "security_options": ["name=seccomp,profile=builtin", "name=rootless", "name=cgroupns"],
        "platform_name": "Docker Engine - Community", "context": "rootless", "needs_port_forward": True,
        "docker_root_dir": "/home/user/.local/share/docker", "mem_total": 16_421_076_992,
    },
}
DEFAULT_HOST_PROFILE = "linux-docker"


class UnknownHostProfile(Exception):
    pass


def host_profile_name(directory: str | None = None) -> str:
    """The host profile named in $MESH_HARNESS_DIR/host.json, ``linux-docker`` when there is none."""
    path = os.path.join(directory or os.environ.get("MESH_HARNESS_DIR", ""), "host.json")
    try:
        with open(path, encoding="utf-8") as handle:
            name = (json.load(handle) or {}).get("profile") or DEFAULT_HOST_PROFILE
    except FileNotFoundError:
        return DEFAULT_HOST_PROFILE
    if name not in HOST_PROFILES:
        raise UnknownHostProfile("fake docker: unknown host profile %r in %s (known: %s)" % (name, path, ", ".join(sorted(HOST_PROFILES))))
    return name


def host_profile(directory: str | None = None) -> dict:
    return HOST_PROFILES[host_profile_name(directory)]


def _go_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "amd64")


def _client_info() -> dict:
    host = host_profile()
    return {
        "Debug": False,
        "Version": CLIENT_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "GitCommit": "e6534b4",
        "GoVersion": "go1.24.3",
        "Os": host["client_os"],
        "Arch": _go_arch(),
        "BuildTime": "Fri May 30 12:07:14 2025",
        "Context": host["context"],
        "Plugins": [],
        "Warnings": None,
    }


def info_document(settings: dict | None) -> dict:
    """``docker info`` JSON; ``settings`` None gives the empty server part the CLI prints when the engine is down."""
    up = settings is not None
    s = settings or {}
    host = host_profile()
    return {
        "ID": "5c8b0f6e-3b0a-4a4e-9d51-harness" if up else "",
        "Containers": 0,
        "ContainersRunning": 0,
        "ContainersPaused": 0,
        "ContainersStopped": 0,
        "Images": 0,
        "Driver": "overlay2" if up else "",
        "MemoryLimit": up,
        "SwapLimit": up,
        "CpuCfsPeriod": up,
        "CpuCfsQuota": up,
        "CPUShares": up,
        "CPUSet": up,
        "PidsLimit": up,
        "IPv4Forwarding": up,
        "Debug": False,
        "NFd": 24 if up else 0,
        "OomKillDisable": False,
        "NGoroutines": 42 if up else 0,
        "SystemTime": "2026-11-26T04:00:00.000000000Z" if up else "",
        "LoggingDriver": "json-file" if up else "",
        "CgroupDriver": "systemd" if up else "",
        "CgroupVersion": "2" if up else "",
        "KernelVersion": (host["kernel_version"] or platform.release()) if up else "",
        "OperatingSystem": host["operating_system"] if up else "",
        "OSVersion": host["os_version"] if up else "",
        "OSType": s.get("os_type", ""),
        "Architecture": s.get("architecture", ""),
        "IndexServerAddress": "https://index.docker.io/v1/" if up else "",
        "NCPU": int(s.get("ncpu", 0)),
        "MemTotal": int(s.get("mem_total", 0)),
        "DockerRootDir": s.get("docker_root_dir", ""),
        "Name": host["name"] if up else "",
        "ServerVersion": s.get("server_version", ""),
        "DefaultRuntime": "runc" if up else "",
        "LiveRestoreEnabled": False,
        "Isolation": "",
        "SecurityOptions": list(host["security_options"]) if up else None,
        "Warnings": None,
        "ClientInfo": _client_info(),
    }


def version_document(settings: dict | None) -> dict:
    """``docker version`` JSON; ``Server`` is null when the engine is down, as the real CLI prints it."""
    client_part = {key: value for key, value in _client_info().items() if key not in ("Debug", "Plugins", "Warnings")}
    client_part["ApiVersion"] = API_VERSION
    server = None
    host = host_profile()
    if settings is not None:
        server = {
            "Platform": {"Name": host["platform_name"]},
            "Version": settings["server_version"],
            "ApiVersion": API_VERSION,
            "MinAPIVersion": "1.24",
            "GitCommit": "45873be",
            "GoVersion": "go1.24.3",
            "Os": settings["os_type"],
            "Arch": _go_arch(),
            "KernelVersion": host["kernel_version"] or platform.release(),
            "BuildTime": "2025-05-30T12:07:14.000000000+00:00",
        }
    return {"Client": client_part, "Server": server}


def engine_settings(directory: str | None = None) -> dict:
    """What a healthy engine reports on this host: the profile's values, faults.json's over them."""
    host = host_profile(directory)
    faults = client.cli_faults("docker", directory)
    return {key: faults.get(key, host.get(key, value)) for key, value in DEFAULTS.items()}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    client.record_call("docker", argv)
    command = argv[0] if argv else ""
    if command not in ("info", "version"):
        sys.stderr.write("docker: '%s' is not a docker command.\nSee 'docker --help'\n" % command)
        return 1
    if argv[1:] not in (["--format", JSON_FORMAT], ["--format=" + JSON_FORMAT], ["-f", JSON_FORMAT]):
        sys.stderr.write("fake docker: only `docker %s --format '%s'` is emulated, got %r\n" % (command, JSON_FORMAT, argv))
        return 2
    try:
        host_profile()
    except UnknownHostProfile as error:
        sys.stderr.write("%s\n" % error)
        return 2
    state = client.cli_faults("docker").get(command, "up")
    settings = None if state in ("down", "denied") else engine_settings()
    document = info_document(settings) if command == "info" else version_document(settings)
    sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
    if settings is None:
        sys.stderr.write((DOWN if state == "down" else DENIED) + "\n")
        return 1
    return 0
