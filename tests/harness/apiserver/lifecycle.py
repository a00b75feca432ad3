"""Start and stop the emulator as a background process, and write the files clients use to reach it."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN_DIR = os.path.join(REPO, "tests", "harness", "bin")
# Popen objects of emulators this process started, so stopping one also reaps it.
_CHILDREN = {}


class HarnessStartError(RuntimeError):
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


def pid_alive(pid):
    """True while the process exists and is not a zombie (an exited child nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def answers(info, timeout=2.0):
    request = urllib.request.Request(info["server"] + "/version", headers={"Authorization": f"Bearer {info.get('token', '')}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def running(directory):
    info = read_info(directory)
    if info and pid_alive(info.get("pid", 0)) and answers(info):
        return info
    return None


def kubeconfig(info):
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "harness", "cluster": {"server": info["server"]}}],
        "users": [{"name": "harness", "user": {"token": info["token"]}}],
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
    }


def env_script(directory):
    lines = [f"export {key}={shlex.quote(value)}" for key, value in environment(directory).items()]
    lines.append(f'export PATH={shlex.quote(BIN_DIR)}:"$PATH"')
    return "\n".join(lines) + "\n"


def _log_tail(path, lines=20):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return "(no log)"


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
        token = secrets.token_hex(16)
        with open(files["apiserver.log"], "ab") as log:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with  # it outlives this call on purpose
                [sys.executable, "-m", "tests.harness.apiserver", "--dir", directory],
                cwd=REPO, env=dict(os.environ, MESH_HARNESS_TOKEN=token), stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, start_new_session=True, close_fds=True)
        _CHILDREN[proc.pid] = proc
        deadline = time.monotonic() + timeout
        while True:
            info = read_info(directory)
            if info and info.get("pid") == proc.pid and answers(info):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                _CHILDREN.pop(proc.pid, None)
                raise HarnessStartError(
                    f"the API emulator did not start within {timeout:.0f}s (exit code {proc.returncode}); "
                    f"end of {files['apiserver.log']}:\n{_log_tail(files['apiserver.log'])}")
            time.sleep(0.05)
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
    stopped = False
    if info and info.get("pid"):
        pid = info["pid"]
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            stopped = True
            deadline = time.monotonic() + timeout
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
                while pid_alive(pid):
                    time.sleep(0.05)
        child = _CHILDREN.pop(pid, None)
        if child is not None:
            child.wait()
    for name in ("harness.json", "kubeconfig", "env.sh"):
        try:
            os.remove(paths(directory)[name])
        except FileNotFoundError:
            pass
    return stopped
