"""``make demo-offline``: the whole demo (playbooks/full-demo.yml) on the offline cluster, in one command.

A SIMULATION, for trying the collection and rehearsing a talk without Docker: the Kubernetes API is the
emulator in tests/harness/apiserver, minikube, istioctl and docker are the fake CLIs, the Istio release is the
fake one served on 127.0.0.1, and the ingress gateway with Bookinfo behind it is the data-plane stand-in
(tests/harness/dataplane.py). No container runs and no traffic crosses a real mesh.

This driver starts the emulator (as ``python -m tests.harness up`` does), the fake release server and the
data-plane stand-in, runs the playbook against them with :func:`offline_variables` (the settings the
end-to-end tests use too, tests/e2e/_demo.py) plus any extra ansible-playbook arguments, lets the playbook
print its summary, and stops everything it started: on success, on failure, on Ctrl-C and on SIGTERM/SIGHUP.

    python -m tests.harness.demo_offline [--state-dir DIR] [ansible-playbook arguments...]

The state (the emulator's kubeconfig and log, the fake CLIs' state, the download cache) goes to DIR
(default: <repo>/.harness/demo-offline), emptied at the start of each run so that every run starts from an
empty cluster; it is kept afterwards for a look at the logs.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# pylint: disable=wrong-import-position
from tests.harness import fixtures  # noqa: E402
from tests.harness.apiserver import lifecycle  # noqa: E402
from tests.harness.dataplane import DataPlane  # noqa: E402
from tests.harness.fake_release import ReleaseServer, build_release  # noqa: E402

REPO = lifecycle.REPO
FULL_DEMO = "playbooks/full-demo.yml"
PROFILE = "istiolab"
DEFAULT_STATE_DIR = os.path.join(REPO, ".harness", "demo-offline")
# How long a playbook may take to stop after SIGINT (as Ctrl-C would send it) before it is killed.
STOP_GRACE = 10


def offline_variables(cache_dir, release_url, gateway_url):
    """The extra vars of a full-demo run on the offline cluster: minikube from PATH (the fake), Istio from the fake
    release through release_artifact's real download and checksum path, the gateway stand-in's URL, short waits.
    The one definition of these settings, for make demo-offline, the end-to-end and fault tests and the bench."""
    return {
        "mesh_cluster_provider": "minikube",
        "mesh_minikube_profile": PROFILE,
        "minikube_install": False,
        "mesh_cache_dir": cache_dir,
        "istio_release_base_url": release_url,
        # The emulator moves no traffic and the minikube node IP is not reachable here: the stand-in answers.
        "bookinfo_gateway_url": gateway_url,
        "mesh_elk_enabled": False,
        # Nothing answers the addons' HTTP APIs offline (as in molecule/telemetry).
        "telemetry_port_forward": False,
        "telemetry_verify": False,
        "istio_wait_timeout": 60,
        "bookinfo_wait_timeout": 60,
        "telemetry_wait_timeout": 60,
        "bookinfo_check_retries": 3,
        "bookinfo_check_delay": 1,
    }


def pinned_istio_version():
    """mesh_istio_version from inventory/group_vars/all.yml (the release the fake server must serve)."""
    with open(os.path.join(REPO, "inventory", "group_vars", "all.yml"), encoding="utf-8") as handle:
        return str(yaml.safe_load(handle)["mesh_istio_version"])


class Stop(Exception):
    """SIGTERM or SIGHUP arrived: stop like Ctrl-C does."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stop(signum, _frame):
    raise Stop(signum)


def harness_processes(directory, exclude=()):
    """Pids of processes started for the harness in ``directory`` (they carry MESH_HARNESS_DIR=<directory> in their
    environment, which survives the setsid Ansible's workers call and re-parenting of orphans)."""
    marker = b"MESH_HARNESS_DIR=" + os.fsencode(directory)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in exclude or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


