"""playbooks/full-demo.yml and playbooks/teardown.yml end to end on the offline cluster (provider minikube, fake CLIs).

One environment for the module, taken through the demo's life in order: a first run from empty, a second run,
a check-mode run, a run after objects were deleted by hand (drift), teardown, and a second teardown. Each stage runs once, on first use, after the stages before
it, so any single test can also be run alone.
"""

import functools
import os

import pytest

from tests.e2e._demo import FULL_DEMO, PROFILE, SUMMARY_TASK, TEARDOWN, TEARDOWN_REPORT_TASK, OfflineDemo, demo_objects

DEMO_NAMESPACES = ("bookinfo", "istio-system")
# Deleted by hand through the API before the drift stage: a Bookinfo Service, a DestinationRule, an addon Deployment.
DRIFTED = (
    ("v1", "Service", "bookinfo", "details"),
    ("networking.istio.io/v1", "DestinationRule", "bookinfo", "reviews"),
    ("apps/v1", "Deployment", "istio-system", "kiali"),
)


class Life:
    """The demo's stages on one offline cluster, each run once; ``before``/``after`` are emulator snapshots."""

    def __init__(self, demo):
        self.demo = demo
        self.baseline = demo.snapshot()

    def _stage(self, *args):
        before = self.demo.snapshot()
        self.demo.client.reset_stats()
        run = self.demo.run(*args)
        run.api_writes = self.demo.client.stats()["writes"]
        return run, before, self.demo.snapshot()

    @functools.cached_property
    def first(self):
        return self._stage(FULL_DEMO)

    @functools.cached_property
    def second(self):
        self.first  # noqa: B018 - the stage before must have run
        return self._stage(FULL_DEMO)

    @functools.cached_property
    def check(self):
        self.second  # noqa: B018
        return self._stage(FULL_DEMO, "--check")

    @functools.cached_property
    def drift(self):
        self.check  # noqa: B018
        deleted = {}
        for api_version, kind, namespace, name in DRIFTED:
            path = self.demo.client.path_for({"apiVersion": api_version, "kind": kind, "metadata": {"namespace": namespace, "name": name}})
            deleted[path] = self.demo.client.get(path)
            self.demo.client.delete(path)
            assert self.demo.client.get(path) is None, f"{kind} {namespace}/{name} is still there after its deletion"
        # Check mode first: it must see the drift (changed) and write nothing.
        self.drift_check = self._stage(FULL_DEMO, "--check")
        return self._stage(FULL_DEMO) + (deleted,)

    @functools.cached_property
    def teardown(self):
        self.drift  # noqa: B018
        return self._stage(TEARDOWN)

    @functools.cached_property
    def teardown_again(self):
        self.teardown  # noqa: B018
        return self._stage(TEARDOWN)


@pytest.fixture(scope="module")
def life(tmp_path_factory):
    with OfflineDemo(tmp_path_factory.mktemp("e2e")) as demo:
        yield Life(demo)


def report_lines(run, prefix):
    """The items of one line of teardown's report, e.g. prefix "Removed: " -> ["namespace bookinfo", ...]."""
    for line in run.lines(TEARDOWN_REPORT_TASK):
        if line.startswith(prefix):
            items = line[len(prefix):]
            return [] if items == "nothing" else items.split(", ")
    raise AssertionError(f"teardown printed no '{prefix}' line: {run.lines(TEARDOWN_REPORT_TASK)}")


def test_full_demo_completes_and_verifies_productpage(life):
    run, after = life.first[0], life.first[2]
    assert run.returncode == 0 and run.failures == 0, run.explain()
    summary = run.lines(SUMMARY_TASK)
    assert any(line.startswith("Verified productpage through the gateway: passed") for line in summary), summary
    assert not any("FAILED" in line for line in summary), summary
    # Istio came through release_artifact's download and checksum path, not from a cache or PATH.
    download = run.task("Download the Istio release and check its published SHA-256.")
    assert download is not None and download.changed and download.result["cached"] is False, run.explain()
    assert os.path.isfile(download.result["istioctl"])
    assert life.demo.profiles()[PROFILE]["state"] == "Running"
    for namespace in DEMO_NAMESPACES:
        assert ("v1", "Namespace", "", namespace) in after.objects
    pods = life.demo.client.list("/api/v1/namespaces/bookinfo/pods")
    assert len(pods) == 6, [p["metadata"]["name"] for p in pods]
    sidecars = [p["metadata"]["name"] for p in pods
                if "istio-proxy" in [c["name"] for c in p["spec"].get("initContainers", []) + p["spec"]["containers"]]]
    assert len(sidecars) == len(pods), f"pods without the istio-proxy sidecar: {sorted({p['metadata']['name'] for p in pods} - set(sidecars))}"


