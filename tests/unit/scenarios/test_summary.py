"""The presenter's summary: who sent each probe, real labels for the fault's pages, recorded and unmeasured verdicts,
and a line or two per scenario with the statistics left to the artifacts."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.filter.scenario_probes import duration_text, scenario_probes
from ansible_collections.istiolab.mesh.plugins.modules.traffic_probe import _Classifier
from tests.harness.dataplane import productpage
from tests.unit.scenarios._scenarios import REPO

TASKS = REPO / "roles" / "routing" / "tasks"


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
    (brief,) = [p["brief"] for p in scenario_probes([probe_result({"name": "anonymous"}, {"unmatched": 100.0},
                                                                   requests=20, status={"200": 15, "503": 5})])]
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
