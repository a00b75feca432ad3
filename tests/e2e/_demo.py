"""The whole demo on the offline cluster, for the end-to-end and fault tests and for bench/run.py.

An :class:`OfflineDemo` is one fresh API emulator with the fake CLIs (``tests.harness.fixtures.start``), the fake
Istio release served on 127.0.0.1 (``fake_release.build_release`` + ``ReleaseServer``) and the ingress gateway
stand-in (``dataplane.DataPlane``), plus the extra variables that point ``playbooks/full-demo.yml`` and
``playbooks/teardown.yml`` at them. The release server and the data plane are threads of the calling process, so
stopping the demo (or the process ending) leaves only the emulator to stop, which :meth:`OfflineDemo.stop` does.

Playbooks run with the ``ansible.posix.json`` stdout callback, so each run is counted task by task
(:class:`PlaybookRun`); every run has a wall-clock bound, and a run that outlives it has its whole process group
killed and is reported as a hang.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import glob
import json
import os
import signal
import subprocess
import time

import yaml

from tests.harness import fixtures
from tests.harness.apiserver import lifecycle
from tests.harness.client import read_calls
from tests.harness.dataplane import DataPlane
from tests.harness.demo_offline import PROFILE, harness_processes, offline_variables  # pylint: disable=unused-import
from tests.harness.fake_release import ReleaseServer, build_release

# The playbook timeouts below are hang guards, not speed checks (speed is measured by bench/run.py). They are given as
# for a quiet machine; `make test` runs two suites side by side on two cores, so each guard is stretched by this factor.
HANG_FACTOR = float(os.environ.get("MESH_E2E_HANG_FACTOR", "2.5"))

REPO = lifecycle.REPO
FULL_DEMO = "playbooks/full-demo.yml"
TEARDOWN = "playbooks/teardown.yml"
SUMMARY_TASK = "Print where the demo runs, what it runs and what was verified."
TEARDOWN_REPORT_TASK = "Report what was removed, what was already absent and what was kept."
# Files release_artifact writes while it works and renames or removes when it is done (plugins/module_utils/_release.py).
CACHE_TEMP_PATTERNS = (".download-*", ".extract-*", ".tmp-*")


def pinned(name):
    """A version pinned in inventory/group_vars/all.yml (mesh_istio_version, mesh_minikube_version)."""
    return str(_yaml(os.path.join(REPO, "inventory", "group_vars", "all.yml"))[name])


def known_variables():
    """Every variable the inventory or a role defines or documents: extra vars outside it are typos or stale names."""
    names = set(_yaml(os.path.join(REPO, "inventory", "group_vars", "all.yml")))
    for path in glob.glob(os.path.join(REPO, "roles", "*", "defaults", "main.yml")):
        names.update(_yaml(path))
    for path in glob.glob(os.path.join(REPO, "roles", "*", "meta", "argument_specs.yml")):
        for spec in (_yaml(path).get("argument_specs") or {}).values():
            names.update((spec or {}).get("options") or {})
    # Variables teardown.yml reads that no role defines.
    names.update(("teardown_keep_cluster", "teardown_keep_istio"))
    return names


def _yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@dataclasses.dataclass
class TaskResult:
    name: str
    action: str
    path: str
    changed: bool
    failed: bool
    skipped: bool
    seconds: float
    result: dict = dataclasses.field(repr=False)

    @property
    def msg(self):
        value = self.result.get("msg", "")
        return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


def _timestamp(text):
    return datetime.datetime.fromisoformat(text.rstrip("Z")) if text else None


@dataclasses.dataclass
class PlaybookRun:
    """One ansible-playbook run: exit code, wall time, the JSON callback's report (None when the run was killed)."""

    playbook: str
    argv: list = dataclasses.field(repr=False)
    returncode: int
    wall: float
    stdout: str = dataclasses.field(repr=False)
    stderr: str = dataclasses.field(repr=False)
    report: dict | None = dataclasses.field(repr=False)
    tasks: list = dataclasses.field(repr=False)

    @classmethod
    def parse(cls, playbook, argv, returncode, wall, stdout, stderr):
        report = None
        if stdout.strip():
            try:
                report = json.loads(stdout[stdout.index("{"):])
            except ValueError:
                report = None
        tasks = []
        for play in (report or {}).get("plays", []):
            for entry in play.get("tasks", []):
                task = entry["task"]
                start, end = _timestamp(task["duration"].get("start")), _timestamp(task["duration"].get("end"))
                for result in entry.get("hosts", {}).values():
                    tasks.append(
                        TaskResult(
                            name=task["name"], action=result.get("action", ""), path=task.get("path", ""),
                            changed=bool(result.get("changed")), failed=bool(result.get("failed")),
                            skipped=bool(result.get("skipped")),
                            seconds=(end - start).total_seconds() if start and end else 0.0, result=result,
                        )
                    )
        return cls(playbook, argv, returncode, wall, stdout, stderr, report, tasks)

    @property
    def stats(self):
        """Ansible's recap for localhost: ok, changed, failures, skipped, rescued, ignored, unreachable."""
        return ((self.report or {}).get("stats") or {}).get("localhost", {})

    @property
    def changed(self):
        return self.stats.get("changed", 0)

    @property
    def failures(self):
        return self.stats.get("failures", 0)

    def changed_tasks(self):
        return [t for t in self.tasks if t.changed]

    def failed_tasks(self):
        return [t for t in self.tasks if t.failed]

    def task(self, name):
        """The last result of the task called ``name`` (role prefix ignored), or None."""
        found = [t for t in self.tasks if t.name == name or t.name.endswith(" : " + name)]
        return found[-1] if found else None

    def lines(self, task_name):
        """The ``msg`` lines a debug task printed (the demo's summary, teardown's report)."""
        task = self.task(task_name)
        if task is None:
            return []
        value = task.result.get("msg", [])
        return [str(line) for line in (value if isinstance(value, list) else [value])]

    def failure_message(self):
        """What the run said when it failed: the last failed task's message (a killed run has none)."""
        failed = self.failed_tasks()
        return failed[-1].msg if failed else ""

    def explain(self):
        """A description for assertion messages: exit code, recap, changed and failed tasks, stderr's end."""
        parts = [f"{' '.join(self.argv)} exited {self.returncode} after {self.wall:.1f}s; recap {self.stats or 'missing'}"]
        parts += [f"  changed: {t.name}" for t in self.changed_tasks()]
        parts += [f"  failed: {t.name}: {t.msg[:600]}" for t in self.failed_tasks()]
        if self.report is None:
            parts.append("stdout (no JSON report):\n" + self.stdout[-2000:])
        if self.stderr.strip():
            parts.append("stderr:\n" + self.stderr[-2000:])
        return "\n".join(parts)


