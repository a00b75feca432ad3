"""The demo's summary on the offline cluster: scenarios applied with their verification off, then measured, then
recorded; a line or two each, the full statistics in the artifacts."""

import json
import os

import pytest

from tests.e2e._demo import FULL_DEMO, SUMMARY_TASK, OfflineDemo

DEFAULT_SCENARIOS = ("all_v1", "canary", "ab_test")


def scenario_lines(run):
    """The summary's lines about scenarios: each scenario's line and its indented second line."""
    return [line for line in run.lines(SUMMARY_TASK) if line.startswith("Scenario ") or line.startswith("  ")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e-summary")
    with OfflineDemo(base, mesh_artifacts_dir=str(base / "artifacts")) as offline:
        yield offline


def test_summary_from_unmeasured_to_measured_to_recorded(demo):
    artifacts = demo.variables()["mesh_artifacts_dir"]

    # Verification off: every scenario says so, and a re-run with the same inputs applies nothing.
    demo.write_vars(routing_verify=False)
    first = demo.run(FULL_DEMO)
    assert first.returncode == 0 and first.failures == 0, first.explain()
    lines = scenario_lines(first)
    assert lines == [f"Scenario {s}: applied, not measured (routing_verify is false)" for s in DEFAULT_SCENARIOS], lines

    again = demo.run(FULL_DEMO)
    assert again.returncode == 0 and again.failures == 0, again.explain()
    assert again.changed == 0, again.explain()
    for scenario, line in zip(DEFAULT_SCENARIOS, scenario_lines(again), strict=True):
        assert line.startswith(f"Scenario {scenario}: applied, not measured (routing_verify is false); applied at "), line
        assert line.endswith("with the same objects and settings, so not applied again"), line

    # Measured: who signed in and who did not, in one line; the statistics in the artifact, with the URL it measured.
    demo.write_vars(routing_verify=True)
    measured = demo.run(FULL_DEMO, "--tags", "ab_test")
    assert measured.returncode == 0 and measured.failures == 0, measured.explain()
    artifact = os.path.join(artifacts, "scenarios", "ab_test.json")
    head, second = scenario_lines(measured)
    assert head.startswith("Scenario ab_test: passed: signed in as jason: v2 100% of "), head
    assert "; anonymous: v1 100% of " in head and "://" not in head, head
    assert second == f"  full statistics: {artifact}"
    with open(artifact, encoding="utf-8") as handle:
        saved = json.load(handle)
    assert saved["scenario"] == "ab_test" and saved["gateway_url"] == demo.variables()["bookinfo_gateway_url"]
    assert [p["who"] for p in saved["result"]["probes"]] == ["signed in as jason", "anonymous"]
    assert all(p["msg"].startswith("Probe passed (") for p in saved["result"]["probes"])

    # Recorded: the verdict and when it was measured, no URL of that run.
    recorded = demo.run(FULL_DEMO)
    assert recorded.returncode == 0 and recorded.failures == 0, recorded.explain()
    lines = scenario_lines(recorded)
    (ab_head,) = [line for line in lines if line.startswith("Scenario ab_test: ")]
    assert ab_head.startswith("Scenario ab_test: passed when measured at "), lines
    assert "signed in as jason: v2 100%" in ab_head, ab_head
    assert not [line for line in lines if "://" in line], lines
    assert len(lines) <= 2 * len(DEFAULT_SCENARIOS), lines