class OfflineRun:
    """What one ``make demo-offline`` started, so that :meth:`stop` can stop exactly that."""

    def __init__(self, directory):
        self.dir = directory
        self.harness = self.release = self.dataplane = self.playbook = None

    def start(self):
        say(f"starting the offline cluster in {self.dir}")
        self.harness = fixtures.start(self.dir)
        release_root = os.path.join(self.dir, "release")
        build_release(release_root, pinned_istio_version())
        self.release = ReleaseServer(release_root).start()
        self.dataplane = DataPlane(self.harness.client, namespace="bookinfo").start()
        emulator_pid = (lifecycle.read_info(self.dir) or {}).get("pid")
        say(f"API emulator {self.harness.server} (pid {emulator_pid}), fake Istio release {self.release.base_url}, "
            f"gateway stand-in {self.dataplane.url}")

    def run_playbook(self, extra_args):
        vars_file = os.path.join(self.dir, "vars.json")
        with open(vars_file, "w", encoding="utf-8") as handle:
            json.dump(offline_variables(os.path.join(self.dir, "cache"), self.release.base_url, self.dataplane.url),
                      handle, indent=2)
        tmp = os.path.join(self.dir, "ansible-tmp")
        env = dict(self.harness.env, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_LOCAL_TEMP=tmp, ANSIBLE_REMOTE_TMP=tmp, ANSIBLE_RETRY_FILES_ENABLED="false")
        argv = [os.path.join(fixtures.VENV_BIN, "ansible-playbook"), FULL_DEMO, "-e", "@" + vars_file, *extra_args]
        say("running " + " ".join(argv[1:]))
        # Its own session, so that a Ctrl-C reaches this driver alone and the driver decides how the playbook stops.
        self.playbook = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        return self.playbook.wait()

    def stop(self):
        """Stop the playbook (if running) and everything started for this run; safe after a failed start."""
        if self.playbook is not None and self.playbook.poll() is None:
            try:
                os.killpg(self.playbook.pid, signal.SIGINT)
                self.playbook.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                os.killpg(self.playbook.pid, signal.SIGKILL)
                self.playbook.wait()
            except ProcessLookupError:
                pass
        for server in (self.dataplane, self.release):
            if server is not None:
                server.stop()
        self.dataplane = self.release = None
        # Whatever the playbook left behind (kubectl port-forwards, workers in their own sessions), not the emulator.
        info = lifecycle.read_info(self.dir) or {}
        for pid in harness_processes(self.dir, exclude={info.get("pid")}):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.harness is not None or info:
            lifecycle.down(self.dir)
        self.harness = None
        say("stopped the offline cluster, the fake release server and the gateway stand-in")


def say(message):
    print(f"demo-offline: {message}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tests.harness.demo_offline", allow_abbrev=False,
        description="Run playbooks/full-demo.yml on the offline cluster (a simulation: no Docker, no real mesh).",
        epilog="Other arguments go to ansible-playbook, e.g. --tags canary -v.")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help="state directory (default: %(default)s)")
    args, extra = parser.parse_known_args(argv)
    directory = os.path.abspath(args.state_dir)
    previous = {name: signal.signal(name, _raise_stop) for name in (signal.SIGTERM, signal.SIGHUP)}
    run = OfflineRun(directory)
    status = 1
    try:
        # A run killed before it could clean up leaves its emulator behind; start from an empty cluster.
        if lifecycle.read_info(directory):
            lifecycle.down(directory)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        started = time.monotonic()
        run.start()
        status = run.run_playbook(extra)
        verdict = "finished" if status == 0 else f"FAILED (ansible-playbook exited {status})"
        say(f"{FULL_DEMO} {verdict} after {time.monotonic() - started:.0f}s; this was a simulation on the offline "
            f"cluster, not a real cluster")
    except KeyboardInterrupt:
        say("interrupted (Ctrl-C); stopping what was started")
        status = 130
    except Stop as exc:
        say(f"{exc}; stopping what was started")
        status = 128 + exc.signum
    except lifecycle.HarnessStartError as exc:
        say(f"ERROR the offline cluster did not start: {exc}")
    finally:
        # A second Ctrl-C must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            run.stop()
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for name, handler in previous.items():
                signal.signal(name, handler)
    return status


if __name__ == "__main__":
    sys.exit(main())
