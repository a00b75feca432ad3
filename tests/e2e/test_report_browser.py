"""The proof report in a real browser: headless Chromium (Debian's chromium package) opens a report that the mesh_report
module wrote from recorded results, renders every scenario's section and chart, and sends no request off the machine.

Without Chromium this fails, not skips: `.ci/run` installs it (`apt-get install -y chromium`).
"""

from __future__ import annotations

import html.parser
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.tools import png
from tests.tools.chromium import binary as chromium_binary

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / "tests" / "unit" / "report" / "recorded"
GRAPH = REPO / "tests" / "unit" / "report" / "graph" / "service-graph.svg"
OUTPUT = REPO / "tests" / "output"
SCREENSHOT = OUTPUT / "report.png"
# The bar colour of the report's CSS (.bar), as the screenshot shows it.
BAR_RGB = (0x4A, 0x7F, 0xC1)
# Chromium's own requests (network time, sign-in) have no origin; a page's own requests carry the page's origin
# (a file:// page's origin is "null").
BROWSER_INITIATOR = "not an origin"
ERR_NAME_NOT_RESOLVED = -105
# The scenarios the page is built with, and what each must show.
MEASURED = ("canary", "ab_test", "mirror", "fault_injection", "circuit_breaking", "rate_limit", "access_control")


def chromium(binary: str, workdir: Path, url: str, *mode: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Run headless Chromium on ``url`` with a fresh profile, every name resolving to nothing; return the run and its netlog."""
    profile = workdir / ("profile-%d" % len(list(workdir.glob("profile-*"))))
    netlog = profile.with_suffix(".netlog.json")
    argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--user-data-dir=%s" % profile,
            "--host-resolver-rules=MAP * ~NOTFOUND", "--log-net-log=%s" % netlog, *mode, url]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return run, json.loads(netlog.read_text())


def url_requests(netlog: dict) -> list[dict]:
    """The parameters of every URL request the network stack started."""
    types = dict((number, name) for name, number in netlog["constants"]["logEventTypes"].items())
    return [event["params"] for event in netlog["events"]
            if types[event["type"]] == "URL_REQUEST_START_JOB" and "url" in event.get("params", {})]


def network_problems(netlog: dict) -> list[str]:
    """Every request that could have left the machine: any the page started, and any TCP connection opened."""
    types = dict((number, name) for name, number in netlog["constants"]["logEventTypes"].items())
    problems = ["the page requested %s" % r["url"] for r in url_requests(netlog)
                if r.get("initiator") != BROWSER_INITIATOR and not r["url"].startswith(("file:", "data:"))]
    for event in netlog["events"]:
        name = types[event["type"]]
        params = event.get("params") or {}
        if name == "TCP_CONNECT" and params.get("address"):
            problems.append("a TCP connection to %s" % params["address"])
        if name == "HOST_RESOLVER_MANAGER_REQUEST" and params.get("net_error") not in (None, ERR_NAME_NOT_RESOLVED):
            problems.append("a name resolved (net_error %s)" % params.get("net_error"))
    return problems


class Dom(html.parser.HTMLParser):
    """The scenario sections of a dumped DOM, each with the charts and bars inside it."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.current = None
        self.depth = 0
        self.graph = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and "scenario" in (attrs.get("class") or ""):
            self.current = self.sections.setdefault(attrs["id"].replace("scenario-", ""),
                                                    {"state": attrs.get("data-state"), "charts": [], "bars": 0})
            self.depth = 0
        if self.current is not None:
            if tag == "section":
                self.depth += 1
            if tag == "svg":
                self.current["charts"].append(attrs.get("data-kind"))
            if tag == "rect" and attrs.get("class") == "bar":
                self.current["bars"] += 1
        if tag == "figure" and attrs.get("id") == "service-graph":
            self.graph = True

    def handle_endtag(self, tag):
        if self.current is not None and tag == "section":
            self.depth -= 1
            if self.depth == 0:
                self.current = None


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows (RGB or RGBA, 8 bits) of a PNG, decoded with the standard library."""
    return png.decode(path.read_bytes())


def bar_pixels(path: Path) -> int:
    width, _height, rows = png_pixels(path)
    channels = len(rows[0]) // width
    target = bytes(BAR_RGB)
    return sum(1 for row in rows for i in range(0, len(row), channels) if row[i:i + 3] == target)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The report mesh_report writes for recorded results: every kind measured, one recorded verdict, one applied only."""
    base = tmp_path_factory.mktemp("report-browser")
    artifacts = base / "artifacts"
    (artifacts / "scenarios").mkdir(parents=True)
    results = {}
    for path in sorted(RECORDED.glob("*.json")):
        (artifacts / "scenarios" / path.name).write_text(path.read_text())
        results[path.stem] = json.loads(path.read_text())["result"]
    results["all_v1"] = {"passed": True, "recorded": True, "measured": True, "measured_at": "2026-12-02T21:10:05Z",
                         "detail": "anonymous: v1 100% of 29 pages", "summary": "anonymous: v1 100% of 29 pages"}
    results["scenario_reset"] = {"passed": False, "measured": False, "verify_variable": "routing_verify",
                                 "detail": "applied, not measured (routing_verify is false)"}
    args = {"dest": str(artifacts / "report"), "artifacts_dir": str(artifacts), "results": results,
            "graph_file": str(GRAPH), "generated_at": "2026-12-03T06:45:00Z",
            "versions": {"istio": "1.31.1", "minikube": "v1.37.0", "kubernetes": "v1.35.0"},
            "cluster": {"provider": "minikube", "context": "istiolab"},
            "urls": {"productpage": "http://127.0.0.1:8080/productpage", "grafana": "http://127.0.0.1:3000",
                     "kiali": "http://127.0.0.1:20001/kiali"},
            "checks": [{"name": "bookinfo productpage", "passed": True, "detail": "200 through the gateway"},
                       {"name": "telemetry prometheus", "passed": True, "detail": "istio_requests_total has 12 series"}]}
    out = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "ansible_collections.istiolab.mesh.plugins.modules.mesh_report"],
                         input=json.dumps({"ANSIBLE_MODULE_ARGS": args}), capture_output=True, text=True,
                         cwd=REPO / "collections", check=False)
    assert json.loads(out.stdout).get("changed") is True, out.stdout + out.stderr
    return artifacts / "report" / "index.html"


