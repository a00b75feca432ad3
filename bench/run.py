"""What a run of the demo costs on the offline cluster, and whether the re-run targets are met.

Runs, on one fresh offline cluster (tests/harness; set up as the end-to-end tests do, tests/e2e/_demo.py):
full-demo.yml from empty, the same again (a no-op re-run), ``--tags canary`` on the provisioned demo, full-demo.yml
after a Bookinfo Service, a DestinationRule and an addon Deployment were deleted through the API (drift repair), and
teardown.yml. For each: wall time, tasks, changed, failed, the fake CLIs' invocations (cli-calls.jsonl) and the
Kubernetes API requests the playbook's clients made (the emulator's /_harness/stats, reset before each run).
Prints a table and the targets met or not, and writes everything to bench/results/latest.json.

    .venv/bin/python bench/run.py [--output FILE] [--strategy mitogen_linear]        (or: make bench)

``--strategy`` runs every playbook with that strategy (ANSIBLE_STRATEGY); ``mitogen_linear`` is taken from the
installed Mitogen package. Without it, ansible.cfg's (linear).

Exit status 0 when every run completed, whatever the targets say (they are measurements, not a gate).
"""

import argparse
import collections
import json
import os
import re
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.e2e._demo import FULL_DEMO, TEARDOWN, OfflineDemo  # noqa: E402

RUNS = (
    ("first run", FULL_DEMO, ()),
    ("no-op re-run", FULL_DEMO, ()),
    ("--tags canary", FULL_DEMO, ("--tags", "canary")),
    ("drift repair", FULL_DEMO, ()),
    ("teardown", TEARDOWN, ()),
)
# Deleted through the API before the drift-repair run, which must recreate them and report changed.
DRIFTED = (
    ("v1", "Service", "bookinfo", "details"),
    ("networking.istio.io/v1", "DestinationRule", "bookinfo", "reviews"),
    ("apps/v1", "Deployment", "istio-system", "kiali"),
)
CLIS = ("minikube", "istioctl", "docker")
NOOP_TIME_TARGET = 0.20
TAGS_TIME_TARGET = 0.10
# The emulator's own client: the gateway stand-in reads routes and pods through it while serving traffic.
STAND_IN_AGENT = "harness-client"
# Each module run gets its own Ansible temporary directory; files there (e.g. istioctl's -f overlay) are the
# same input under a different name.
TASK_TMP = re.compile(r"ansible-tmp-[0-9.]+-[0-9]+-[0-9]+")
RUN_TIMEOUT = 900


def normalized(call):
    return (call["cli"],) + tuple(TASK_TMP.sub("<task tmp>", arg) for arg in call["args"])


def repeated_calls(calls, run):
    """Invocations made more than once with the same arguments (the same fact asked for twice), with the tasks
    that made them (from the commands each module reports, or a command task's argv)."""
    counts = collections.Counter(normalized(call) for call in calls)
    sources = collections.defaultdict(list)
    for task in run.tasks:
        for item in task.result.get("results") or [task.result]:
            argvs = item.get("commands") or ([item["cmd"]] if isinstance(item.get("cmd"), list) else [])
            for argv in argvs:
                if argv and os.path.basename(argv[0]) in CLIS:
                    sources[normalized({"cli": os.path.basename(argv[0]), "args": argv[1:]})].append(task.name)
    return [{"call": " ".join(key), "times": n, "tasks": sources.get(key, [])} for key, n in counts.items() if n > 1]


def role_of(task_name):
    return task_name.split(" : ", 1)[0] if " : " in task_name else "(play)"


def waits(run):
    """Tasks that wait for objects to be ready or gone: what they covered, and whether they did it in one wait
    (k8s_info over a label selector) or one object at a time (a loop, or kubernetes.core.k8s over several
    definitions, which applies and waits for each before the next)."""
    found = []
    for task in run.tasks:
        if task.skipped or not task.action.startswith("kubernetes.core."):
            continue
        items = task.result.get("results") or [task.result]
        args = [((item.get("invocation") or {}).get("module_args") or {}) for item in items]
        if not args or not args[0].get("wait"):
            continue
        definitions = [definitions_of(a) for a in args]
        if task.action.endswith("k8s_info") and not args[0].get("name"):
            objects = sum(len(item.get("resources") or []) for item in items)
        else:
            objects = sum(len(d) or 1 for d in definitions)
        kinds = sorted({a.get("kind") for a in args if a.get("kind")} | {d.get("kind") for ds in definitions for d in ds if d.get("kind")})
        found.append({"role": role_of(task.name), "task": task.name.split(" : ")[-1], "kind": ", ".join(kinds) or "?",
                      "objects": objects, "one_at_a_time": len(items) > 1 or len(definitions[0]) > 1, "seconds": round(task.seconds, 2)})
    return found