def test_second_run_changes_nothing(life):
    run, before, after = life.second
    assert run.returncode == 0 and run.failures == 0, run.explain()
    assert run.changed == 0, run.explain()
    # Not even an unchanged object is sent again: the provisioning roles skip their applies when nothing drifted.
    assert run.api_writes == 0, f"the no-op re-run sent {run.api_writes} writes to the API"
    assert before.diff(after) == [], "a run that reported changed=0 wrote to the cluster:\n" + "\n".join(before.diff(after))


def test_check_mode_after_convergence_changes_nothing(life):
    run, before, after = life.check
    assert run.returncode == 0 and run.failures == 0, run.explain()
    assert run.changed == 0, run.explain()
    assert before.diff(after) == [], "--check wrote to the cluster:\n" + "\n".join(before.diff(after))


def test_a_plain_rerun_recreates_objects_deleted_by_hand(life):
    run, _before, after, deleted = life.drift
    assert run.returncode == 0 and run.failures == 0, run.explain()
    assert run.changed > 0, run.explain()
    changed = [t.name for t in run.changed_tasks()]
    for task in ("Apply the Bookinfo services, service accounts and deployments from the release.",
                 "Apply the DestinationRules with the version subsets.", "Apply the addons."):
        assert any(name.endswith(task) for name in changed), changed
    for key in DRIFTED:
        assert key in after.objects, f"{key[1]} {key[2]}/{key[3]} was not recreated; changed tasks: {changed}"
    for path, was in deleted.items():
        assert life.demo.client.get(path)["metadata"]["uid"] != was["metadata"]["uid"], path
    # The roles that drifted applied (and recorded) again; what the re-run wrote is now the new record.
    assert run.api_writes > 0


def test_check_mode_reports_the_drift_and_writes_nothing(life):
    life.drift  # noqa: B018
    run, before, after = life.drift_check
    assert run.returncode == 0 and run.failures == 0, run.explain()
    changed = [t.name for t in run.changed_tasks()]
    for task in ("Apply the Bookinfo services, service accounts and deployments from the release.", "Apply the addons."):
        assert any(name.endswith(task) for name in changed), changed
    assert run.api_writes == 0 and before.diff(after) == [], "--check wrote to the cluster:\n" + "\n".join(before.diff(after))


def test_teardown_leaves_the_cluster_as_it_was_before_the_demo(life):
    run, after = life.teardown[0], life.teardown[2]
    assert run.returncode == 0 and run.failures == 0, run.explain()
    assert demo_objects(after, life.baseline) == [], "teardown left objects the demo made"
    assert set(life.baseline.objects) <= set(after.objects), "teardown removed objects the demo did not make"
    assert not [key for key in after.objects if key[1] == "CustomResourceDefinition" and key[3].endswith(".istio.io")]
    for namespace in DEMO_NAMESPACES:
        assert ("v1", "Namespace", "", namespace) not in after.objects
    assert PROFILE not in life.demo.profiles()
    assert f'"name": "{PROFILE}"' not in after.cli_state["kubeconfig"], "the profile's kubeconfig context is left"
    removed = report_lines(run, "Removed: ")
    for part in ("namespace bookinfo", "Istio control plane", "namespace istio-system", f"minikube profile {PROFILE}"):
        assert part in removed, run.lines(TEARDOWN_REPORT_TASK)


def test_second_teardown_removes_nothing_and_reports_absent(life):
    run, before, after = life.teardown_again
    assert run.returncode == 0 and run.failures == 0, run.explain()
    assert run.changed == 0, run.explain()
    assert before.diff(after) == []
    assert report_lines(run, "Removed: ") == []
    assert f"minikube profile {PROFILE}" in report_lines(run, "Already absent: ")
