"""The routing role's rendered objects against Istio's own samples, and its input validation.

Renders run the role's real ``render`` entry point with ``ansible-playbook`` (no cluster); the samples are
recorded verbatim in tests/fixtures/istio-samples/. Objects are compared field by field after a small,
stated normalisation, so a message names every differing field.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.unit.scenarios._scenarios import REPO, assert_refused, by_identity, differences, load, meaning, run_role, strict_schema_problems

SAMPLES = REPO / "tests" / "fixtures" / "istio-samples"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """The role's defaults rendered once, plus fault_injection with routing_fault_kind=abort."""
    base = tmp_path_factory.mktemp("routing-render")
    jobs = {"defaults": {}, "abort": {"routing_fault_kind": "abort", "routing_scenarios": ["fault_injection"]}}
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = dict(zip(jobs, pool.map(lambda item: run_role(base / item[0], "routing", "render", item[1]), jobs.items())))
    for name, result in results.items():
        assert result.returncode == 0, f"render ({name}) failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    return {name: base / name / "rendered" for name in jobs}


def test_render_writes_one_file_per_scenario(rendered):
    names = sorted(p.name for p in rendered["defaults"].iterdir())
    assert names == sorted(f"{s}.yml" for s in ["all_v1", "canary", "ab_test", "mirror", "fault_injection"])


def test_every_rendered_object_is_labelled_for_scenario_reset(rendered):
    for path in rendered["defaults"].iterdir():
        for obj in load(path):
            labels = obj["metadata"].get("labels") or {}
            assert labels.get("app.kubernetes.io/managed-by") == "istiolab.mesh", (path.name, obj["metadata"]["name"])
            assert labels.get("istiolab.mesh/scenario") == path.stem, (path.name, obj["metadata"]["name"])
            assert obj["metadata"]["namespace"] == "bookinfo"


def test_rendered_objects_pass_the_strict_schemas(rendered):
    assert strict_schema_problems(rendered) == []


# (rendered set, scenario file, sample file, objects of the sample to compare)
SAME_AS_SAMPLE = [
    ("defaults", "all_v1", "virtual-service-all-v1.yaml"),
    ("defaults", "canary", "virtual-service-reviews-50-v3.yaml"),
    ("defaults", "ab_test", "virtual-service-reviews-test-v2.yaml"),
    ("defaults", "fault_injection", "virtual-service-ratings-test-delay.yaml"),
    ("abort", "fault_injection", "virtual-service-ratings-test-abort.yaml"),
]


@pytest.mark.parametrize(("render_set", "scenario", "sample"), SAME_AS_SAMPLE)
def test_scenario_routes_as_istio_sample(rendered, render_set, scenario, sample):
    ours = by_identity(load(rendered[render_set] / f"{scenario}.yml"))
    for upstream in load(SAMPLES / sample):
        key = (upstream["kind"], upstream["metadata"]["name"])
        assert key in ours, f"{scenario} renders no {key[0]} {key[1]}, which {sample} has"
        assert differences(meaning(ours[key]), meaning(upstream)) == [], f"{scenario} vs {sample}, {key}"


def test_fault_injection_also_routes_the_user_as_the_request_routing_sample(rendered):
    """Istio's fault injection task sends jason to reviews v2 (which calls ratings) before the fault."""
    ours = by_identity(load(rendered["defaults"] / "fault_injection.yml"))[("VirtualService", "reviews")]
    upstream = load(SAMPLES / "virtual-service-reviews-test-v2.yaml")[0]
    assert differences(meaning(ours), meaning(upstream)) == []


# The mirroring task's workloads differ from ours on purpose, each for a stated reason; the routing objects
# (DestinationRule, VirtualService) must not differ at all. Any difference not listed here fails.
MIRROR_WORKLOAD_DEVIATIONS = {
    ("Deployment", "httpbin-v1"): {
        # go-httpbin (Istio's own samples/httpbin since 1.22) has pinned, multi-arch tags; kennethreitz/httpbin only latest, amd64.
        "spec.template.spec.containers[0].image: ours 'docker.io/mccutchen/go-httpbin:v2.15.0', upstream 'docker.io/kennethreitz/httpbin'",
        # go-httpbin logs every request itself; the flag makes /hostname name the answering pod.
        "spec.template.spec.containers[0].args: only ours has it (['-use-real-hostname'])",
        "spec.template.spec.containers[0].command: only upstream has it "
        "(['gunicorn', '--access-logfile', '-', '-b', '0.0.0.0:80', 'httpbin:app'])",
        "spec.template.spec.containers[0].ports[0].containerPort: ours 8080, upstream 80",
    },
    ("Service", "httpbin"): {"spec.ports[0].targetPort: ours 8080, upstream 80"},
}