def test_the_page_names_no_resource_off_the_machine(report):
    page = report.read_text()
    # Links and resources: none at all.
    assert not any(attr in page for attr in (" src=", " href=", "xlink:href", "url(", "@import", "<script", "<link", "<iframe"))
    # URLs: the SVG namespaces, and as text only the demo's own: its 127.0.0.1 port-forwards and the gateway it measured.
    gateways = {json.loads(path.read_text())["gateway_url"] for path in RECORDED.glob("*.json")}
    urls = set(re.findall(r"[a-z][a-z0-9+.-]*://[^\s<>\"']+", page, re.I)) - {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert urls, "the page shows none of the demo's URLs"
    assert [url for url in urls if not url.startswith("http://127.0.0.1:") and not url.startswith(tuple(gateways))] == []


def test_chromium_renders_every_section_and_chart_and_sends_nothing_away(report, tmp_path):
    binary = chromium_binary()
    run, netlog = chromium(binary, tmp_path, report.as_uri(), "--dump-dom")
    dom = Dom()
    dom.feed(run.stdout)
    for name in MEASURED:
        assert dom.sections[name]["state"] == "measured", name
        assert dom.sections[name]["charts"] and dom.sections[name]["bars"] >= 1, (name, dom.sections[name])
    assert set(dom.sections["fault_injection"]["charts"]) == {"shares", "status", "latency"}
    assert dom.sections["all_v1"] == {"state": "recorded", "charts": [], "bars": 0}
    assert dom.sections["scenario_reset"] == {"state": "applied_not_measured", "charts": [], "bars": 0}
    assert dom.graph, "the service graph was not inlined"
    assert "measured at 2026-12-02T21:10:05Z" in run.stdout
    assert network_problems(netlog) == []

    OUTPUT.mkdir(exist_ok=True)
    if SCREENSHOT.exists():
        SCREENSHOT.unlink()
    _run, netlog = chromium(binary, tmp_path, report.as_uri(), "--screenshot=%s" % SCREENSHOT, "--window-size=1280,2000",
                            "--hide-scrollbars")
    assert network_problems(netlog) == []
    width, height, _rows = png_pixels(SCREENSHOT)
    assert (width, height) == (1280, 2000)
    # The charts were drawn: the first screen alone holds bars of several charts in the bar colour.
    assert bar_pixels(SCREENSHOT) > 2000


def test_the_network_check_catches_a_page_that_fetches(report, tmp_path):
    """The check above can fail: the same page with an external image, its policy removed, is caught."""
    page = report.read_text()
    start = page.index("<meta http-equiv")
    bad = page[:start] + page[page.index(">", start) + 1:]
    bad = bad.replace("<h1>", '<img alt="" src="http://report-test.invalid/pixel.png"><h1>', 1)
    target = tmp_path / "fetching.html"
    target.write_text(bad)
    _run, netlog = chromium(chromium_binary(), tmp_path, target.as_uri(), "--dump-dom")
    assert network_problems(netlog) == ["the page requested http://report-test.invalid/pixel.png"]