def definitions_of(args):
    """The objects a kubernetes.core.k8s task was given inline (a list, one object, or none when from src)."""
    value = args.get("resource_definition")
    if isinstance(value, dict):
        return [value]
    return [d for d in value if isinstance(d, dict)] if isinstance(value, list) else []


def sequential_waits(found):
    """Waits that take their objects one at a time, each started only after the one before it has finished."""
    return [w for w in found if w["one_at_a_time"]]


def object_path(demo, key):
    api_version, kind, namespace, name = key
    return demo.client.path_for({"apiVersion": api_version, "kind": kind, "metadata": {"namespace": namespace, "name": name}})


def delete_drifted(demo):
    """Delete the DRIFTED objects by hand, as a user would; return their uids."""
    uids = {}
    for key in DRIFTED:
        path = object_path(demo, key)
        uids[key] = demo.client.get(path)["metadata"]["uid"]
        demo.client.delete(path)
    return uids


def drift_repaired(demo, uids):
    """Each deleted object back (a new uid), or what is still missing."""
    result = {}
    for key, uid in uids.items():
        found = demo.client.get(object_path(demo, key))
        result["/".join(key[1:])] = "missing" if found is None else "recreated" if found["metadata"]["uid"] != uid else "not deleted"
    return result


def measure(demo, label, playbook, args):
    calls_before = len(demo.calls())
    uids = delete_drifted(demo) if label == "drift repair" else None
    demo.client.reset_stats()
    run = demo.run(playbook, *args, timeout=RUN_TIMEOUT)
    calls = demo.calls()[calls_before:]
    stats = demo.client.stats()
    by_role = collections.defaultdict(float)
    for task in run.tasks:
        by_role[role_of(task.name)] += task.seconds
    return {
        "run": label,
        "command": " ".join(["ansible-playbook", playbook, *args]),
        "returncode": run.returncode,
        "wall_seconds": round(run.wall, 2),
        "tasks": len(run.tasks),
        "tasks_run": sum(1 for t in run.tasks if not t.skipped),
        "changed": run.changed,
        "failed": run.failures,
        "changed_tasks": [t.name for t in run.changed_tasks()],
        "failure": run.failure_message()[:1000],
        "cli_calls": {cli: sum(1 for c in calls if c["cli"] == cli) for cli in CLIS},
        "repeated_cli_calls": repeated_calls(calls, run),
        "api_requests": stats["total"] - stats.get("by_agent", {}).get(STAND_IN_AGENT, 0),
        "api_writes": stats["writes"],
        "api_by_agent": stats.get("by_agent", {}),
        "api_by_verb": stats.get("by_verb", {}),
        "seconds_by_role": {role: round(seconds, 2) for role, seconds in sorted(by_role.items(), key=lambda i: -i[1])},
        "slowest_tasks": [{"task": t.name, "seconds": round(t.seconds, 2)} for t in sorted(run.tasks, key=lambda t: -t.seconds)[:10]],
        "waits": waits(run),
        **({"drifted": drift_repaired(demo, uids)} if uids is not None else {}),
    }


def by_label(results, label):
    return next(r for r in results if r["run"] == label)


