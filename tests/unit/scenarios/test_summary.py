"""The presenter's summary: who sent each probe, real labels for the fault's pages, recorded and unmeasured verdicts,
and a line or two per scenario with the statistics left to the artifacts."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.filter.scenario_probes import duration_text, scenario_probes
from ansible_collections.istiolab.mesh.plugins.filter.scenario_summary import BRIEF_LIMIT, plain_brief, scenario_summary
from ansible_collections.istiolab.mesh.plugins.modules.traffic_probe import _Classifier
from tests.harness.dataplane import productpage
from tests.unit.scenarios._scenarios import REPO

TASKS = REPO / "roles" / "routing" / "tasks"
SUMMARY_TASK = "Print where the demo runs, what it runs and what was verified."


def probe_result(item, shares, requests=30, passed=True, status=None, p50=25.0, url="http://192.168.49.2:31380/productpage"):
    """One element of a looped traffic_probe task's results, as the module returns it."""
    return {"item": item, "passed": passed, "requests": requests, "shares": shares, "status": status or {"200": requests},
            "latency_ms": {"p50": p50, "p90": p50, "p99": p50, "max": p50}, "checks": [],
            "msg": f"Probe {'passed' if passed else 'failed'} ({requests} requests to {url} in 1.0 s: ...)"}


AB_RESULTS = [probe_result({"name": "jason", "login_user": "jason"}, {"v2": 100.0}),
              probe_result({"name": "anonymous"}, {"v1": 100.0}, requests=29)]


def test_probes_say_which_was_signed_in_and_which_anonymous():
    jason, anonymous = scenario_probes(AB_RESULTS)
    assert (jason["who"], anonymous["who"]) == ("signed in as jason", "anonymous")
    assert jason["brief"] == "signed in as jason: v2 100% of 30 pages"
    assert anonymous["brief"] == "anonymous: v1 100% of 29 pages"
    # The statistics stay in the entry, for the artifacts.
    assert jason["msg"].startswith("Probe passed (30 requests to http://")
    assert jason["shares"] == {"v2": 100.0}


def test_a_probe_brief_names_no_url_and_says_when_the_probe_failed():
    (brief,) = [p["brief"] for p in scenario_probes([probe_result({"name": "anonymous"}, {"v1": 80.0, "v2": 20.0}, passed=False)])]
    assert brief == "anonymous: v1 80%, v2 20% of 30 pages - not as expected"
    assert "://" not in brief


def test_a_latency_probe_says_its_median_and_labels_read_as_words():
    item = {"name": "jason", "login_user": "jason", "min_latency_ms": {"p50": 6000.0}}
    (brief,) = [p["brief"] for p in scenario_probes([probe_result(item, {"reviews_unavailable": 100.0}, requests=10, p50=6012.0)])]
    assert brief == "signed in as jason: reviews unavailable 100% of 10 pages, median 6 s"


def test_a_probe_that_labels_nothing_reports_its_status_codes():
    probes = [probe_result({"name": "anonymous"}, {"unmatched": 100.0}, requests=20, status={"200": 15, "503": 5})]
    (brief,) = [p["brief"] for p in scenario_probes(probes)]
    assert brief == "anonymous: status 200 75%, 503 25% of 20 pages"


def test_durations_read_as_spoken():
    assert [duration_text(ms) for ms in (25.4, 999.0, 1000.0, 6012.0, 7250.0)] == ["25 ms", "999 ms", "1 s", "6 s", "7.2 s"]


def test_results_without_their_loop_items_are_an_error():
    with pytest.raises(AnsibleFilterError, match="no loop item"):
        scenario_probes([{"passed": True}])


def fault_probes(kind: str) -> list[dict]:
    """The probes fault_injection.yml sends for the fault ``kind`` (delay or abort), as written in the task file."""
    (play,) = [t for t in yaml.safe_load((TASKS / "fault_injection.yml").read_text()) if "block" in t]
    tasks = [t for t in play["block"] if f"routing_fault_kind == '{kind}'" in t.get("when", [])]
    assert len(tasks) == 1, f"no single measure task for {kind}"
    variables = tasks[0]["vars"]
    return [dict(p, classify=variables.get("__routing_page_classes") if p.get("classify") == "{{ __routing_page_classes }}"
                 else p.get("classify")) for p in variables["__routing_probes"]]


