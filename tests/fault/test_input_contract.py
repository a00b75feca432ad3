"""The input contract (issue 11): a run that will fail on a bad setting fails before it changes anything, names the
variable the user typed and says what to type instead.

Each run starts from an empty offline cluster (no minikube profile, no object) with the default scenarios, and
passes the bad setting on the command line as a user would. Failing "before anything changes" is checked on the
emulator (no object created), on the fake minikube (no profile) and on the fake CLIs' call log (minikube never
started), and the failing task must be the settings check at the start of the play.
"""

import json
import os
import socket
import subprocess
import threading
import time

import pytest

from tests.e2e._demo import FULL_DEMO, REPO, OfflineDemo
from tests.harness import fixtures
from tests.fault.conftest import PROVISIONING_ONLY, harness_bin_without, make_demo

SETTINGS_TASK = "Check every setting of this run before anything changes."


@pytest.fixture
def empty_demo(tmp_path):
    started = make_demo(tmp_path / "demo", mesh_scenarios=["all_v1", "canary", "ab_test", "scenario_reset"])
    try:
        yield started
    finally:
        started.stop()


def run_bad(demo, *args):
    before = demo.snapshot()
    started = time.monotonic()
    run = demo.run(FULL_DEMO, *args, timeout=120)
    elapsed = time.monotonic() - started
    assert run.returncode != 0, run.explain()
    assert run.changed == 0, run.explain()
    assert before.diff(demo.snapshot()) == [], "the failing run changed the cluster or the CLIs' state"
    assert demo.profiles() == {}, "the failing run started a minikube profile"
    # The settings check runs before preflight, so not even a read-only CLI call was made.
    assert demo.calls() == [], demo.calls()
    return run, elapsed


def failed_task(run):
    failed = [task.name for task in run.failed_tasks()]
    assert failed == [SETTINGS_TASK], run.explain()
    return run.failure_message()


def task_number(run):
    """The failing task's place in the run (1 is the play's first task), for the report table."""
    return [i for i, task in enumerate(run.tasks, 1) if task.failed][-1]


def problems(message):
    """The listed problems of the settings check's one message."""
    return [line[2:] for line in message.splitlines() if line.startswith("- ")]


def test_canary_weights_fail_before_anything_changes(empty_demo):
    run, elapsed = run_bad(empty_demo, "-e", json.dumps({"routing_canary_weights": {"v1": 60, "v3": 50}}))
    message = failed_task(run)
    assert problems(message) == ["routing_canary_weights sum to 110 (60 + 50): the weights must sum to 100"]
    print(f"\ncanary weights: task {task_number(run)}, {elapsed:.1f}s: {message}")
    assert elapsed < 60, f"the bad setting took {elapsed:.0f}s to fail"


ALL_ROLES = ["preflight", "minikube", "istio", "bookinfo", "telemetry", "elk"]
ALL_SCENARIOS = {"all_v1": "routing", "canary": "routing", "ab_test": "routing", "mirror": "routing",
                 "fault_injection": "routing", "circuit_breaking": "resilience", "rate_limit": "resilience",
                 "access_control": "policy", "scenario_reset": "routing"}


