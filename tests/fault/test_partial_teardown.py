"""teardown.yml after a partial install removes what exists, reports the rest as already absent, and leaves the
cluster as it was before the demo."""

import pytest

from tests.e2e._demo import FULL_DEMO, PROFILE, TEARDOWN, TEARDOWN_REPORT_TASK, demo_objects

ALL_PARTS = ["namespace bookinfo", "Istio control plane", "namespace istio-system", f"minikube profile {PROFILE}"]


def report(run, prefix):
    for line in run.lines(TEARDOWN_REPORT_TASK):
        if line.startswith(prefix):
            items = line[len(prefix):]
            return [] if items == "nothing" else sorted(items.split(", "))
    raise AssertionError(f"teardown printed no '{prefix}' line: {run.lines(TEARDOWN_REPORT_TASK)}")


@pytest.mark.parametrize(
    ("tags", "installed"),
    [
        ("minikube", [f"minikube profile {PROFILE}"]),
        ("minikube,istio", ["Istio control plane", "namespace istio-system", f"minikube profile {PROFILE}"]),
    ],
)
def test_teardown_after_a_partial_install(demo, tags, installed):
    baseline = demo.snapshot()
    demo.run_ok(FULL_DEMO, "--tags", tags)
    assert demo_objects(demo.snapshot(), baseline), f"--tags {tags} installed nothing, so this case proves nothing"
    run = demo.run(TEARDOWN)
    assert run.returncode == 0 and run.failures == 0, run.explain()
    assert report(run, "Removed: ") == sorted(installed)
    # Parts of the optional components (addons, ELK) are reported too; the core ones must all be accounted for.
    assert set(ALL_PARTS) - set(installed) <= set(report(run, "Already absent: ")), run.lines(TEARDOWN_REPORT_TASK)
    after = demo.snapshot()
    assert demo_objects(after, baseline) == [], "teardown left objects the partial install made"
    assert demo.profiles() == {}
