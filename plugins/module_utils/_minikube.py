# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the minikube modules share: the argument formats, reading state, and minikube's reasons.

Facts this file relies on (minikube sources, cmd/minikube/cmd and pkg/minikube/reason):

* ``minikube status -o json`` prints one object per node (a list for multi-node clusters) and
  exits with a bitmask: 1 host not running, 2 kubelet/apiserver not running, 4 kubeconfig not
  configured. A profile that does not exist exits 85 (``ExGuestNotFound``) with
  ``Profile "P" not found``.
* ``minikube profile list -o json`` prints ``{"valid": [...], "invalid": [...]}``, each profile
  with ``Name``, ``Status`` and its ``Config`` (the ClusterConfig). On a machine where minikube
  never ran it prints ``{"error": {"Op": "open", "Path": ".../profiles", "Err": 2}}`` and exits 80
  (kubernetes/minikube#15593): that means "no profiles", not a failure.
* ``minikube start --output=json`` prints CloudEvents, one JSON object per line; a failure is an
  event of type ``io.k8s.sigs.minikube.error`` whose data holds ``name`` (the reason ID such as
  ``PROVIDER_DOCKER_NOT_RUNNING``), ``exitcode``, ``message`` and ``advice``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.istiolab.mesh.plugins.module_utils._cli import CliError, CliRunner, Fmt
from ansible_collections.istiolab.mesh.plugins.module_utils._cli import run_module as cli_run_module

INSTALL_HINT = (
    "Install minikube with this collection: the istiolab.mesh.minikube role installs a pinned, "
    "checksum-verified minikube, or the istiolab.mesh.release_artifact module downloads it and "
    "returns its path for the binary_path option."
)

DEFAULT_PROFILE = "minikube"
# Seconds `minikube service --url` may take: where it prints its URLs and returns, that is a second or two.
SERVICE_URL_TIMEOUT = 10

EXIT_PROFILE_NOT_FOUND = 85
EXIT_GUEST_ERROR = 80
# Bits of the `minikube status` exit code; anything above 7 is a real error, not a state.
STATUS_BITMASK = 7

ERROR_EVENT = "io.k8s.sigs.minikube.error"

FORMATS = dict(
    subcommand=Fmt.positional(),
    name=Fmt.positional(),
    profile=Fmt.opt("-p", joined=False),
    namespace=Fmt.opt("-n", joined=False),
    output=Fmt.opt("--output"),
    url=Fmt.flag("--url"),
    driver=Fmt.opt("--driver"),
    cpus=Fmt.opt("--cpus"),
    memory=Fmt.opt("--memory"),
    disk_size=Fmt.opt("--disk-size"),
    kubernetes_version=Fmt.opt("--kubernetes-version"),
    container_runtime=Fmt.opt("--container-runtime"),
    nodes=Fmt.opt("--nodes"),
    extra_config=Fmt.mapping("--extra-config", joined=True),
    wait_timeout=Fmt.opt("--wait-timeout"),
    interactive=Fmt.opt("--interactive"),
    extra_args=Fmt.positional(),
)

START_ORDER = [
    "subcommand", "profile", "output", "driver", "cpus", "memory", "disk_size", "kubernetes_version",
    "container_runtime", "nodes", "extra_config", "wait_timeout", "interactive", "extra_args",
]

# The next step for a person, by minikube reason ID (pkg/minikube/reason/reason.go and the driver
# registry in pkg/minikube/registry/drvs/docker/docker.go).
_HINT_DOCKER_DOWN = (
    "Docker is installed but not answering: start Docker Desktop, or run `sudo systemctl start docker` "
    "on Linux, check `docker info` works, then run again."
)
_HINT_DOCKER_MISSING = (
    "Install Docker (https://docs.docker.com/engine/install/), or set the driver option to a driver "
    "that is installed on this machine."
)
_HINT_MEMORY = (
    "Lower the memory option (the istiolab.mesh.minikube role's minikube_memory), or give Docker more "
    "memory (Docker Desktop: Settings > Resources > Memory)."
)
_HINT_CPUS = (
    "Lower the cpus option (the istiolab.mesh.minikube role's minikube_cpus), or give Docker more CPUs "
    "(Docker Desktop: Settings > Resources > CPUs); Kubernetes needs at least 2."
)
_HINT_DISK = "Free disk space (for example `docker system prune`) or lower the disk_size option."
_HINT_DRIVER = (
    "Set the driver option to a driver available here (docker works on Linux and macOS) and make "
    "sure it is installed and running."
)
_HINT_K8S = (
    "Choose a Kubernetes version this minikube supports (`minikube config defaults kubernetes-version` "
    "lists them) in the kubernetes_version option; to go down a version, set recreate: true."
)
_HINT_DRIVER_MISMATCH = "Set the driver option to the one the profile was created with, or set recreate: true."

REASON_HINTS = {
    "PROVIDER_DOCKER_NOT_RUNNING": _HINT_DOCKER_DOWN,
    "PROVIDER_DOCKER_CANNOT_CONNECT": _HINT_DOCKER_DOWN,
    "PROVIDER_DOCKER_REFUSED": _HINT_DOCKER_DOWN,
    "PROVIDER_DOCKER_DEADLINE_EXCEEDED": _HINT_DOCKER_DOWN,
    "DRV_DOCKER_NOT_RUNNING": _HINT_DOCKER_DOWN,
    "PROVIDER_DOCKER_NOT_FOUND": _HINT_DOCKER_MISSING,
    "PROVIDER_DOCKER_NEWGRP": (
        "Let your user talk to Docker: `sudo usermod -aG docker $USER && newgrp docker`, then run again."
    ),
    "DRV_NOT_FOUND": _HINT_DRIVER,
    "DRV_NOT_DETECTED": _HINT_DRIVER,
    "DRV_NOT_HEALTHY": _HINT_DRIVER,
    "DRV_UNSUPPORTED_OS": _HINT_DRIVER,
    "RSRC_INSUFFICIENT_REQ_MEMORY": _HINT_MEMORY,
    "RSRC_INSUFFICIENT_SYS_MEMORY": _HINT_MEMORY,
    "RSRC_INSUFFICIENT_CONTAINER_MEMORY": _HINT_MEMORY,
    "RSRC_DOCKER_MEMORY": _HINT_MEMORY,
    "RSRC_OVER_ALLOC_MEM": _HINT_MEMORY,
    "RSRC_INSUFFICIENT_CORES": _HINT_CPUS,
    "RSRC_DOCKER_CORES": _HINT_CPUS,
    "RSRC_INSUFFICIENT_STORAGE": _HINT_DISK,
    "RSRC_DOCKER_STORAGE": _HINT_DISK,
    "K8S_OLD_UNSUPPORTED": _HINT_K8S,
    "K8S_DOWNGRADE_UNSUPPORTED": _HINT_K8S,
    "GUEST_DRIVER_MISMATCH": _HINT_DRIVER_MISMATCH,
}

# When minikube printed no reason event, its exit code still names the class of failure
# (pkg/minikube/reason/exitcodes.go).
EXIT_CODE_HINTS = {
    23: _HINT_MEMORY,
    26: _HINT_DISK,
    29: _HINT_CPUS,
    55: _HINT_DRIVER,
    56: _HINT_DRIVER,
    63: _HINT_DOCKER_DOWN,
    65: _HINT_DOCKER_MISSING,
    106: _HINT_K8S,
}

# Settings minikube fixes when a cluster is created: (option, how to read it from the profile Config).
SETTINGS = (
    ("driver", lambda c: c.get("Driver")),
    ("cpus", lambda c: c.get("CPUs")),
    ("memory", lambda c: c.get("Memory")),
    ("disk_size", lambda c: c.get("DiskSize")),
    ("kubernetes_version", lambda c: (c.get("KubernetesConfig") or {}).get("KubernetesVersion")),
    ("container_runtime", lambda c: (c.get("KubernetesConfig") or {}).get("ContainerRuntime")),
    ("nodes", lambda c: len(c.get("Nodes") or []) or None),
)

_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def size_in_mb(value):
    """A size as minikube reads it (a plain number is MB, units are powers of 1024) in MB.

    ``None`` stays ``None``; words minikube understands itself (``max``, ``no-limit``) are
    returned unchanged so they reach the CLI as given and are not compared.
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in ("max", "no-limit"):
        return text.lower()
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError("%r is not a size: use a number of MB or a number with a unit, like 8192 or 8g" % (value,))
    number, unit = match.groups()
    if not unit:
        return int(float(number))
    return int(float(number) * _SIZE_UNITS[unit.lower()] // (1024 ** 2))


def normalize_kubernetes_version(value):
    """``1.34.0`` and ``v1.34.0`` are the same version; ``stable``/``latest`` are kept as they are."""
    if value is None:
        return None
    text = str(value).strip()
    if re.match(r"^\d+\.\d+", text):
        return "v" + text
    return text


def normalize_runtime(value):
    """minikube stores ``cri-o`` as ``crio``."""
    if value is None:
        return None
    return "crio" if value == "cri-o" else value


def requested_settings(params):
    """The settings the module arguments ask for, in the units minikube stores them in."""
    return dict(
        driver=params.get("driver"),
        cpus=params.get("cpus"),
        memory=size_in_mb(params.get("memory")),
        disk_size=size_in_mb(params.get("disk_size")),
        kubernetes_version=normalize_kubernetes_version(params.get("kubernetes_version")),
        container_runtime=normalize_runtime(params.get("container_runtime")),
        nodes=params.get("nodes"),
    )


def current_settings(config):
    """The settings of an existing profile, from its Config in ``profile list -o json``."""
    config = config or {}
    return dict((name, read(config)) for name, read in SETTINGS)


def _comparable(name, wanted):
    if wanted is None:
        return False
    if name in ("memory", "disk_size") and isinstance(wanted, str):
        return False
    if name == "kubernetes_version" and not str(wanted).startswith("v"):
        return False
    return True


def settings_differences(current, wanted):
    """``[(option, current, wanted)]`` for every requested setting the profile has differently."""
    return [
        (name, current.get(name), wanted[name])
        for name, _read in SETTINGS
        if _comparable(name, wanted.get(name)) and current.get(name) != wanted[name]
    ]


def json_lines(text):
    """Every JSON object printed one per line (CloudEvents); other lines are skipped."""
    events = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def error_event(text):
    """The data of the last minikube error event printed, or ``None``."""
    found = None
    for event in json_lines(text):
        if event.get("type") == ERROR_EVENT:
            found = event.get("data") or {}
    return found


def reason_error(action, result, profile=None):
    """A CliError for a failed minikube call: minikube's reason, its own words and the next step."""
    event = error_event(result.stdout) or error_event(result.stderr) or {}
    name = event.get("name") or ""
    code = event.get("exitcode") or result.rc
    try:
        code = int(code)
    except (TypeError, ValueError):
        code = result.rc
    words = (event.get("message") or "").strip()
    if not words:
        # Without an error event, the last lines minikube printed (events excluded) are its words.
        text = "\n".join(part for part in (result.stderr, result.stdout) if part)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        plain = [line for line in lines if not line.startswith('{"specversion"')]
        words = " ".join(plain[-6:])
    label = name + " (exit code %s)" % code if name else "exit code %s" % code
    msg = "minikube %s failed with %s: %s" % (action, label, words or "minikube printed nothing")
    advice = (event.get("advice") or "").strip()
    if advice:
        msg = "%s%s minikube advises: %s" % (msg, "" if msg[-1] in ".?!" else ".", " ".join(advice.split()))
    hint = REASON_HINTS.get(name)
    if hint is None and name.startswith("K8S_") and name.endswith("_UNSUPPORTED"):
        hint = _HINT_K8S
    if hint is None:
        hint = EXIT_CODE_HINTS.get(code)
    if hint is None:
        hint = "Run `minikube logs%s` to see why." % (" -p %s" % profile if profile else "")
    return CliError(msg, result=result, hint=hint)


def node_state(status):
    """One word for a node's ``status -o json`` entry: running, paused, stopped or degraded."""
    host = status.get("Host")
    if host != "Running":
        return "stopped"
    if status.get("APIServer") == "Paused":
        return "paused"
    if status.get("APIServer") in ("Running", "Irrelevant") and status.get("Kubelet") == "Running":
        return "running"
    return "degraded"


class Minikube:
    """minikube for one module run: reads state, acts, and remembers the commands it ran."""

    def __init__(self, module, binary_path=None):
        self.module = module
        self.runner = CliRunner(module, "minikube", FORMATS, INSTALL_HINT, binary_path=binary_path)
        self._version = None

    @property
    def commands(self):
        return self.runner.commands

    def version(self):
        """``minikube version -o json``, asked once per run."""
        if self._version is None:
            data = self.runner.run(["subcommand", "output"], subcommand="version", output="json").json() or {}
            self._version = data.get("minikubeVersion") or ""
        return self._version

    def profiles(self):
        """``{name: {"valid": bool, "status": str, "config": dict}}`` for every profile minikube knows."""
        result = self.runner.run(["subcommand", "output"], check=False, subcommand=["profile", "list"], output="json")
        data = None
        try:
            data = json.loads(result.stdout.strip() or "null")
        except ValueError:
            data = None
        if isinstance(data, dict) and "error" in data and result.rc == EXIT_GUEST_ERROR:
            error = data.get("error") or {}
            if isinstance(error, dict) and error.get("Err") == 2:
                return {}
        if result.rc != 0 or not isinstance(data, dict):
            raise reason_error("profile list", result)
        profiles = {}
        for valid, key in ((True, "valid"), (False, "invalid")):
            for entry in data.get(key) or []:
                profiles[entry.get("Name")] = dict(valid=valid, status=entry.get("Status"), config=entry.get("Config") or {})
        return profiles

    def status(self, profile):
        """The node statuses of ``profile`` (control plane first), or ``None`` when it does not exist."""
        result = self.runner.run(["subcommand", "profile", "output"], check=False, subcommand="status", profile=profile, output="json")
        if result.rc == EXIT_PROFILE_NOT_FOUND:
            return None
        if result.rc & ~STATUS_BITMASK:
            raise reason_error("status", result, profile)
        data = result.json()
        nodes = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        if not nodes:
            raise CliError("minikube status printed no node status: %s" % result.stdout.strip()[:300], result=result)
        return sorted(nodes, key=lambda node: bool(node.get("Worker")))

    def ip(self, profile):
        return self.runner.run(["subcommand", "profile"], subcommand="ip", profile=profile).stdout.strip() or None

    def start(self, profile, params):
        values = dict(
            subcommand="start",
            profile=profile,
            output="json",
            driver=params.get("driver"),
            cpus=params.get("cpus"),
            memory=size_in_mb(params.get("memory")),
            disk_size=size_in_mb(params.get("disk_size")),
            kubernetes_version=params.get("kubernetes_version"),
            container_runtime=params.get("container_runtime"),
            nodes=params.get("nodes"),
            extra_config=params.get("extra_config"),
            wait_timeout="%ss" % params["wait_timeout"] if params.get("wait_timeout") else None,
            interactive=False,
            extra_args=params.get("extra_args") or None,
        )
        self._mutate("start", START_ORDER, values, profile)

    def simple(self, action, profile):
        """``stop``, ``pause``, ``unpause`` or ``delete`` of a profile."""
        self._mutate(action, ["subcommand", "profile"], dict(subcommand=action, profile=profile), profile)

    def _mutate(self, action, order, values, profile):
        result = self.runner.run(order, mutating=True, check=False, **values)
        if result is not None and result.rc != 0:
            raise reason_error(action, result, profile)

    def addons(self, profile):
        """``{addon: "enabled"|"disabled"}`` of a profile, or ``None`` when the profile does not exist."""
        result = self.runner.run(["subcommand", "profile", "output"], check=False, subcommand=["addons", "list"], profile=profile, output="json")
        if result.rc == EXIT_PROFILE_NOT_FOUND:
            return None
        if result.rc != 0:
            raise reason_error("addons list", result, profile)
        data = result.json() or {}
        return dict((name, (entry or {}).get("Status", "disabled")) for name, entry in data.items())

    def addon(self, profile, name, enable):
        action = "enable" if enable else "disable"
        values = dict(subcommand=["addons", action], name=name, profile=profile)
        self._mutate("addons %s %s" % (action, name), ["subcommand", "name", "profile"], values, profile)

    def service_urls(self, profile, name, namespace, timeout=SERVICE_URL_TIMEOUT):
        """The URLs ``minikube service --url`` prints, stopped after ``timeout`` seconds.

        Where the node IP cannot be reached from the host (minikube's ``driver.NeedsPortForward()``: the docker
        driver on macOS, Windows and WSL, Docker Desktop for Linux, rootless Docker) minikube opens a tunnel for
        the service, prints a 127.0.0.1 URL and waits to be interrupted; the URL dies with the tunnel, so it is
        of no use here, and the call is stopped and explained instead of blocking for good.
        """
        what = "service %s -n %s --url" % (name, namespace)
        result = self.runner.run(
            ["subcommand", "name", "namespace", "profile", "url"], check=False, timeout=timeout,
            subcommand="service", name=name, namespace=namespace, profile=profile, url=True,
        )
        if result.timed_out:
            said = " ".join(((result.stderr or "") + " " + (result.stdout or "")).split())[-400:]
            raise CliError(
                "`minikube %s` did not return within %s seconds and was stopped: on this host minikube reaches the "
                "service through a tunnel that lives only as long as the command (the docker driver on macOS, Windows or "
                "WSL, Docker Desktop for Linux and rootless Docker cannot reach the node IP), so it waits to be "
                "interrupted and its URL is of no use once it stops. minikube said: %s"
                % (what, timeout, said or "(nothing)"),
                result=result,
                hint="Do not ask minikube_info for services on this host: reach the service through a 127.0.0.1 "
                "port-forward (the istiolab.mesh.bookinfo role does it with bookinfo_gateway_mode=port-forward, or "
                "run `kubectl port-forward`), or keep `minikube tunnel` running in a terminal of its own. Raise "
                "service_timeout only if minikube is just slow to answer.",
            )
        if result.rc != 0:
            raise reason_error("service %s -n %s --url" % (name, namespace), result, profile)
        return [line.strip() for line in result.stdout.splitlines() if re.match(r"^\s*[a-z]+://", line)]


def describe_cluster(client, profile, profiles=None):
    """What exists for ``profile``: state, status, settings, IP and context (reads only)."""
    if profiles is None:
        profiles = client.profiles()
    entry = profiles.get(profile)
    info = dict(profile=profile, exists=entry is not None, state="absent", status=None, node_ip=None,
                kube_context=None, kubernetes_version=None, settings={})
    if entry is None:
        return info
    info["settings"] = current_settings(entry["config"])
    info["kubernetes_version"] = info["settings"].get("kubernetes_version")
    if not entry["valid"]:
        # minikube lists a profile as invalid when its config cannot be loaded; status would fail.
        info["state"] = "invalid"
        return info
    nodes = client.status(profile)
    if nodes is None:
        info.update(exists=False, settings={}, kubernetes_version=None)
        return info
    info["kube_context"] = profile
    info["status"] = nodes[0]
    info["state"] = node_state(nodes[0])
    if nodes[0].get("Host") == "Running":
        info["node_ip"] = client.ip(profile)
    return info


def run_module(module, run, **fail_extra):
    """The body of every minikube module's ``main()``: :func:`_cli.run_module` with a :class:`Minikube` client."""
    cli_run_module(module, Minikube(module, binary_path=module.params["binary_path"]), run, **fail_extra)