def check_settings(tmp_path, *args):
    """Run only the settings check (every role, every scenario) with the inventory's values and ``args``."""
    playbook = tmp_path / "settings.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Check.", "istiolab.mesh.mesh_settings": {
            "roles": ALL_ROLES, "scenarios": ALL_SCENARIOS, "known_tags": ALL_ROLES + list(ALL_SCENARIOS)}}],
    }]))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_NOCOLOR="1")
    done = subprocess.run([os.path.join(fixtures.VENV_BIN, "ansible-playbook"), str(playbook), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    report = json.loads(done.stdout)
    result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return done, result


def test_the_inventory_defaults_pass_every_check(tmp_path):
    done, result = check_settings(tmp_path)
    assert done.returncode == 0 and result["problems"] == [], result.get("msg")
    assert result["unknown_variables"] == []


@pytest.mark.parametrize("setting, expected", [
    ("mesh_istio_version=banana", 'mesh_istio_version is "banana": this collection supports the Istio 1.31 line; '
                                  "give an exact release of it, for example mesh_istio_version=1.31.1."),
    ("mesh_istio_version=1.30.2", 'mesh_istio_version is "1.30.2": this collection supports the Istio 1.31 line; '
                                  "give an exact release of it, for example mesh_istio_version=1.31.1."),
    ("mesh_minikube_version=1.39", 'mesh_minikube_version is "1.39": give a minikube release tag, '
                                   "for example mesh_minikube_version=v1.39.0."),
    ("mesh_cluster_provider=kind", 'mesh_cluster_provider is "kind": choose one of minikube, existing, '
                                   'for example mesh_cluster_provider="minikube".'),
    ("mesh_minikube_memory=16g", 'mesh_minikube_memory is "16g": give a whole number of MB or auto, '
                                 "for example mesh_minikube_memory=16384 (16g is 16384 MB)."),
    ("minikube_cpus=four", 'minikube_cpus is "four": give a whole number, for example minikube_cpus=4.'),
])
def test_a_bad_setting_is_named_as_the_user_typed_it(empty_demo, setting, expected):
    run, elapsed = run_bad(empty_demo, "-e", setting)
    message = failed_task(run)
    assert problems(message) == [expected]
    assert "argument_spec" not in message and "preflight_" not in message, message
    print(f"\n{setting}: task {task_number(run)}, {elapsed:.1f}s: {message}")


def test_scenarios_as_a_comma_separated_string(empty_demo):
    # Both scenarios of the string are checked: each one's bad setting is reported.
    run, elapsed = run_bad(empty_demo, "-e", "mesh_scenarios=canary,mirror", "-e",
                           json.dumps({"routing_canary_weights": {"v1": 60, "v3": 50}, "routing_mirror_percentage": 150}))
    print(f"\nmesh_scenarios=canary,mirror: task {task_number(run)}, {elapsed:.1f}s: {problems(failed_task(run))}")
    assert problems(failed_task(run)) == [
        "routing_canary_weights sum to 110 (60 + 50): the weights must sum to 100",
        "routing_mirror_percentage is 150: it must be a number from 0 to 100",
    ]


@pytest.mark.parametrize("given", ["canary", "canary,mirror"])
def test_scenarios_string_is_accepted(tmp_path, given):
    done, result = check_settings(tmp_path, "-e", "mesh_scenarios=" + given)
    assert done.returncode == 0 and result["problems"] == [], result.get("msg")


def test_the_report_screenshots_setting_is_checked(tmp_path):
    done, result = check_settings(tmp_path, "-e", "mesh_report_screenshots=maybe")
    assert done.returncode != 0
    assert result["problems"] == ['mesh_report_screenshots is "maybe": give true or false, for example mesh_report_screenshots=false.']
    done, result = check_settings(tmp_path, "-e", "mesh_report_screenshots=true")
    assert done.returncode == 0 and result["problems"] == [], result.get("msg")


def test_a_tag_that_names_nothing_fails_with_the_nearest_tag(empty_demo):
    run, elapsed = run_bad(empty_demo, "--tags", "canry")
    found = problems(failed_task(run))
    print(f"\n--tags canry: task {task_number(run)}, {elapsed:.1f}s: {found}")
    assert len(found) == 1 and found[0].startswith("--tags canry names nothing this play runs (did you mean canary?); its tags are "), found


def test_an_unknown_variable_is_warned_about_with_the_nearest_name(tmp_path):
    done, result = check_settings(tmp_path, "-e", "canary_wieghts=60", "-e", "routing_canary_wieghts=60")
    assert done.returncode == 0, result.get("msg")
    assert result["warnings"] == [
        "canary_wieghts is not a setting of this collection, so it changes nothing; did you mean routing_canary_weights?",
        "routing_canary_wieghts is not a setting of this collection, so it changes nothing; "
        "did you mean routing_canary_weights?",
    ]


class SilentServer:
    """A TCP server that accepts every connection and never sends a byte (a hung API server)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                connection = self.sock.accept()[0]
            except OSError:
                return
            self.held.append(connection)

    def close(self):
        for connection in self.held:
            connection.close()
        self.sock.close()


def write_kubeconfig(path, context, server):
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
    }))
    return str(path)


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_hung_api_server_fails_in_seconds(tmp_path):
    server = SilentServer()
    url = f"https://127.0.0.1:{server.port}"
    kubeconfig = write_kubeconfig(tmp_path / "hung.kubeconfig", "hung-cluster", url)
    try:
        demo = make_demo(tmp_path / "demo", mesh_cluster_provider="existing", mesh_kubeconfig=kubeconfig,
                         mesh_kube_context="", preflight_probe_timeout=5)
        try:
            before = demo.snapshot()
            started = time.monotonic()
            run = demo.run(FULL_DEMO, timeout=120)
            elapsed = time.monotonic() - started
            assert run.returncode != 0 and run.changed == 0, run.explain()
            assert before.diff(demo.snapshot()) == []
            message = run.failure_message()
            assert f"The cluster of context hung-cluster does not answer: the API server at {url} does not answer" in message
            assert server.held, "the probe never connected to the silent server"
            print(f"\nhung API server: task {task_number(run)}, {elapsed:.1f}s: {message}")
            assert elapsed < 60, f"took {elapsed:.0f}s"
        finally:
            demo.stop()
    finally:
        server.close()


def test_a_dead_cluster_is_named_by_its_context(tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "dead.kubeconfig", "dead-cluster", f"https://127.0.0.1:{closed_port()}")
    demo = make_demo(tmp_path / "demo", mesh_cluster_provider="existing", mesh_kubeconfig=kubeconfig, mesh_kube_context="")
    try:
        run = demo.run(FULL_DEMO, timeout=120)
        assert run.returncode != 0 and run.changed == 0, run.explain()
        message = run.failure_message()
        print(f"\ndead cluster: task {task_number(run)}, {run.wall:.1f}s: {message}")
        assert "The cluster of context dead-cluster does not answer" in message, message
        assert "current-context" not in message, message
    finally:
        demo.stop()


def test_no_docker_cli_gets_the_install_advice(tmp_path):
    # The fake minikube and istioctl, the venv, and /usr/bin:/bin only: this machine's real docker is in /usr/local/bin.
    path = harness_bin_without(tmp_path / "bin", "docker").replace(os.pathsep + "/usr/local/bin", "")
    assert not any(os.path.exists(os.path.join(d, "docker")) for d in path.split(os.pathsep)), path
    with OfflineDemo(tmp_path / "demo", path=path, **PROVISIONING_ONLY) as demo:
        before = demo.snapshot()
        run = demo.run(FULL_DEMO, timeout=120)
        assert run.returncode != 0 and run.changed == 0, run.explain()
        assert before.diff(demo.snapshot()) == []
        message = run.failure_message()
        print(f"\nno docker CLI: task {task_number(run)}, {run.wall:.1f}s: {message}")
        assert "the docker CLI is not installed" in message and "Install Docker Engine" in message, message
        assert "Error executing command" not in message, message


def test_a_hung_docker_engine_fails_in_seconds(tmp_path):
    # A docker that never answers (a stuck engine): only the fake minikube and istioctl, the venv and the system.
    path = harness_bin_without(tmp_path / "bin", "docker").replace(os.pathsep + "/usr/local/bin", "")
    hung = tmp_path / "bin" / "docker"
    hung.write_text("#!/bin/sh\nexec sleep 300\n")
    hung.chmod(0o755)
    with OfflineDemo(tmp_path / "demo", path=path, preflight_probe_timeout=3, **PROVISIONING_ONLY) as demo:
        before = demo.snapshot()
        started = time.monotonic()
        run = demo.run(FULL_DEMO, timeout=120)
        elapsed = time.monotonic() - started
        assert run.returncode != 0 and run.changed == 0, run.explain()
        assert before.diff(demo.snapshot()) == []
        message = run.failure_message()
        assert "docker info did not answer within 3 seconds (preflight_probe_timeout)" in message, message
        assert "Start the Docker engine" in message, message
        print(f"\nhung docker: task {task_number(run)}, {elapsed:.1f}s: {message}")
        assert elapsed < 60, f"took {elapsed:.0f}s"


def test_a_kubernetes_version_outside_istios_range_fails_before_minikube_starts(empty_demo):
    before = empty_demo.snapshot()
    run = empty_demo.run(FULL_DEMO, "-e", "mesh_kubernetes_version=v1.20.0", timeout=120)
    assert run.returncode != 0 and run.changed == 0, run.explain()
    assert before.diff(empty_demo.snapshot()) == [] and empty_demo.profiles() == {}
    assert not [c for c in empty_demo.calls() if c["cli"] == "minikube"], empty_demo.calls()
    message = run.failure_message()
    print(f"\nmesh_kubernetes_version=v1.20.0: task {task_number(run)}, {run.wall:.1f}s: {message}")
    assert "mesh_kubernetes_version=v1.20.0 is outside the range Istio supports (1.32 to 1.35)" in message, message
    assert "for example mesh_kubernetes_version=v1.35.0" in message, message
