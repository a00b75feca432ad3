"""The proof report, built from recorded results: its JSON follows the schema, and its SVG charts show the numbers."""

from __future__ import annotations

import copy
import html
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from ansible_collections.istiolab.mesh.plugins.module_utils import _report
from ansible_collections.istiolab.mesh.plugins.module_utils._report import BAR_W, LABEL_W, build_summary, render_html

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "recorded"
REPO = HERE.parents[2]
SVG = "{http://www.w3.org/2000/svg}"
KINDS = ("canary", "ab_test", "mirror", "fault_injection", "circuit_breaking", "rate_limit", "access_control")


def recorded() -> dict:
    return {path.stem: json.loads(path.read_text()) for path in sorted(RECORDED.glob("*.json"))}


def validate(summary: dict) -> None:
    jsonschema.Draft202012Validator(_report.load_schema()).validate(summary)


def scenario(summary: dict, name: str) -> dict:
    return next(entry for entry in summary["scenarios"] if entry["name"] == name)


def charts_of(page: str, name: str) -> list[ET.Element]:
    """The SVG charts of a scenario's section, parsed with ElementTree."""
    section = re.search(r'<section class="scenario" id="scenario-%s".*?</section>' % re.escape(name), page, re.S)
    assert section, f"no section for {name}"
    return [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", section.group(0), re.S)]


def rects(svg: ET.Element, cls: str) -> dict[str, ET.Element]:
    return {r.get("data-label"): r for r in svg.iter(SVG + "rect") if r.get("class") == cls}


def lines(svg: ET.Element, cls: str) -> dict[str, ET.Element]:
    return {r.get("data-label"): r for r in svg.iter(SVG + "line") if r.get("class") == cls}


def px(percent_of_scale: float) -> float:
    """Where a value at ``percent_of_scale`` percent of the chart's scale sits."""
    return LABEL_W + BAR_W * percent_of_scale / 100.0


@pytest.fixture(scope="module")
def full():
    summary = build_summary(None, recorded(), generated_at="2026-12-03T06:45:00Z",
                            versions={"istio": "1.31.1"}, cluster={"provider": "minikube"},
                            urls={"productpage": "http://127.0.0.1:8080/productpage"})
    return summary, render_html(summary)


def test_every_kind_follows_the_schema_and_has_a_section(full):
    summary, page = full
    validate(summary)
    # In the order the play runs them.
    assert [entry["name"] for entry in summary["scenarios"]] == list(KINDS)
    for name in KINDS:
        entry = scenario(summary, name)
        assert entry["state"] == "measured" and entry["passed"] is True
        assert entry["charts"] and entry["sent"] and entry["tests"], name
        assert charts_of(page, name), name
        assert entry["measured_at"] == "2026-12-03T06:40:00Z"


def test_canary_share_bars_are_proportional_with_the_interval_the_test_allows(full):
    _summary, page = full
    shares = charts_of(page, "canary")[0]
    assert shares.get("data-kind") == "shares"
    bars, intervals, expected = rects(shares, "bar"), rects(shares, "interval"), lines(shares, "expected")
    assert float(bars["v1"].get("width")) == pytest.approx(BAR_W * 0.5025, abs=0.01)
    assert float(bars["v3"].get("width")) == pytest.approx(BAR_W * 0.4975, abs=0.01)
    # 50 ± 7: the interval runs from 43% to 57%, the expected mark at 50%.
    for label in ("v1", "v3"):
        assert float(intervals[label].get("x")) == pytest.approx(px(43), abs=0.01)
        assert float(intervals[label].get("width")) == pytest.approx(BAR_W * 0.14, abs=0.01)
        assert float(expected[label].get("x1")) == pytest.approx(px(50), abs=0.01)
    values = {t.get("data-label"): t.text for t in shares.iter(SVG + "text") if t.get("class") == "value"}
    assert values["v1"] == "50.25%, expected 50 [43, 57]"
    labels = [t.text for t in shares.iter(SVG + "text") if t.get("class") == "label"]
    assert labels == ["v1", "v3"]


def test_ab_test_has_both_probes_each_at_100_percent(full):
    summary, page = full
    entry = scenario(summary, "ab_test")
    assert entry["sent"][0].startswith("jason (signed in as jason): 29 requests")
    assert entry["sent"][1] == "anonymous: 29 requests in 2.5 s"
    share_charts = [svg for svg in charts_of(page, "ab_test") if svg.get("data-kind") == "shares"]
    assert [list(rects(svg, "bar")) for svg in share_charts] == [["v2"], ["v1"]]
    for svg in share_charts:
        (rect,) = rects(svg, "bar").values()
        assert float(rect.get("width")) == pytest.approx(BAR_W)
        (mark,) = lines(svg, "expected").values()
        assert float(mark.get("x1")) == pytest.approx(px(100))


def test_mirror_counts_against_the_expected_copies(full):
    _summary, page = full
    (counts,) = charts_of(page, "mirror")
    bars = rects(counts, "bar")
    # Scale: the 20 requests sent; v2 answered none and logged every mirrored copy.
    assert float(bars["answered by v2"].get("width")) == 0
    assert float(bars["logged by v2 (mirror)"].get("width")) == pytest.approx(BAR_W)
    assert float(lines(counts, "expected")["answered by v2"].get("x1")) == pytest.approx(px(0))


def test_fault_latency_percentiles_against_the_bound(full):
    summary, page = full
    chart = [c for c in scenario(summary, "fault_injection")["charts"] if c["kind"] == "latency"][0]
    assert chart["bounds"] == [{"key": "p50", "relation": "at least", "value": 7000.0, "passed": True}]
    svg = [s for s in charts_of(page, "fault_injection") if s.get("data-kind") == "latency"][0]
    scale = 7051.0 * 1.1
    bars = rects(svg, "bar")
    assert list(bars) == ["p50", "p90", "p99", "max"]
    assert float(bars["p50"].get("width")) == pytest.approx(BAR_W * 7012.3 / scale, abs=0.01)
    assert float(bars["max"].get("width")) == pytest.approx(BAR_W / 1.1, abs=0.01)
    bound = lines(svg, "bound")["p50"]
    assert bound.get("data-relation") == "at least"
    assert float(bound.get("x1")) == pytest.approx(px(100 * 7000 / scale), abs=0.01)
    assert "p50 7012.3 ms: at least 7000 ms shown" in page


def test_circuit_breaking_503_share_and_histogram(full):
    _summary, page = full
    share, status = charts_of(page, "circuit_breaking")
    assert float(rects(share, "bar")["503"].get("width")) == pytest.approx(BAR_W * 0.4)
    # At least one of the 30 must be 503: the allowed interval starts at 3.33%.
    assert float(rects(share, "interval")["503"].get("x")) == pytest.approx(px(3.33), abs=0.01)
    histogram = rects(status, "bar")
    assert float(histogram["200"].get("width")) == pytest.approx(BAR_W * 0.6)
    assert float(histogram["503"].get("width")) == pytest.approx(BAR_W * 0.4)
    counts = {t.get("data-label"): t.text for t in status.iter(SVG + "text") if t.get("class") == "value"}
    assert counts == {"200": "60% (18)", "503": "40% (12)"}


def test_rate_limit_429_share_at_least_the_minimum(full):
    _summary, page = full
    share, status = charts_of(page, "rate_limit")
    assert float(rects(share, "bar")["429"].get("width")) == pytest.approx(BAR_W * 0.75)
    # 40 requests, at most 10 through: at least 30 (75%) must be 429.
    interval = rects(share, "interval")["429"]
    assert float(interval.get("x")) == pytest.approx(px(75))
    assert float(interval.get("width")) == pytest.approx(BAR_W * 0.25)
    assert float(rects(status, "bar")["200"].get("width")) == pytest.approx(BAR_W * 0.25)


def test_access_control_403_and_200_each_with_its_expected_code(full):
    _summary, page = full
    control, client = charts_of(page, "access_control")
    assert list(rects(control, "bar")) == ["403"] and list(rects(client, "bar")) == ["200"]
    assert float(rects(control, "bar")["403"].get("width")) == pytest.approx(BAR_W)
    assert float(lines(control, "expected")["403"].get("x1")) == pytest.approx(px(100))


def test_a_failed_verdict_is_shown_failed_with_the_bar_outside_the_interval():
    results = copy.deepcopy(recorded())
    probe = results["canary"]["result"]["probes"][0]
    probe.update(passed=False, shares={"v1": 70.05, "v3": 29.95})
    probe["checks"][0].update(passed=False, msg="shares: v1 70.05% (expected 50 \u00b1 7), v3 29.95% (expected 50 \u00b1 7): not "
                                                "consistent with v1 50 / v3 50 at 95% confidence (chi-square p=1e-08, n=197)")
    results["canary"]["result"]["passed"] = False
    summary = build_summary(None, {"canary": results["canary"]})
    validate(summary)
    page = render_html(summary)
    assert scenario(summary, "canary")["passed"] is False
    assert '<h3>canary: <span class="failed">FAILED</span></h3>' in page
    (shares, _status, _latency) = charts_of(page, "canary")
    bar_end = LABEL_W + float(rects(shares, "bar")["v1"].get("width"))
    interval = rects(shares, "interval")["v1"]
    assert bar_end == pytest.approx(px(70.05), abs=0.01)
    assert bar_end > float(interval.get("x")) + float(interval.get("width"))
    assert "not consistent with v1 50 / v3 50" in page


def test_applied_not_measured_says_so_and_draws_nothing():
    results = {"canary": {"passed": False, "measured": False, "verify_variable": "routing_verify",
                          "detail": "applied, not measured (routing_verify is false)"}}
    summary = build_summary(results)
    validate(summary)
    entry = scenario(summary, "canary")
    assert (entry["state"], entry["passed"], entry["charts"]) == ("applied_not_measured", None, [])
    page = render_html(summary)
    assert 'data-state="applied_not_measured"' in page
    assert "Applied, not measured: routing_verify is false" in page
    assert "FAILED" not in page and not charts_of(page, "canary")


def test_a_recorded_verdict_says_when_it_was_measured():
    results = {"mirror": {"passed": True, "recorded": True, "measured_at": "2026-12-02T21:10:05Z", "measured": True,
                          "detail": "20 requests from the client: ...", "summary": "", "verify_variable": ""}}
    # The artifact left by the run that measured it holds that run's gateway address, which may be gone.
    summary = build_summary(results, {"mirror": recorded()["mirror"]})
    validate(summary)
    entry = scenario(summary, "mirror")
    assert (entry["state"], entry["passed"], entry["measured_at"]) == ("recorded", True, "2026-12-02T21:10:05Z")
    assert entry["gateway_url"] is None and entry["charts"] == []
    page = render_html(summary)
    assert "Recorded verdict, not played again in this run: measured at 2026-12-02T21:10:05Z" in page
    assert "192.168.49.2" not in page


def test_everything_is_escaped_and_nothing_is_fetched():
    results = copy.deepcopy(recorded())
    results["canary"]["result"]["summary"] = "<script>alert(1)</script>"
    results["canary"]["result"]["probes"][0]["name"] = '<img src="http://evil.example/x">'
    summary = build_summary(None, {"canary": results["canary"]}, checks=[{"name": "<b>", "passed": True, "detail": "&"}],
                            graph={"file": "g.svg", "svg": '<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>'})
    page = render_html(summary)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # The graph held a script: it is named, not inlined.
    assert 'id="service-graph"' not in page and "g.svg" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)


