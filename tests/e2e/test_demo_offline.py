"""``make demo-offline`` (tests/harness/demo_offline.py): it prints the demo's summary, passes ARGS to
ansible-playbook, and leaves no process behind, whether the playbook succeeds, fails or is interrupted."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time

from tests.e2e._demo import known_variables
from tests.harness import demo_offline
from tests.harness.apiserver import lifecycle

REPO = lifecycle.REPO


def spawn(state_dir, *args, make=False):
    if make:
        # -o: the checkout's venv is ready; do not let make rebuild it. ARGS go through as for make demo.
        argv = ["make", "--no-print-directory", "-o", ".venv/.runtime-installed", "-o", ".venv/.test-installed",
                "demo-offline", "ARGS=" + " ".join(["--state-dir", str(state_dir), *args])]
    else:
        argv = [sys.executable, "-m", "tests.harness.demo_offline", "--state-dir", str(state_dir), *args]
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def emulator_pid(output):
    match = re.search(r"^demo-offline: API emulator \S+ \(pid (\d+)\)", output, re.M)
    assert match, output
    return int(match[1])


def assert_nothing_left(state_dir, output):
    pid = emulator_pid(output)
    assert not lifecycle.pid_alive(pid), f"the emulator (pid {pid}) still runs\n{output}"
    assert demo_offline.harness_processes(str(state_dir)) == [], output
    assert lifecycle.read_info(str(state_dir)) is None, output
    assert "demo-offline: stopped the offline cluster, the fake release server and the gateway stand-in" in output


def test_the_demo_prints_its_summary_and_leaves_no_process_behind(tmp_path):
    # With the report's screenshots on: headless Chromium opens the gateway stand-in's productpage, signed out and
    # signed in as jason, as on a real run.
    process = spawn(tmp_path / "state", "-e", "mesh_report_screenshots=true", make=True)
    output = process.communicate(timeout=600)[0]
    assert process.returncode == 0, output
    shots = re.search(r"Screenshots: (.*)", output)
    assert shots and shots[1].startswith("productpage productpage.png; productpage-jason productpage-jason.png;"), output
    # The playbook's summary (playbooks/full-demo.yml, last task), as the default callback prints it.
    summary = output[output.index("TASK [Print where the demo runs, what it runs and what was verified.]"):]
    for line in ["Cluster: minikube", "Versions: Istio " + demo_offline.pinned_istio_version(),
                 "Bookinfo: http://127.0.0.1:", "Verified "]:
        assert line in summary, summary
    assert "FAILED" not in summary.split("PLAY RECAP", maxsplit=1)[0], summary
    assert re.search(r"localhost\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", summary), summary
    assert "playbooks/full-demo.yml finished after" in output and "this was a simulation" in output
    assert_nothing_left(tmp_path / "state", output)


def test_args_pass_through_and_a_failing_playbook_still_stops_everything(tmp_path):
    process = spawn(tmp_path / "state", "--no-such-ansible-option")
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 2, output
    assert "unrecognized arguments: --no-such-ansible-option" in output
    assert "FAILED (ansible-playbook exited 2)" in output
    assert_nothing_left(tmp_path / "state", output)


def test_ctrl_c_stops_the_playbook_and_everything_started(tmp_path):
    process = spawn(tmp_path / "state")
    output, deadline = "", time.monotonic() + 300
    # Interrupt once the playbook is at work (its first task has started).
    while "TASK [" not in output:
        assert time.monotonic() < deadline and process.poll() is None, output
        ready = select.select([process.stdout], [], [], 1)[0]
        if ready:
            output += process.stdout.readline()
    os.kill(process.pid, signal.SIGINT)
    rest = process.communicate(timeout=120)[0]
    output += rest
    assert process.returncode == 130, output
    assert "demo-offline: interrupted (Ctrl-C); stopping what was started" in output
    assert_nothing_left(tmp_path / "state", output)


def test_sigterm_stops_everything_too(tmp_path):
    process = spawn(tmp_path / "state")
    output, deadline = "", time.monotonic() + 300
    while "demo-offline: running " not in output:
        assert time.monotonic() < deadline and process.poll() is None, output
        ready = select.select([process.stdout], [], [], 1)[0]
        if ready:
            output += process.stdout.readline()
    process.terminate()
    rest = process.communicate(timeout=120)[0]
    output += rest
    assert process.returncode == 128 + signal.SIGTERM, output
    assert "demo-offline: SIGTERM; stopping what was started" in output
    assert_nothing_left(tmp_path / "state", output)


def test_the_offline_settings_are_variables_the_roles_know():
    """demo-offline and OfflineDemo share tests.harness.demo_offline.offline_variables: a renamed or dropped role
    variable there would silently stop applying offline."""
    names = set(demo_offline.offline_variables("/cache", "http://release", "http://gateway"))
    assert len(names) == 14
    assert names <= known_variables(), sorted(names - known_variables())