def targets(results):
    first, noop = by_label(results, "first run"), by_label(results, "no-op re-run")
    tags, drift = by_label(results, "--tags canary"), by_label(results, "drift repair")
    ratio = noop["wall_seconds"] / first["wall_seconds"] if first["wall_seconds"] else None
    tags_ratio = tags["wall_seconds"] / first["wall_seconds"] if first["wall_seconds"] else None
    all_waits = [w for r in results for w in r["waits"]]
    sequential = [w for r in results for w in sequential_waits(r["waits"])]
    return [
        {"target": "the no-op re-run changes nothing", "met": noop["changed"] == 0 and noop["failed"] == 0,
         "detail": f"changed={noop['changed']} failed={noop['failed']}" + (f": {noop['changed_tasks']}" if noop["changed_tasks"] else "")},
        {"target": "the no-op re-run sends no write to the API", "met": noop["api_writes"] == 0,
         "detail": f"{noop['api_writes']} writes ({noop['api_by_verb']})"},
        {"target": "the no-op re-run calls each CLI at most once per fact (no invocation repeated with the same arguments)",
         "met": not noop["repeated_cli_calls"],
         "detail": "; ".join(f"{d['call']} x{d['times']} (by {', '.join(d['tasks']) or 'tasks that do not report their commands'})"
                             for d in noop["repeated_cli_calls"]) or "no repeated invocation"},
        {"target": f"the no-op re-run takes at most {NOOP_TIME_TARGET:.0%} of the first run's wall time",
         "met": ratio is not None and ratio <= NOOP_TIME_TARGET,
         "detail": f"{noop['wall_seconds']}s / {first['wall_seconds']}s = {ratio:.0%}" if ratio is not None else "first run took no time"},
        {"target": f"--tags canary on the provisioned demo takes at most {TAGS_TIME_TARGET:.0%} of the first run's wall time",
         "met": tags_ratio is not None and tags_ratio <= TAGS_TIME_TARGET,
         "detail": f"{tags['wall_seconds']}s / {first['wall_seconds']}s = {tags_ratio:.0%}" if tags_ratio is not None else "first run took no time"},
        {"target": "a plain re-run after objects were deleted by hand recreates them and reports changed",
         "met": drift["returncode"] == 0 and drift["changed"] > 0 and set(drift["drifted"].values()) == {"recreated"},
         "detail": f"changed={drift['changed']}, " + ", ".join(f"{k} {v}" for k, v in drift["drifted"].items())},
        {"target": "waits that can run in parallel do (one wait per role over all its objects, none looped)",
         "met": not sequential,
         "detail": ("one at a time: " if sequential else "") + "; ".join(
             f"{w['role']}: {w['task']} ({w['kind']}, {w['objects']} objects, {w['seconds']}s)" for w in (sequential or all_waits))},
    ]


def table(results):
    columns = ["run", "wall s", "tasks", "ran", "changed", "failed", "minikube", "istioctl", "docker", "API req", "API writes"]
    rows = [[r["run"], f"{r['wall_seconds']:.1f}", r["tasks"], r["tasks_run"], r["changed"], r["failed"],
             r["cli_calls"]["minikube"], r["cli_calls"]["istioctl"], r["cli_calls"]["docker"], r["api_requests"], r["api_writes"]]
            for r in results]
    widths = [max(len(str(x)) for x in column) for column in zip(columns, *rows)]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(row) for row in rows])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--output", default=os.path.join(REPO, "bench", "results", "latest.json"))
    parser.add_argument("--strategy", help="the strategy of every run (linear, mitogen_linear); default: ansible.cfg's")
    args = parser.parse_args(argv)
    if args.strategy:
        os.environ["ANSIBLE_STRATEGY"] = args.strategy
        if args.strategy.startswith("mitogen"):
            import ansible_mitogen.plugins.strategy  # pylint: disable=import-outside-toplevel

            os.environ["ANSIBLE_STRATEGY_PLUGINS"] = os.path.dirname(ansible_mitogen.plugins.strategy.__file__)
    results = []
    with tempfile.TemporaryDirectory(prefix="mesh-bench-") as directory, OfflineDemo(directory) as demo:
        for label, playbook, extra in RUNS:
            print(f"bench: {label}: ansible-playbook {playbook} {' '.join(extra)}".rstrip(), file=sys.stderr, flush=True)
            results.append(measure(demo, label, playbook, extra))
    met = targets(results)
    print(table(results))
    print()
    for target in met:
        print(f"[{'met' if target['met'] else 'NOT met'}] {target['target']}: {target['detail']}")
    for result in results:
        if result["returncode"] != 0:
            print(f"\n{result['run']} failed (exit {result['returncode']}): {result['failure']}")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump({"strategy": os.environ.get("ANSIBLE_STRATEGY", "linear"), "runs": results, "targets": met}, handle, indent=2)
    print(f"\nbench: details in {args.output}")
    return 0 if all(r["returncode"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