def test_the_service_graph_is_inlined():
    # Shaped like what Graphviz writes for the telemetry role's DOT: a prolog, the xlink namespace, titles and text.
    text = (HERE / "graph" / "service-graph.svg").read_text()
    page = render_html(build_summary(None, graph={"file": "artifacts/service-graph.svg", "svg": text}))
    figure = re.search(r'<figure id="service-graph">(.*?)</figure>', page, re.S)
    assert figure, "the graph was not inlined"
    svg = ET.fromstring(figure.group(1))
    assert [t.text for t in svg.iter(SVG + "title")][1:5] == ["productpage", "details", "reviews", "ratings"]


def test_the_applied_objects_are_collapsed_in_the_section():
    objects = [{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "reviews"},
                "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 50}]}]}}]
    summary = build_summary(None, {"canary": recorded()["canary"]}, applied={"canary": objects})
    validate(summary)
    page = render_html(summary)
    details = re.search(r"<details><summary>Applied objects \(1\)</summary><pre>(.*?)</pre></details>", page, re.S)
    assert details and json.loads(html.unescape(details.group(1))) == objects


def test_the_module_writes_both_files_and_check_mode_writes_nothing(tmp_path):
    artifacts = tmp_path / "artifacts"
    (artifacts / "scenarios").mkdir(parents=True)
    for path in RECORDED.glob("*.json"):
        (artifacts / "scenarios" / path.name).write_text(path.read_text())
    dest = artifacts / "report"

    def run(check):
        args = {"ANSIBLE_MODULE_ARGS": {"dest": str(dest), "artifacts_dir": str(artifacts), "generated_at": "t",
                                        "_ansible_check_mode": check}}
        out = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "ansible_collections.istiolab.mesh.plugins.modules.mesh_report"],
                             input=json.dumps(args), capture_output=True, text=True, cwd=REPO / "collections", check=False)
        return json.loads(out.stdout)

    planned = run(True)
    assert planned["changed"] and len(planned["written"]) == 2 and not dest.exists()
    written = run(False)
    assert written["changed"] and (dest / "index.html").is_file()
    validate(json.loads((dest / "summary.json").read_text()))
    assert [s["name"] for s in written["scenarios"]][:2] == ["canary", "ab_test"]
    again = run(False)
    assert again["changed"] is False and again["written"] == []


def test_an_artifact_of_a_scenario_this_run_did_not_play_is_shown_from_an_earlier_run():
    this_run = {"canary": recorded()["canary"]["result"]}
    summary = build_summary(this_run, recorded())
    validate(summary)
    assert scenario(summary, "canary")["state"] == "measured"
    assert scenario(summary, "mirror")["state"] == "earlier_run"
    page = render_html(summary)
    assert "Not run in this run: measured in an earlier run at 2026-12-03T06:40:00Z" in page
    assert charts_of(page, "mirror")
