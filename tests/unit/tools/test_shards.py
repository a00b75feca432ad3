"""``--shard=K/N`` (tests/conftest.py), which `make unit` and `make e2e` use to run a suite in N processes: every test
runs in exactly one part, tests that share a module-scoped demo stay in one part, the rest are spread."""

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


def collected(*args):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_every_e2e_test_runs_in_exactly_one_of_two_parts():
    everything = collected("tests/e2e")
    parts = [collected("--shard", f"{index}/2", "tests/e2e") for index in (1, 2)]
    assert sorted(parts[0] + parts[1]) == sorted(everything)
    assert not set(parts[0]) & set(parts[1])
    # Both parts do a share of the work.
    assert min(len(part) for part in parts) >= len(everything) // 4, [len(part) for part in parts]


def test_a_module_scoped_demo_is_set_up_in_one_part_only():
    parts = [collected("--shard", f"{index}/2", "tests/e2e") for index in (1, 2)]
    # test_full_demo.py's tests all read one module-scoped demo (its `life` fixture).
    holders = [index for index, part in enumerate(parts) if any(t.startswith("tests/e2e/test_full_demo.py::") for t in part)]
    assert len(holders) == 1, parts


def test_the_demo_on_each_host_is_spread_over_the_parts():
    parts = [collected("--shard", f"{index}/2", "tests/e2e/test_hosts.py") for index in (1, 2)]
    for part in parts:
        assert [t for t in part if "test_default_demo_on_each_host[" in t], parts


@pytest.mark.parametrize("shard", ["0/2", "3/2", "x", "1/0"])
def test_a_wrong_shard_is_refused(shard):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only",
                           "--shard", shard, "tests/e2e/test_smoke.py"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 4 and "--shard=" in done.stderr, done.stdout + done.stderr