@pytest.mark.parametrize("kind", ["delay", "abort"])
def test_fault_probes_label_every_page_productpage_draws(kind):
    """Every fault probe classifies productpage's pages by what they show, so none is reported as "unmatched"."""
    pages = {"reviews_unavailable": productpage("jason", None, "reviews-v2-abc"),
             "ratings_unavailable": productpage("jason", "v2", "reviews-v2-abc", rated=False),
             "whole": productpage("", "v1", "reviews-v1-abc")}
    for probe in fault_probes(kind):
        assert probe.get("classify"), f"{kind} probe {probe['name']} labels nothing: its pages would read 'unmatched'"
        classifier = _Classifier(probe["classify"], None)
        labels = {page: classifier.label(200, {}, body) for page, body in pages.items()}
        assert "unmatched" not in labels.values(), (kind, probe["name"], labels)
        assert labels["ratings_unavailable"] == "ratings_unavailable"
        if kind == "delay":
            assert labels == {"reviews_unavailable": "reviews_unavailable", "ratings_unavailable": "ratings_unavailable",
                              "whole": "reviews_shown"}


# -- One scenario's lines ------------------------------------------------------------------------------------------

OLD_URL = "http://192.168.49.2:31380"
AB_DETAIL = (f"signed in as jason: Probe passed (30 requests to {OLD_URL}/productpage in 1.0 s: v2 100%; status 200 100%; "
             "latency p50 20 ms, p90 25 ms, p99 30 ms, max 31 ms; shares: v2 100% (expected 100) ...) | anonymous: Probe passed "
             f"(29 requests to {OLD_URL}/productpage in 1.0 s: v1 100%; ...)")
AB_BRIEF = "signed in as jason: v2 100% of 30 pages; anonymous: v1 100% of 29 pages"


def test_a_measured_scenario_is_its_verdict_what_each_probe_saw_and_where_the_statistics_are():
    lines = scenario_summary({"passed": True, "detail": AB_DETAIL, "summary": AB_BRIEF,
                              "artifact": "artifacts/scenarios/ab_test.json"}, "ab_test")
    assert lines == [f"Scenario ab_test: passed: {AB_BRIEF}", "  full statistics: artifacts/scenarios/ab_test.json"]


def test_a_recorded_verdict_says_when_it_was_measured_and_not_the_url_it_was_measured_at():
    record = {"passed": True, "detail": AB_DETAIL, "summary": AB_BRIEF, "recorded": True, "measured_at": "2026-12-01T09:00:00Z"}
    lines = scenario_summary(record, "ab_test")
    assert lines == [f"Scenario ab_test: passed when measured at 2026-12-01T09:00:00Z: {AB_BRIEF}",
                     "  not played again: same objects and settings (--tags ab_test measures it now)"]


def test_a_record_from_before_summaries_loses_its_url_and_stays_one_line():
    record = {"passed": True, "detail": AB_DETAIL, "recorded": True, "measured_at": "2026-12-01T09:00:00Z"}
    first, second = scenario_summary(record, "ab_test")
    assert "://" not in first and "192.168.49.2" not in first, first
    assert first.startswith("Scenario ab_test: passed when measured at 2026-12-01T09:00:00Z: signed in as jason: Probe passed (30 requests to the gateway")
    assert first.endswith(" ...") and len(first) <= len("Scenario ab_test: passed when measured at 2026-12-01T09:00:00Z: ") + BRIEF_LIMIT
    assert second.startswith("  not played again")


def test_a_failed_verdict_says_failed():
    (line,) = scenario_summary({"passed": False, "detail": "anonymous: v1 60%, v3 40% of 200 pages - not as expected"}, "canary")
    assert line == "Scenario canary: FAILED: anonymous: v1 60%, v3 40% of 200 pages - not as expected"


