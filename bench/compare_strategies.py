"""Run the demo with Ansible's ``linear`` strategy and with Mitogen's ``mitogen_linear``, and diff what they report.

For each strategy, on its own fresh offline cluster (tests/harness, set up as bench/run.py does): full-demo.yml
from empty, a no-op re-run, ``--check --diff`` on the provisioned demo, and teardown.yml; then
bench/strategy_probe.yml with the default (text) callback: a change, a check-mode diff, a ``no_log`` task and two
failing tasks. It compares, run by run: every task's (name, changed, failed, skipped), the recap, the demo's
summary and teardown's report, failed tasks' messages, the diffs check mode reports (the cluster's directory,
local ports, times and other numbers masked: they differ between two clusters; each cluster writes its own
artifacts), and the probe's text output (timestamps masked); and it checks that the probe's ``no_log`` value
appears in neither output. Prints the wall times side by side and every difference; writes everything to
bench/results/strategies.json.

    .venv/bin/python bench/compare_strategies.py [--output FILE]

Exit status 0 when both strategies gave identical results, 1 otherwise.
"""

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.e2e._demo import FULL_DEMO, SUMMARY_TASK, TEARDOWN, TEARDOWN_REPORT_TASK, OfflineDemo  # noqa: E402

STRATEGIES = ("linear", "mitogen_linear")
RUNS = (
    ("first run", FULL_DEMO, ()),
    ("no-op re-run", FULL_DEMO, ()),
    ("--check --diff", FULL_DEMO, ("--check", "--diff")),
    ("teardown", TEARDOWN, ()),
)
PROBE = os.path.join(REPO, "bench", "strategy_probe.yml")
PROBE_SECRET = "probe-secret-7f3a"
RUN_TIMEOUT = 900
NUMBERS = re.compile(r"[0-9]+")
# Fields of a command result that differ between any two runs.
TIMES = re.compile(r"^(\s*(?:delta|end|start): ).*$", re.MULTILINE)
# What differs between two clusters in the demo's summary: the gateway stand-in's port, when a scenario was measured.
LOCAL_PORT = re.compile(r"127\.0\.0\.1:[0-9]+")
MEASURED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z")


def strategy_plugins():
    """The strategy directory of the installed Mitogen package (not vendored)."""
    import ansible_mitogen.plugins.strategy  # pylint: disable=import-outside-toplevel

    return os.path.dirname(ansible_mitogen.plugins.strategy.__file__)


def strategy_env(strategy):
    return {"ANSIBLE_STRATEGY": strategy, "ANSIBLE_STRATEGY_PLUGINS": strategy_plugins()}


def task_rows(run):
    return [f"{t.name} | changed={t.changed} failed={t.failed} skipped={t.skipped}" for t in run.tasks]


def masked(text, directory):
    return MEASURED_AT.sub("<time>", LOCAL_PORT.sub("127.0.0.1:<port>", str(text).replace(directory, "<demo dir>")))


def check_diffs(run, directory):
    rows = []
    for task in run.tasks:
        for item in task.result.get("results") or [task.result]:
            if item.get("diff"):
                rows.append(f"{task.name}: " + NUMBERS.sub("0", masked(json.dumps(item["diff"], sort_keys=True), directory)))
    return rows


def record(run, directory):
    return {
        "returncode": run.returncode,
        "wall_seconds": round(run.wall, 2),
        "recap": dict(sorted(run.stats.items())),
        "tasks": task_rows(run),
        "summary": [masked(line, directory) for line in run.lines(SUMMARY_TASK) + run.lines(TEARDOWN_REPORT_TASK)],
        "failures": [masked(f"{t.name}: {t.msg}", directory) for t in run.failed_tasks()],
        "diffs": check_diffs(run, directory),
        "no_log_leak": PROBE_SECRET in run.stdout + run.stderr,
    }


def demo_runs(strategy):
    saved = {k: os.environ.get(k) for k in ("ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS")}
    os.environ.update(strategy_env(strategy))
    try:
        with tempfile.TemporaryDirectory(prefix=f"mesh-strategy-{strategy}-") as directory, \
                OfflineDemo(directory, mesh_artifacts_dir=os.path.join(directory, "artifacts")) as demo:
            results = {}
            for label, playbook, extra in RUNS:
                print(f"compare: {strategy}: {label}", file=sys.stderr, flush=True)
                results[label] = record(demo.run(playbook, *extra, timeout=RUN_TIMEOUT), directory)
            return results
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def probe_run(strategy):
    with tempfile.TemporaryDirectory(prefix="mesh-strategy-probe-") as directory:
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   PROBE_DIR=directory, **strategy_env(strategy))
        argv = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), PROBE]
        started = time.monotonic()
        done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
        output = (done.stdout + done.stderr).replace(directory, "<probe dir>")
        return {
            "returncode": done.returncode,
            "wall_seconds": round(time.monotonic() - started, 2),
            "output": TIMES.sub(r"\1<time>", output).splitlines(),
            "no_log_leak": PROBE_SECRET in done.stdout + done.stderr,
        }


def differences(left, right, path=""):
    """Human-readable differences between two records (wall times left out)."""
    found = []
    for key in left:
        if key == "wall_seconds":
            continue
        a, b = left[key], right.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and key not in ("recap",):
            found += differences(a, b, f"{path}{key}: ")
        elif a != b:
            if isinstance(a, list) and isinstance(b, list):
                lines = list(difflib.unified_diff([str(x) for x in a], [str(x) for x in b], STRATEGIES[0], STRATEGIES[1], lineterm="", n=0))
                found.append(f"{path}{key}:\n  " + "\n  ".join(lines))
            else:
                found.append(f"{path}{key}: {a!r} != {b!r}")
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--output", default=os.path.join(REPO, "bench", "results", "strategies.json"))
    args = parser.parse_args(argv)
    results = {}
    for strategy in STRATEGIES:
        results[strategy] = {"probe": probe_run(strategy), **demo_runs(strategy)}
    left, right = (results[s] for s in STRATEGIES)
    found = differences(left, right)
    leaks = [f"{s}: {label}" for s in STRATEGIES for label, r in results[s].items() if r["no_log_leak"]]
    print(f"{'run':<16}" + "".join(f"{s + ' s':>18}" for s in STRATEGIES) + f"{'ratio':>8}")
    for label in left:
        a, b = left[label]["wall_seconds"], right[label]["wall_seconds"]
        print(f"{label:<16}{a:>18.1f}{b:>18.1f}{(b / a if a else 0):>8.2f}")
    print()
    print("no_log value in the output: " + (", ".join(leaks) if leaks else "never"))
    print("differences: " + ("none" if not found else str(len(found))))
    for item in found:
        print(item)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump({"results": results, "differences": found, "no_log_leaks": leaks}, handle, indent=2)
    print(f"\ncompare: details in {args.output}")
    return 0 if not found and not leaks else 1


if __name__ == "__main__":
    sys.exit(main())