def test_mirror_matches_the_mirroring_task(rendered):
    ours = by_identity(load(rendered["defaults"] / "mirror.yml"))
    upstream = by_identity(load(SAMPLES / "mirroring-task.yaml"))
    for key in [("DestinationRule", "httpbin"), ("VirtualService", "httpbin")]:
        assert differences(meaning(ours[key]), meaning(upstream[key])) == [], key
    for key, expected in MIRROR_WORKLOAD_DEVIATIONS.items():
        assert set(differences(meaning(ours[key]), meaning(upstream[key]))) == expected, key
    v2 = {d.replace("httpbin-v1", "httpbin-v2") for d in MIRROR_WORKLOAD_DEVIATIONS[("Deployment", "httpbin-v1")]}
    assert set(differences(meaning(ours[("Deployment", "httpbin-v2")]), meaning(upstream[("Deployment", "httpbin-v2")]))) == v2
    # The task's client is `sleep` with curlimages/curl; Istio has since renamed that sample `curl`.
    client = ours[("Deployment", "curl")]["spec"]["template"]["spec"]["containers"][0]
    assert client["image"].rpartition(":")[0] == "docker.io/curlimages/curl"
    assert client["command"][0] == "/bin/sleep"


def test_weights_and_percentages_follow_the_variables(tmp_path):
    result = run_role(tmp_path, "routing", "render", {
        "routing_scenarios": ["canary", "mirror"], "routing_canary_weights": {"v1": 80, "v2": 20},
        "routing_mirror_percentage": 25})
    assert result.returncode == 0, result.stdout[-3000:]
    canary = load(tmp_path / "rendered" / "canary.yml")[0]
    assert [(r["destination"]["subset"], r["weight"]) for r in canary["spec"]["http"][0]["route"]] == [("v1", 80), ("v2", 20)]
    vs = by_identity(load(tmp_path / "rendered" / "mirror.yml"))[("VirtualService", "httpbin")]
    assert vs["spec"]["http"][0]["mirrorPercentage"] == {"value": 25.0}


def test_normalisation_is_not_blind():
    """The comparison must see a changed weight, a reordered route and a changed fault."""
    sample = load(SAMPLES / "virtual-service-reviews-50-v3.yaml")[0]
    changed = yaml.safe_load(yaml.safe_dump(sample))
    changed["spec"]["http"][0]["route"][0]["weight"] = 60
    assert differences(meaning(changed), meaning(sample)) == ["spec.http[0].route[0].weight: ours 60, upstream 50"]
    swapped = yaml.safe_load(yaml.safe_dump(sample))
    swapped["spec"]["http"][0]["route"].reverse()
    assert differences(meaning(swapped), meaning(sample)) != []
    delay = load(SAMPLES / "virtual-service-ratings-test-delay.yaml")[0]
    slower = yaml.safe_load(yaml.safe_dump(delay))
    slower["spec"]["http"][0]["fault"]["delay"]["percent"] = 50
    assert differences(meaning(slower), meaning(delay)) == [
        "spec.http[0].fault.delay.percentage.value: ours 50.0, upstream 100.0"]


# -- Input validation: the render entry point validates first, so a bad value writes nothing ----------------

BAD_INPUT = {
    "weights-sum": ({"routing_canary_weights": {"v1": 60, "v3": 50}},
                    ["routing_canary_weights sum to 110", "must sum to 100"]),
    "negative-weight": ({"routing_canary_weights": {"v1": 110, "v3": -10}},
                        ["routing_canary_weights.v3 is -10: a weight cannot be negative"]),
    "unknown-subset": ({"routing_canary_weights": {"v1": 50, "v4": 50}},
                       ["routing_canary_weights names subset v4", "subsets v1, v2, v3 (routing_subsets)"]),
    "unknown-version": ({"routing_ab_test_version": "v7"}, ["routing_ab_test_version is v7, not one of"]),
    "empty-user": ({"routing_ab_test_user": "  "}, ["routing_ab_test_user is empty"]),
    "mirror-above-100": ({"routing_mirror_percentage": 100.5}, ["routing_mirror_percentage is 100.5", "from 0 to 100"]),
    "mirror-negative": ({"routing_mirror_percentage": -1}, ["routing_mirror_percentage is -1"]),
    "bad-delay": ({"routing_fault_delay": "7 seconds"}, ['routing_fault_delay is "7 seconds"']),
    "bad-abort-status": ({"routing_fault_abort_status": 700}, ["routing_fault_abort_status is 700"]),
    "empty-fault-user": ({"routing_fault_user": ""}, ["routing_fault_user is empty"]),
    "unknown-scenario": ({"routing_scenarios": ["canary", "blue_green"]}, ["routing_scenarios", "blue_green"]),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("routing-bad")
    with ThreadPoolExecutor(4) as pool:
        results = pool.map(lambda case: (case, run_role(base / case, "routing", "render", BAD_INPUT[case][0])), BAD_INPUT)
    return {case: (result, base / case / "rendered") for case, result in results}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_fails_before_anything_naming_the_variable(bad_runs, case):
    result, render_dir = bad_runs[case]
    assert_refused(case, result, render_dir, BAD_INPUT[case][1])


def test_strings_from_the_command_line_are_read_as_numbers(tmp_path):
    """-e key=value gives strings; a valid number in a string is accepted, as Ansible's own option types do."""
    result = run_role(tmp_path, "routing", "validate", {"routing_canary_weights": {"v1": "70", "v2": "30"},
                                                        "routing_mirror_percentage": "12.5", "routing_fault_abort_status": "503"})
    assert result.returncode == 0, result.stdout[-3000:]