def test_a_scenario_without_its_verification_says_applied_not_measured():
    assert scenario_summary({"passed": False, "measured": False, "verify_variable": "routing_verify",
                             "detail": "applied, not measured (routing_verify is false)"}, "canary") == [
        "Scenario canary: applied, not measured (routing_verify is false)"]
    recorded = {"passed": False, "measured": False, "verify_variable": "resilience_verify", "recorded": True,
                "measured_at": "2026-12-01T09:00:00Z", "detail": "applied, not measured (resilience_verify is false)"}
    (line,) = scenario_summary(recorded, "rate_limit")
    assert line == ("Scenario rate_limit: applied, not measured (resilience_verify is false); applied at 2026-12-01T09:00:00Z "
                    "with the same objects and settings, so not applied again")
    assert "passed" not in line and "FAILED" not in line


def test_a_long_detail_is_cut_to_its_first_clause_or_at_a_word():
    detail = ("120 requests in 3.21 s: 10 answered 200, 110 refused with 429 (91.7%); the bucket (10 tokens, 10 per 60s, 1 gateway "
              "instance(s)) lets at most 20 through, so at least 100 must be 429")
    (line,) = scenario_summary({"passed": True, "detail": detail}, "rate_limit")
    assert line == "Scenario rate_limit: passed: 120 requests in 3.21 s: 10 answered 200, 110 refused with 429 (91.7%) ..."
    one_clause = "the bucket lets at most 20 through " * 10
    brief = plain_brief(one_clause)
    assert len(brief) <= BRIEF_LIMIT and brief.endswith(" ...") and one_clause.startswith(brief[:-4]), brief
    assert plain_brief("short; and more") == "short; and more"


def test_a_result_that_is_not_a_dict_is_an_error():
    with pytest.raises(AnsibleFilterError, match="scenario's result"):
        scenario_summary("passed", "canary")


# -- The play's summary ----------------------------------------------------------------------------------------------

def full_demo_summary(tmp_path, results: dict, **facts) -> list[str]:
    """The lines full-demo.yml's summary task prints for these scenario results (the task itself, run alone)."""
    (play,) = yaml.safe_load((REPO / "playbooks" / "full-demo.yml").read_text())
    (task,) = [t for t in play["post_tasks"] if t["name"] == SUMMARY_TASK]
    playbook = tmp_path / "summary.yml"
    playbook.write_text(yaml.safe_dump([{"name": "The summary alone", "hosts": "localhost", "gather_facts": False,
                                         "vars": {"__mesh_scenario_roles": play["vars"]["__mesh_scenario_roles"],
                                                  "__mesh_scenarios_run": [], "__mesh_cluster_ready": True},
                                         "tasks": [task]}], sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    run = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), str(playbook), "-e",
                          json.dumps({"routing_scenario_results": results, **facts})],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "DEPRECATION" not in run.stderr, run.stderr
    (play_result,) = json.loads(run.stdout)["plays"]
    return play_result["tasks"][0]["hosts"]["localhost"]["msg"]


def test_full_demo_summary_reads_aloud(tmp_path):
    results = {
        "ab_test": {"passed": True, "detail": AB_DETAIL, "summary": AB_BRIEF, "artifact": "artifacts/scenarios/ab_test.json"},
        "canary": {"passed": True, "detail": AB_DETAIL, "recorded": True, "measured_at": "2026-12-01T09:00:00Z"},
        "fault_injection": {"passed": False, "measured": False, "verify_variable": "routing_verify",
                            "detail": "applied, not measured (routing_verify is false)"},
    }
    lines = full_demo_summary(tmp_path, results, bookinfo_resolved_gateway_url="http://10.0.0.7:30080")
    scenario_lines = [line for line in lines if line.startswith("Scenario ") or line.startswith("  ")]
    # Each scenario in the play's order, a line or two each; the dead URL of the recorded run nowhere, the current one once.
    assert [line.split(":")[0] for line in scenario_lines if line.startswith("Scenario ")] == [
        "Scenario canary", "Scenario ab_test", "Scenario fault_injection"]
    assert len(scenario_lines) == 5, scenario_lines
    assert f"Scenario ab_test: passed: {AB_BRIEF}" in lines
    assert "Scenario fault_injection: applied, not measured (routing_verify is false)" in lines
    assert not [line for line in lines if "192.168.49.2" in line], lines
    assert sum("http://10.0.0.7:30080" in line for line in lines) == 1, lines
    assert "Scenarios: none measured in this run." not in lines