class PlaybookHang(AssertionError):
    """A playbook outlived its wall-clock bound; its process group was killed."""


@dataclasses.dataclass
class Snapshot:
    """The emulator's objects (by apiVersion, kind, namespace, name → resourceVersion) and the fake CLIs' state."""

    objects: dict
    cli_state: dict

    def diff(self, other):
        """Human-readable differences from ``self`` to ``other``; empty when they are equal."""
        lines = []
        for key in sorted(set(self.objects) | set(other.objects), key=str):
            before, after = self.objects.get(key), other.objects.get(key)
            if before != after:
                what = "added" if before is None else "removed" if after is None else f"resourceVersion {before} -> {after}"
                lines.append(f"{'/'.join(k or '-' for k in key)}: {what}")
        for name in sorted(set(self.cli_state) | set(other.cli_state)):
            if self.cli_state.get(name) != other.cli_state.get(name):
                lines.append(f"{name}: changed")
        return lines


class OfflineDemo:
    """A fresh offline cluster with the fake release and the gateway stand-in; see the module docstring."""

    def __init__(self, directory, release_root=None, path=None, **overrides):
        self.dir = os.path.abspath(str(directory))
        self.release_root = release_root
        self.path = path
        self.overrides = overrides
        self.harness = self.release = self.dataplane = None

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        try:
            self.harness = fixtures.start(self.dir)
            if self.release_root is None:
                self.release_root = os.path.join(self.dir, "release")
                build_release(self.release_root, pinned("mesh_istio_version"))
            self.release = ReleaseServer(self.release_root).start()
            self.dataplane = DataPlane(self.harness.client, namespace="bookinfo").start()
            self.write_vars()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop everything this demo started; safe to call twice and after a failed start."""
        self.kill_all()
        for server in (self.dataplane, self.release):
            if server is not None:
                server.stop()
        self.dataplane = self.release = None
        if self.harness is not None or lifecycle.read_info(self.dir):
            lifecycle.down(self.dir)
        self.harness = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- variables and environment -----------------------------------------------------------------
    @property
    def cache_dir(self):
        return os.path.join(self.dir, "cache")

    @property
    def vars_file(self):
        return os.path.join(self.dir, "vars.json")

    def variables(self):
        """The extra vars of an offline run: tests.harness.demo_offline.offline_variables (shared with
        make demo-offline), mesh_artifacts_dir in this demo's directory, then this demo's overrides."""
        values = offline_variables(self.cache_dir, self.release.base_url, self.dataplane.url)
        # Results and reports in this demo's directory, not the checkout's playbooks/artifacts: demos that run side by
        # side (make e2e's two processes) or one after the other never read each other's recorded scenarios.
        values["mesh_artifacts_dir"] = os.path.join(self.dir, "artifacts")
        values.update(self.overrides)
        unknown = sorted(set(values) - known_variables())
        if unknown:
            raise ValueError(f"extra vars no role or inventory defines: {', '.join(unknown)}; rename them or drop them")
        return values

    def write_vars(self, **changes):
        self.overrides.update(changes)
        with open(self.vars_file, "w", encoding="utf-8") as handle:
            json.dump(self.variables(), handle, indent=2)

    def environment(self):
        env = dict(self.harness.env)
        if self.path is not None:
            env["PATH"] = self.path
        tmp = os.path.join(self.dir, "ansible-tmp")
        env.update(
            ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCAL_TEMP=tmp,
            ANSIBLE_REMOTE_TMP=tmp,
            ANSIBLE_RETRY_FILES_ENABLED="false",
        )
        return env

    # ---- running playbooks -------------------------------------------------------------------------
    def argv(self, playbook, *args):
        return [os.path.join(fixtures.VENV_BIN, "ansible-playbook"), playbook, "-e", "@" + self.vars_file, *args]

    def spawn(self, playbook, *args):
        """Start a playbook in its own process group (so it and everything it started can be killed at once)."""
        argv = self.argv(playbook, *args)
        process = subprocess.Popen(argv, cwd=REPO, env=self.environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        process.argv, process.started = argv, time.monotonic()
        return process

    def finish(self, process, playbook, timeout):
        """Wait for a spawned playbook; past ``timeout`` seconds kill it with everything it started and raise
        PlaybookHang. Whatever it leaves running is killed too, so a test never leaves a process behind."""
        timeout = timeout * HANG_FACTOR
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_all()
            stdout, stderr = process.communicate()
            run = PlaybookRun.parse(playbook, process.argv, process.returncode, time.monotonic() - process.started, stdout, stderr)
            raise PlaybookHang(f"{playbook} was still running after {timeout}s and was killed.\n{run.explain()}") from None
        finally:
            self.kill_all()
        return PlaybookRun.parse(playbook, process.argv, process.returncode, time.monotonic() - process.started, stdout, stderr)

    def kill_all(self):
        """SIGKILL every process started for this demo but the emulator; returns their pids."""
        info = lifecycle.read_info(self.dir) or {}
        return kill_processes(self.dir, exclude={info.get("pid")})

    def run(self, playbook, *args, timeout=240):
        return self.finish(self.spawn(playbook, *args), playbook, timeout)

    def run_ok(self, playbook, *args, timeout=240):
        """Run a playbook that must succeed; raise with what it said otherwise."""
        result = self.run(playbook, *args, timeout=timeout)
        if result.returncode != 0 or result.report is None:
            raise AssertionError(result.explain())
        return result

    # ---- observing the cluster and the fake CLIs ---------------------------------------------------
    @property
    def client(self):
        return self.harness.client

    def snapshot(self):
        objects = {}
        for obj in self.client.objects():
            meta = obj["metadata"]
            objects[(obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])] = meta.get("resourceVersion")
        state = {}
        for name in ("kubeconfig", os.path.join("minikube", "profiles.json")):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                with open(path, encoding="utf-8") as handle:
                    state[name] = handle.read()
        return Snapshot(objects, state)

    def calls(self):
        return read_calls(self.dir)

    def profiles(self):
        path = os.path.join(self.dir, "minikube", "profiles.json")
        if not os.path.exists(path):
            return {}
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)

    def cache_temp_files(self):
        """Temporary files release_artifact left in the cache (it renames or removes them when it finishes)."""
        found = []
        for top, dirs, files in os.walk(self.cache_dir):
            for name in dirs + files:
                if any(fnmatch.fnmatch(name, pattern) for pattern in CACHE_TEMP_PATTERNS):
                    found.append(os.path.relpath(os.path.join(top, name), self.cache_dir))
        return sorted(found)

    def set_faults(self, faults):
        """Write $MESH_HARNESS_DIR/faults.json for the fake CLIs (see tests/harness/README.md)."""
        with open(os.path.join(self.dir, "faults.json"), "w", encoding="utf-8") as handle:
            json.dump(faults, handle)


def processes_of(directory, exclude=()):
    """Pids of the processes started for the harness in ``directory`` (the offline demo's own lookup, by the
    MESH_HARNESS_DIR=<directory> in their environment)."""
    return harness_processes(directory, exclude)


def kill_processes(directory, exclude=()):
    """SIGKILL every process of the harness in ``directory`` (but ``exclude``), as a power cut or a cancelled CI job
    would. Each is stopped first, until no new one appears, so none can start another while they are killed."""
    stopped = set()
    for _round in range(50):
        fresh = set(processes_of(directory, exclude)) - stopped
        if not fresh:
            break
        for pid in fresh:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        stopped |= fresh
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while [pid for pid in stopped if lifecycle.pid_alive(pid)]:
        if time.monotonic() > deadline:
            raise AssertionError(f"processes survived SIGKILL: {[pid for pid in stopped if lifecycle.pid_alive(pid)]}")
        time.sleep(0.05)
    return sorted(stopped)


def demo_objects(snapshot, baseline):
    """Objects in ``snapshot`` that the fresh cluster ``baseline`` did not have."""
    return sorted(set(snapshot.objects) - set(baseline.objects), key=str)
