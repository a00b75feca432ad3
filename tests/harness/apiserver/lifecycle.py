"""Start and stop the emulator as a background process, and write the files clients use to reach it."""

from __future__ import annotations

import json
import os
import shlex

from .. import loopback, service
from . import certs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN_DIR = os.path.join(REPO, "tests", "harness", "bin")
# Re-exported: callers (tests, demos) check the emulator's process with it.
pid_alive = service.pid_alive


class HarnessStartError(service.ServiceStartError):
    """The emulator did not come up; the message carries the end of its log."""


def default_dir():
    return os.path.abspath(os.environ.get("MESH_HARNESS_DIR") or os.path.join(REPO, ".harness"))


def paths(directory):
    return {name: os.path.join(directory, name) for name in ("harness.json", "kubeconfig", "env.sh", "apiserver.log")}


def read_info(directory):
    try:
        with open(paths(directory)["harness.json"], encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def tls_context(info):
    """The client TLS context of the harness's own clients: the cluster CA and the ``harness`` client pair."""
    return loopback.client_tls_context(info["certificate-authority"], info.get("client-certificate"), info.get("client-key"))


def answers(info, timeout=2.0):
    try:
        context = tls_context(info)
    except (KeyError, OSError, ValueError):
        return False
    return service.answers(info["server"] + "/version", None, timeout, context)


def running(directory):
    info = read_info(directory)
    if info and pid_alive(info.get("pid", 0)) and answers(info):
        return info
    return None


def kubeconfig(info):
    """The base context ``harness``: the cluster CA and the ``harness`` client pair by path, as minikube writes its
    entries (the contexts the fake ``minikube start`` adds carry minikube's extensions too, see client.set_kube_context)."""
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "harness", "cluster": {"certificate-authority": info["certificate-authority"], "server": info["server"]}}],
        "users": [{"name": "harness", "user": {"client-certificate": info["client-certificate"], "client-key": info["client-key"]}}],
        "contexts": [{"name": "harness", "context": {"cluster": "harness", "user": "harness", "namespace": "default"}}],
        "current-context": "harness",
    }


def environment(directory):
    """The variables a shell or subprocess needs to use this harness (what env.sh exports)."""
    files = paths(directory)
    return {
        "MESH_HARNESS_DIR": directory,
        "KUBECONFIG": files["kubeconfig"],
        "K8S_AUTH_KUBECONFIG": files["kubeconfig"],
        # kubectl's discovery cache is keyed by host:port; a private one never serves another run's types.
        "KUBECACHEDIR": os.path.join(directory, "kube-cache"),
        # The fake minikube keeps its certificates where minikube would under this home (DIR/.minikube).
        "MINIKUBE_HOME": directory,
    }


def env_script(directory):
    lines = [f"export {key}={shlex.quote(value)}" for key, value in environment(directory).items()]
    lines.append(f'export PATH={shlex.quote(BIN_DIR)}:"$PATH"')
    return "\n".join(lines) + "\n"


def up(directory, timeout=15.0):
    """Start the emulator for DIR unless one already answers there; return its harness.json content."""
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    info = running(directory)
    files = paths(directory)
    started = info is None
    if started:
        if os.path.exists(files["harness.json"]):
            os.remove(files["harness.json"])
        ca = certs.ensure_ca(directory)
        serving = certs.ensure_serving(directory)
        client_pair = certs.ensure_client(directory, certs.HARNESS_PROFILE)
        proc = service.spawn(["tests.harness.apiserver", "--dir", directory, "--tls-cert-file", serving[0],
                              "--tls-private-key-file", serving[1], "--client-ca-file", ca,
                              "--client-certificate", client_pair[0], "--client-key", client_pair[1]], files["apiserver.log"],
                             {"MESH_HARNESS_CLUSTER_CA": ca})

        def announced():
            found = read_info(directory)
            return found if found and found.get("pid") == proc.pid and answers(found) else None

        try:
            info = service.wait_until(proc, announced, "the API emulator", files["apiserver.log"], timeout)
        except service.ServiceStartError as exc:
            raise HarnessStartError(str(exc)) from None
    if started or not os.path.exists(files["kubeconfig"]):
        # Only a new emulator gets a new kubeconfig: contexts added since (fake `minikube start`) must survive `up`.
        with open(files["kubeconfig"], "w", encoding="utf-8") as handle:
            json.dump(kubeconfig(info), handle, indent=2)
        os.chmod(files["kubeconfig"], 0o600)
    with open(files["env.sh"], "w", encoding="utf-8") as handle:
        handle.write(env_script(directory))
    return info


def down(directory, timeout=10.0):
    """Stop the emulator of DIR and wait until its process is gone. Returns False if none was running."""
    directory = os.path.abspath(directory)
    info = read_info(directory)
    stopped = bool(info) and service.stop_pid(info.get("pid"), timeout)
    for name in ("harness.json", "kubeconfig", "env.sh"):
        try:
            os.remove(paths(directory)[name])
        except FileNotFoundError:
            pass
    return stopped