# -- replay.yml's decision, with the verification on and off -------------------------------------------------------

DIGEST = "a" * 64
APPLIED = {"digest": DIGEST, "passed": False, "measured": False, "verify_variable": "routing_verify",
           "detail": "applied, not measured (routing_verify is false)", "measured_at": "2026-12-01T09:00:00Z"}
PROVEN = {"digest": DIGEST, "passed": True, "detail": "Probe passed (...)", "measured_at": "2026-12-01T09:00:00Z"}
# A record kept since conclude.yml records the objects: a replayed verdict carries them to routing_scenario_applied.
OBJECTS = [{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "reviews", "namespace": "bookinfo"},
            "spec": {"hosts": ["reviews"]}}]
# case: (routing_verify, routing_replay_proven, record, replayed, what routing_scenario_results.canary then says)
REPLAY_CASES = {
    "unmeasured_again": (False, False, APPLIED, True, {"measured": False, "recorded": True}),
    "unmeasured_first": (False, False, {}, False, {"measured": False, "verify_variable": "routing_verify"}),
    "unmeasured_changed": (False, False, dict(APPLIED, digest="b" * 64), False, {"measured": False}),
    "unmeasured_by_tag": (False, True, APPLIED, False, {"measured": False}),
    "measured_after_unmeasured": (True, False, APPLIED, False, None),
    "proven": (True, False, PROVEN, True, {"passed": True, "recorded": True, "measured": True}),
    "proven_unmeasured_run": (False, False, PROVEN, True, {"passed": True, "recorded": True}),
    "proven_with_objects": (True, False, dict(PROVEN, objects=OBJECTS), True, {"passed": True, "recorded": True}),
    "changed_with_objects": (True, False, dict(PROVEN, objects=OBJECTS, digest="b" * 64), False, None),
}
# The cases whose replayed verdict publishes the recorded objects; every other case publishes none.
REPLAY_APPLIED = {"proven_with_objects": OBJECTS}


