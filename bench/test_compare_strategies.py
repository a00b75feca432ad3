"""compare_strategies' comparison: what differs between two clusters is masked, a different task result is not.

    .venv/bin/python -m pytest -q bench/test_compare_strategies.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare_strategies  # noqa: E402


def record(**changes):
    base = {"returncode": 0, "wall_seconds": 1.0, "recap": {"changed": 1, "failures": 0},
            "tasks": ["role : A task | changed=True failed=False skipped=False"], "summary": [], "failures": [],
            "diffs": [], "no_log_leak": False}
    base.update(changes)
    return base


def test_two_clusters_summaries_compare_equal_once_masked():
    left = compare_strategies.masked("Bookinfo: http://127.0.0.1:45363/productpage measured at 2026-12-03T07:41:00Z "
                                     "in /tmp/mesh-strategy-linear-abc/cache", "/tmp/mesh-strategy-linear-abc")
    right = compare_strategies.masked("Bookinfo: http://127.0.0.1:46249/productpage measured at 2026-12-03T07:46:30Z "
                                      "in /tmp/mesh-strategy-mitogen_linear-xyz/cache", "/tmp/mesh-strategy-mitogen_linear-xyz")
    assert left == right == "Bookinfo: http://127.0.0.1:<port>/productpage measured at <time> in <demo dir>/cache"


def test_a_task_that_changed_under_one_strategy_only_is_a_difference():
    other = record(tasks=["role : A task | changed=False failed=False skipped=False"])
    found = compare_strategies.differences({"first run": record()}, {"first run": other})
    assert len(found) == 1 and found[0].startswith("first run: tasks:"), found
    assert "-role : A task | changed=True" in found[0] and "+role : A task | changed=False" in found[0], found


def test_wall_time_is_no_difference_and_a_recap_is():
    assert compare_strategies.differences({"r": record()}, {"r": record(wall_seconds=9.0)}) == []
    found = compare_strategies.differences({"r": record()}, {"r": record(recap={"changed": 0, "failures": 0})})
    assert found == ["r: recap: {'changed': 1, 'failures': 0} != {'changed': 0, 'failures': 0}"]
