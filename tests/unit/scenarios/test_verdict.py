"""The scenarios' decision rules, in one place (module_utils/_verdict.py, the scenario_verdict filter): for each kind,
evidence that shows the effect passes and evidence that does not fails, saying why."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.filter.scenario_verdict import FilterModule, scenario_verdict
from ansible_collections.istiolab.mesh.plugins.module_utils import _verdict
from tests.unit.scenarios._scenarios import REPO

FIXTURES = REPO / "tests" / "fixtures" / "resilience"
HOST = "httpbin.bookinfo.svc.cluster.local"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def probe(item, shares, passed=True, requests=30):
    return {"item": item, "passed": passed, "requests": requests, "shares": shares, "status": {"200": requests},
            "latency_ms": {"p50": 20.0}, "msg": f"Probe {'passed' if passed else 'failed'} ({requests} requests)"}


def test_one_filter_reaches_every_kind():
    assert FilterModule().filters() == {"scenario_verdict": scenario_verdict}
    assert sorted(_verdict.KINDS) == ["access_control", "circuit_breaking", "mirror", "probes", "rate_limit"]
    with pytest.raises(AnsibleFilterError, match="no decision rule for scenarios of kind 'canary'; known: access_control"):
        scenario_verdict([], "canary")


# probes: the routing scenarios


def test_probes_pass_when_every_probe_passed():
    results = [probe({"name": "jason", "login_user": "jason"}, {"v2": 100.0}), probe({"name": "anonymous"}, {"v1": 100.0})]
    verdict = scenario_verdict(results, "probes", {"probes": 2})
    assert verdict["passed"] is True
    assert verdict["summary"] == "signed in as jason: v2 100% of 30 pages; anonymous: v1 100% of 30 pages"
    assert verdict["detail"] == "signed in as jason: Probe passed (30 requests) | anonymous: Probe passed (30 requests)"
    assert verdict["shares"] == {"jason": {"v2": 100.0}, "anonymous": {"v1": 100.0}}
    assert verdict["requests"] == {"jason": 30, "anonymous": 30}
    assert [p["name"] for p in verdict["probes"]] == ["jason", "anonymous"]


def test_probes_fail_when_one_probe_failed_or_one_is_missing():
    failed = [probe({"name": "jason", "login_user": "jason"}, {"v1": 100.0}, passed=False), probe({"name": "anonymous"}, {"v1": 100.0})]
    verdict = scenario_verdict(failed, "probes", {"probes": 2})
    assert verdict["passed"] is False
    assert "signed in as jason: v1 100% of 30 pages - not as expected" in verdict["summary"]
    assert scenario_verdict(failed[1:], "probes", {"probes": 2})["passed"] is False


def test_probes_without_their_loop_items_are_an_error():
    with pytest.raises(AnsibleFilterError, match="result 0 has no loop item"):
        scenario_verdict([{"passed": True}], "probes")


# mirror


def mirror_evidence(answers_v1, answers_v2, logged_v1, logged_v2):
    stdout = "\n".join(["httpbin-v1-5d8f-abcde"] * answers_v1 + ["httpbin-v2-7c9a-fghij"] * answers_v2)
    return {"stdout": stdout, "before": {"v1": "3", "v2": "1"}, "after": {"v1": str(3 + logged_v1), "v2": str(1 + logged_v2)}}


def test_mirror_passes_when_v1_answers_and_v2_gets_the_copies():
    verdict = scenario_verdict(mirror_evidence(20, 0, 20, 20), "mirror", {"requests": "20", "percentage": 100})
    assert verdict["passed"] is True
    assert verdict == {"passed": True, "requests": 20, "answers": {"v1": 20, "v2": 0}, "logged": {"v1": 20, "v2": 20},
                       "detail": "20 requests from the client: 20 answered by v1, 0 by v2; logged by v1 20, by v2 20 "
                                 "(mirrored copies expected 20.0 ± 0.0 at 100%)"}


def test_mirror_at_half_allows_three_standard_deviations():
    rule = {"requests": 100, "percentage": 50}
    assert scenario_verdict(mirror_evidence(100, 0, 100, 60), "mirror", rule)["passed"] is True
    verdict = scenario_verdict(mirror_evidence(100, 0, 100, 70), "mirror", rule)
    assert verdict["passed"] is False
    assert "(mirrored copies expected 50.0 ± 15.0 at 50%)" in verdict["detail"]


@pytest.mark.parametrize("evidence", [mirror_evidence(19, 1, 20, 20), mirror_evidence(20, 0, 19, 20), mirror_evidence(20, 0, 20, 0)],
                         ids=["v2 answered", "v1 logged less", "no copy"])
def test_mirror_fails_on_any_other_count(evidence):
    assert scenario_verdict(evidence, "mirror", {"requests": 20, "percentage": 100})["passed"] is False


def test_mirror_without_counts_is_an_error():
    with pytest.raises(AnsibleFilterError, match="the mirror verdict needs"):
        scenario_verdict({"stdout": ""}, "mirror", {"requests": 20, "percentage": 100})


# circuit_breaking


def test_circuit_breaking_passes_on_a_tripped_breaker_and_fails_without_503():
    rule = {"host": HOST, "port": 8000, "requests": 30}
    stats = {"stats_before": fixture("envoy-stats-before.txt"), "stats_after": fixture("envoy-stats-after.txt")}
    tripped = scenario_verdict(dict(stats, load={"stdout": "", "stderr": fixture("fortio-load-tripped.stderr.txt")}), "circuit_breaking", rule)
    assert tripped["passed"] is True, tripped["detail"]
    assert tripped["codes"] == {200: 19, 503: 11}
    calm = scenario_verdict(dict(stats, load={"stdout": "", "stderr": fixture("fortio-load-all-ok.stderr.txt")}), "circuit_breaking", rule)
    assert calm["passed"] is False
    assert "no request was refused with 503" in calm["detail"]


# rate_limit


def rl_probe(status, duration=2.0, marked=None):
    return {"requests": sum(status.values()), "status": status, "duration_s": duration,
            "counts": {} if marked is None else {"rate_limited": marked}}


def test_rate_limit_passes_within_the_bucket_and_fails_beyond_it():
    rule = {"max_tokens": 10, "tokens_per_fill": 10, "fill_interval": "10s"}
    within = scenario_verdict({"probe": rl_probe({"200": 18, "429": 22}, marked=22), "replicas": 1}, "rate_limit", rule)
    assert within["passed"] is True, within["detail"]
    beyond = scenario_verdict({"probe": rl_probe({"200": 30, "429": 10}, marked=10), "replicas": 1}, "rate_limit", rule)
    assert beyond["passed"] is False
    assert "only 10 answers were 429" in beyond["detail"]


# access_control

SOURCES = {"control node": {"address": "192.168.49.1", "status": 200, "reason": "192.168.49.1 is in no list"},
           "mesh client": {"address": "10.244.0.7", "status": 403, "reason": "10.244.0.7 is in policy_deny_cidrs (10.244.0.0/16)"}}


def test_access_control_passes_when_each_source_gets_its_status():
    evidence = {"node_probe": {"passed": True, "status": {"200": 30}, "msg": "Probe passed"}, "client_lines": ["403", " 403 ", "403", ""]}
    verdict = scenario_verdict(evidence, "access_control", {"sources": SOURCES, "client_requests": "3"})
    assert verdict["passed"] is True
    assert verdict["detail"] == ("control node: 192.168.49.1 is in no list, so 200 expected: Probe passed | mesh client: "
                                 "10.244.0.7 is in policy_deny_cidrs (10.244.0.0/16), so 403 expected: answered 403 x3 of 3")
    assert verdict["status"] == {"control node": {"200": 30}, "mesh client": ["403", "403", "403"]}
    assert verdict["sources"] == SOURCES


@pytest.mark.parametrize("node_passed, lines", [(False, ["403"] * 3), (True, ["403", "200", "403"]), (True, ["403"] * 2)],
                         ids=["control node answered otherwise", "client allowed once", "client answers missing"])
def test_access_control_fails_when_a_source_gets_another_answer(node_passed, lines):
    evidence = {"node_probe": {"passed": node_passed, "status": {}, "msg": "m"}, "client_lines": lines}
    assert scenario_verdict(evidence, "access_control", {"sources": SOURCES, "client_requests": 3})["passed"] is False


def test_access_control_says_when_both_sources_get_the_same_answer():
    same = {name: dict(source, status=200) for name, source in SOURCES.items()}
    evidence = {"node_probe": {"passed": True, "status": {}, "msg": "m"}, "client_lines": ["200"] * 2}
    verdict = scenario_verdict(evidence, "access_control", {"sources": same, "client_requests": 2})
    assert verdict["passed"] is True
    assert verdict["detail"].endswith("answered 200 x2 of 2 | both sources get 200: put one of them in a list to see the other answer too")