def test_replay_skips_what_is_applied_with_the_same_inputs_and_measures_what_was_not(tmp_path):
    """The decide and publish tasks of replay.yml as written, one inventory host per case."""
    tasks = yaml.safe_load((TASKS / "replay.yml").read_text())[1:]
    tasks.append({"name": "Report", "ansible.builtin.debug": {
        "msg": "{{ {'replayed': routing_scenario_replayed | bool, 'result': (routing_scenario_results | default({})).canary | default(none), "
               "'applied': (routing_scenario_applied | default({})).canary | default(none)} }}"}})
    hosts = {case: {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    "routing_verify": verify, "routing_replay_proven": proven, "__routing_record": record}
             for case, (verify, proven, record, _replayed, _result) in REPLAY_CASES.items()}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    (tmp_path / "replay.yml").write_text(yaml.safe_dump([{"name": "Replay's decision", "hosts": "all", "gather_facts": False,
                                                          "vars": {"routing_scenario_name": "canary", "__routing_digest": DIGEST},
                                                          "tasks": tasks}], sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    run = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
                          str(tmp_path / "replay.yml")], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "DEPRECATION" not in run.stderr, run.stderr
    (play,) = json.loads(run.stdout)["plays"]
    report = play["tasks"][-1]["hosts"]
    for case, (_verify, _proven, _record, replayed, expected) in REPLAY_CASES.items():
        said = report[case]["msg"]
        assert said["replayed"] is replayed, (case, said)
        assert said["applied"] == REPLAY_APPLIED.get(case), (case, said)
        if expected is None:
            assert said["result"] is None, (case, said)
        else:
            assert said["result"] is not None and {k: said["result"].get(k) for k in expected} == expected, (case, said)


@pytest.mark.parametrize("plugin", ["scenario_probes", "scenario_summary"])
def test_filter_documentation_is_yaml(plugin):
    module = __import__(f"ansible_collections.istiolab.mesh.plugins.filter.{plugin}", fromlist=["DOCUMENTATION"])
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["name"] == plugin and doc["short_description"]
    assert yaml.safe_load(module.RETURN)["_value"]["description"]
    assert f"istiolab.mesh.{plugin}" in module.EXAMPLES and yaml.safe_load(module.EXAMPLES)


# -- conclude.yml: what is recorded, what is asserted, what goes to the artifacts ----------------------------------

MEASURED = {"passed": True, "detail": "anonymous: Probe passed (...)", "summary": "anonymous: v1 100% of 29 pages"}
UNMEASURED = {"passed": False, "measured": False, "verify_variable": "routing_verify",
              "detail": "applied, not measured (routing_verify is false)"}
# case: (record on the cluster, result, record written, artifact written)
CONCLUDE_CASES = {
    "unmeasured_after_a_failure": (dict(PROVEN, passed=False), UNMEASURED, True, False),
    "unmeasured_again": (APPLIED, UNMEASURED, False, False),
    "measured_after_unmeasured": (APPLIED, MEASURED, True, True),
    "measured_same_verdict": (PROVEN, MEASURED, False, True),
}


def test_conclude_records_applied_not_measured_and_asserts_only_what_was_measured(tmp_path):
    """conclude.yml as written, its ConfigMap write shown instead of sent (no cluster), one inventory host per case."""
    tasks = yaml.safe_load((TASKS / "conclude.yml").read_text())
    (write,) = [t for t in tasks if "kubernetes.core.k8s" in t]
    write["ansible.builtin.debug"] = {"msg": write.pop("kubernetes.core.k8s")["definition"]["data"]}
    hosts = {case: {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    "__routing_record": record, "routing_scenario_result": result,
                    "routing_artifacts_dir": str(tmp_path / case)}
             for case, (record, result, _written, _artifact) in CONCLUDE_CASES.items()}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    (tmp_path / "conclude.yml").write_text(yaml.safe_dump([{
        "name": "Conclude", "hosts": "all", "gather_facts": False,
        "vars": {"routing_scenario_name": "canary", "__routing_digest": DIGEST, "__routing_records_name": "istiolab-mesh-scenarios",
                 "routing_namespace": "bookinfo", "routing_managed_by": "istiolab.mesh"},
        "tasks": tasks}], sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    run = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
                          str(tmp_path / "conclude.yml")], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "DEPRECATION" not in run.stderr, run.stderr
    (play,) = json.loads(run.stdout)["plays"]
    (shown,) = [t["hosts"] for t in play["tasks"] if t["task"]["name"].startswith("Keep the verdict on the cluster")]
    (results,) = [t["hosts"] for t in play["tasks"] if t["task"]["name"].startswith("Check that the scenario did what it says")]
    for case, (_record, result, written, artifact) in CONCLUDE_CASES.items():
        assert (not shown[case].get("skipped", False)) is written, (case, shown[case])
        if written:
            kept = json.loads(shown[case]["msg"]["canary"])
            assert kept["digest"] == DIGEST and kept["measured"] is result.get("measured", True), (case, kept)
            assert kept["summary"] == result.get("summary", "") and "measured_at" in kept
        assert results[case].get("skipped", False) is (result.get("measured", True) is False), (case, results[case])
        path = tmp_path / case / "scenarios" / "canary.json"
        assert path.exists() is artifact, case
        if artifact:
            assert json.loads(path.read_text())["result"]["summary"] == MEASURED["summary"]


def test_conclude_publishes_the_objects_replay_rendered(tmp_path):
    """conclude.yml's first task as written: the result and the applied objects, beside those of an earlier scenario."""
    task = yaml.safe_load((TASKS / "conclude.yml").read_text())[0]
    report = {"name": "Report", "ansible.builtin.debug": {"msg": "{{ routing_scenario_applied }}"}}
    play = [{"name": "Conclude", "hosts": "localhost", "gather_facts": False, "tasks": [task, report],
             "vars": {"routing_scenario_name": "canary", "routing_artifacts_dir": str(tmp_path), "__routing_scenario_objects": OBJECTS,
                      "routing_scenario_applied": {"mirror": []}, "routing_scenario_result": {"passed": True, "detail": "d"}}}]
    (tmp_path / "conclude.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    run = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(tmp_path / "conclude.yml")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    (played,) = json.loads(run.stdout)["plays"]
    assert played["tasks"][-1]["hosts"]["localhost"]["msg"] == {"mirror": [], "canary": OBJECTS}
