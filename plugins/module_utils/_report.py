# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The proof report: what the demo measured, as ``summary.json`` for machines and one self-contained HTML page.

``build_summary`` turns the scenarios' results (``routing_scenario_results`` and the files
``<artifacts>/scenarios/<scenario>.json``), the roles' verifications and the run's facts into one dict that
follows ``report_schema.json``. ``render_html`` draws the page from that dict only: inline CSS and SVG, no
script and no external resource, every text escaped. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import html
import json
import os
import re

SCHEMA_VERSION = 1
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report_schema.json")

# The order the play runs the scenarios in; others follow by name.
SCENARIO_ORDER = ("all_v1", "canary", "ab_test", "mirror", "fault_injection", "circuit_breaking", "rate_limit",
                  "access_control", "scenario_reset")
KINDS = {"mirror": "mirror", "circuit_breaking": "circuit_breaking", "rate_limit": "rate_limit",
         "access_control": "access_control"}
PERCENTILES = ("p50", "p90", "p99", "max")

# Geometry of the bar charts, in SVG user units: labels left of LABEL_W, the bars BAR_W wide at 100%.
LABEL_W = 130
BAR_W = 400
ROW_H = 22
VALUE_W = 280

_SHARE_ROW = re.compile(r"([^\s,:]+) ([\d.]+)% \(expected ([\d.]+)(?: \u00b1 ([\d.]+))?\)")
_ALL_ROWS = re.compile(r"all \d+ responses ([^\s:]+):")
_BOUND = re.compile(r"(at most|at least) ([\d.]+) ms")
_MIRROR_EXPECTED = re.compile(r"expected\s+([\d.]+)\s+\u00b1\s+([\d.]+)")
_RL_COUNTS = re.compile(r"^(\d+) requests in ([\d.]+) s: (\d+) answered 200, (\d+) refused with 429")


class ReportError(Exception):
    """The results cannot be reported; the message says which and why."""


def _true(value):
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fmt(value):
    return ("%.2f" % float(value)).rstrip("0").rstrip(".")


def _clip(value, low=0.0, high=100.0):
    return max(low, min(high, value))


def expected_rows(checks, name="shares"):
    """``{label: (expected, margin or None)}`` from the sentence of traffic_probe's ``name`` check (shares or status)."""
    rows = {}
    for check in checks or []:
        if str(check.get("name")) != name:
            continue
        for label in _ALL_ROWS.findall(str(check.get("msg", ""))):
            rows[label] = (100.0, None)
        for label, _share, expected, margin in _SHARE_ROW.findall(str(check.get("msg", ""))):
            rows[label] = (float(expected), float(margin) if margin else None)
    return rows


def latency_bounds(checks):
    """``[{key, relation, value}]`` from traffic_probe's latency checks (named ``max_latency_ms.p99`` and so on)."""
    bounds = []
    for check in checks or []:
        name = str(check.get("name", ""))
        if not name.startswith(("max_latency_ms.", "min_latency_ms.")):
            continue
        match = _BOUND.search(str(check.get("msg", "")))
        value = float(match.group(2)) if match else None
        bounds.append({"key": name.split(".", 1)[1], "relation": "at most" if name.startswith("max") else "at least",
                       "value": value, "passed": bool(check.get("passed"))})
    return bounds


def _share_chart(title, shares, counts_total, checks):
    expected = expected_rows(checks)
    bars = []
    labels = sorted(set(shares) | set(expected), key=lambda label: (-float(shares.get(label, 0)), str(label)))
    for label in labels:
        value = float(shares.get(label, 0.0))
        exp, margin = expected.get(label, (None, None))
        low = high = None
        if exp is not None:
            low, high = (_clip(exp - margin), _clip(exp + margin)) if margin is not None else (exp, exp)
        bars.append({"label": str(label), "value": round(value, 2), "expected": exp, "low": low, "high": high})
    return {"kind": "shares", "title": title, "unit": "%", "scale": 100.0, "total": counts_total, "bars": bars}


def _status_chart(title, status, expected_code=None):
    counts = dict((str(code), int(count)) for code, count in (status or {}).items())
    total = sum(counts.values())
    bars = []
    for code in sorted(counts, key=lambda c: (len(c), c)):
        value = round(100.0 * counts[code] / total, 2) if total else 0.0
        exp = None
        if expected_code is not None:
            exp = 100.0 if code == str(expected_code) else 0.0
        bars.append({"label": code, "value": value, "count": counts[code], "expected": exp,
                     "low": exp, "high": exp})
    if expected_code is not None and str(expected_code) not in counts:
        bars.append({"label": str(expected_code), "value": 0.0, "count": 0, "expected": 100.0, "low": 100.0, "high": 100.0})
    return {"kind": "status", "title": title, "unit": "%", "scale": 100.0, "total": total, "bars": bars}


def _latency_chart(title, latency, bounds):
    values = dict((key, float(latency[key])) for key in PERCENTILES if _number(latency.get(key)) is not None)
    if not values:
        return None
    return {"kind": "latency", "title": title, "unit": "ms", "values": values, "bounds": bounds,
            "scale": max(list(values.values()) + [b["value"] for b in bounds if b["value"] is not None]) * 1.1 or 1.0}


def _routing_part(result):
    sent, charts, tests = [], [], []
    for probe in result.get("probes") or []:
        name = str(probe.get("name"))
        who = str(probe.get("who") or "")
        requests = int(probe.get("requests") or 0)
        checks = probe.get("checks") or []
        duration = probe.get("duration_s")
        took = " in %s s" % _fmt(duration) if _number(duration) is not None else ""
        sender = name if not who or who == name else "%s (%s)" % (name, who)
        sent.append("%s: %d requests%s" % (sender, requests, took))
        shares = dict(probe.get("shares") or {})
        if shares and set(shares) != {"unmatched"}:
            charts.append(_share_chart("%s: shares" % name, shares, requests, checks))
        full = [label for label, (exp, _m) in expected_rows(checks, "status").items() if exp == 100.0]
        status_expect = full[0] if full else None
        charts.append(_status_chart("%s: status" % name, probe.get("status"), status_expect))
        latency = _latency_chart("%s: latency" % name, probe.get("latency_ms") or {}, latency_bounds(checks))
        if latency:
            charts.append(latency)
        for check in checks:
            tests.append({"name": "%s: %s" % (name, check.get("name")), "passed": bool(check.get("passed")),
                          "test": check.get("test"), "p_value": check.get("p_value"), "msg": str(check.get("msg", ""))})
        if not checks:
            tests.append({"name": name, "passed": bool(probe.get("passed")), "test": None, "p_value": None,
                          "msg": str(probe.get("msg") or probe.get("brief") or "")})
    return sent, charts, tests


def _mirror_part(result):
    requests = int(result.get("requests") or 0)
    answers = result.get("answers") or {}
    logged = result.get("logged") or {}
    match = _MIRROR_EXPECTED.search(str(result.get("detail", "")))
    expected, slack = (float(match.group(1)), float(match.group(2))) if match else (None, None)
    bars = [{"label": "answered by v1", "value": int(answers.get("v1", 0)), "expected": float(requests),
             "low": float(requests), "high": float(requests)},
            {"label": "answered by v2", "value": int(answers.get("v2", 0)), "expected": 0.0, "low": 0.0, "high": 0.0},
            {"label": "logged by v1", "value": int(logged.get("v1", 0)), "expected": float(requests),
             "low": float(requests), "high": float(requests)},
            {"label": "logged by v2 (mirror)", "value": int(logged.get("v2", 0)), "expected": expected,
             "low": max(0.0, expected - slack) if expected is not None else None,
             "high": min(float(requests), expected + slack) if expected is not None else None}]
    chart = {"kind": "counts", "title": "mirror: answers and logged requests", "unit": "requests",
             "scale": float(max([requests] + [b["value"] for b in bars]) or 1), "total": requests, "bars": bars}
    return ["%d requests from the client inside the mesh to httpbin" % requests], [chart]


def _circuit_breaking_part(result):
    codes = dict((str(code), int(count)) for code, count in (result.get("codes") or {}).items())
    total = int(result.get("requests") or sum(codes.values()))
    share = float(result.get("share_503") or 0.0)
    low = round(100.0 / total, 2) if total else None
    charts = [{"kind": "shares", "title": "circuit_breaking: share refused with 503", "unit": "%", "scale": 100.0,
               "total": total, "bars": [{"label": "503", "value": share, "expected": None, "low": low, "high": 100.0}]},
              _status_chart("circuit_breaking: status", codes)]
    return ["%d requests at once from fortio, beyond the connection pool" % total], charts


def _rate_limit_part(result):
    match = _RL_COUNTS.search(str(result.get("detail", "")))
    share = float(result.get("share_429") or 0.0)
    min_limited = int(result.get("min_limited") or 0)
    if match:
        requests, duration, served, limited = int(match.group(1)), match.group(2), int(match.group(3)), int(match.group(4))
    else:
        requests, duration, served, limited = 0, None, 0, int(result.get("limited") or 0)
    low = round(100.0 * min_limited / requests, 2) if requests else None
    charts = [{"kind": "shares", "title": "rate_limit: share refused with 429", "unit": "%", "scale": 100.0, "total": requests,
               "bars": [{"label": "429", "value": share, "expected": None, "low": low, "high": 100.0 if low is not None else None}]}]
    if match:
        charts.append(_status_chart("rate_limit: status", {"200": served, "429": limited}))
    sent = ["%d requests through the gateway%s; the bucket lets at most %s through" % (
        requests, " in %s s" % duration if duration else "", result.get("allowed_max", "?"))]
    return sent, charts


def _access_control_part(result):
    sources = result.get("sources") or {}
    status = result.get("status") or {}
    sent, charts = [], []
    for source in sorted(set(sources) | set(status)):
        expect = (sources.get(source) or {})
        seen = status.get(source)
        if isinstance(seen, list):
            tally = {}
            for code in seen:
                tally[str(code)] = tally.get(str(code), 0) + 1
            seen = tally
        sent.append("%s: %s, so %s expected" % (source, expect.get("reason", "?"), expect.get("status", "?")))
        charts.append(_status_chart("%s: status" % source, seen or {}, expect.get("status")))
    return sent, charts


def _state(result):
    if not _true(result.get("measured", True)):
        return "applied_not_measured"
    if _true(result.get("recorded", False)):
        return "recorded"
    return "measured"


def scenario_entry(name, result, artifact=None, applied=None):
    """One scenario of the summary from its result and, when written, its artifact file's content."""
    if not isinstance(result, dict):
        raise ReportError("the result of scenario %s is not a dict with passed and detail: %r" % (name, result))
    artifact = artifact or {}
    state = _state(result)
    kind = KINDS.get(name, "routing")
    entry = {
        "name": str(name), "kind": kind, "state": state,
        "passed": None if state == "applied_not_measured" else _true(result.get("passed")),
        "measured_at": result.get("measured_at") or artifact.get("measured_at") or None,
        # A recorded verdict's artifact is an earlier run's, and its gateway address may be gone: not shown.
        "gateway_url": (artifact.get("gateway_url") or None) if state == "measured" else None,
        "artifact": result.get("artifact") or None,
        "verify_variable": result.get("verify_variable") or None,
        "summary": str(result.get("summary") or ""),
        "detail": str(result.get("detail") or ""),
        "applied": list(applied or []),
        "sent": [], "charts": [], "tests": [],
    }
    if state != "measured":
        return entry
    if kind == "routing":
        entry["sent"], entry["charts"], entry["tests"] = _routing_part(result)
    else:
        entry["sent"], entry["charts"] = {"mirror": _mirror_part, "circuit_breaking": _circuit_breaking_part,
                                          "rate_limit": _rate_limit_part, "access_control": _access_control_part}[kind](result)
        entry["tests"] = [{"name": name, "passed": entry["passed"], "test": None, "p_value": None, "msg": entry["detail"]}]
    return entry


def _order(name):
    return (SCENARIO_ORDER.index(name) if name in SCENARIO_ORDER else len(SCENARIO_ORDER), name)


def _screenshots(screenshots):
    if screenshots is None:
        return {"enabled": False, "browser": None, "shots": []}
    shots = [{"name": str(shot["name"]), "title": str(shot.get("title") or shot["name"]), "url": shot.get("url") or None,
              "file": shot.get("file") or None, "skipped": None if shot.get("file") else str(shot.get("skipped") or "not taken")}
             for shot in screenshots.get("shots") or []]
    return {"enabled": True, "browser": screenshots.get("browser") or None, "shots": shots}


def build_summary(results, artifacts=None, applied=None, checks=None, versions=None, cluster=None, urls=None,
                  graph=None, generated_at=None, screenshots=None):
    """The report's facts as a dict that follows ``report_schema.json``.

    ``results``: scenario -> result (``routing_scenario_results``), or None when the artifacts are all this run's (a
    scenario with an artifact and no result is then shown as measured in an earlier run); ``artifacts``: scenario -> the content of its
    ``scenarios/<scenario>.json``; ``applied``: scenario -> objects; ``checks``: ``[{name, passed, detail}]``;
    ``graph``: ``{file, svg}`` (the SVG's text) or None; ``screenshots``: ``{browser, shots: [{name, title, url, file,
    skipped}]}`` (``file`` the PNG beside the report, ``skipped`` why there is none), or None when screenshots are off.
    """
    this_run = results is not None
    results = dict(results or {})
    artifacts = dict(artifacts or {})
    applied = dict(applied or {})
    scenarios = []
    for name in sorted(set(results) | set(artifacts), key=_order):
        result = results.get(name)
        if result is None:
            result = dict(artifacts[name].get("result") or {})
        entry = scenario_entry(name, result, artifacts.get(name), applied.get(name))
        if this_run and name not in results and entry["state"] == "measured":
            # Its file is still in the artifacts, but this run did not play it (a run with --tags of other scenarios).
            entry["state"], entry["gateway_url"] = "earlier_run", None
        scenarios.append(entry)
    graph = dict(graph or {})
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": generated_at,
        "versions": dict((str(k), str(v)) for k, v in (versions or {}).items()),
        "cluster": dict((str(k), str(v)) for k, v in (cluster or {}).items()),
        "urls": dict((str(k), str(v)) for k, v in (urls or {}).items()),
        "checks": [{"name": str(c.get("name")), "passed": _true(c.get("passed")), "detail": str(c.get("detail", ""))}
                   for c in (checks or [])],
        "graph": {"file": graph.get("file") or None, "svg": graph.get("svg") or None, "note": graph.get("note") or None},
        "scenarios": scenarios,
        "screenshots": _screenshots(screenshots),
    }


# ---------------------------------------------------------------------------------------------------- the HTML page

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}
.passed{color:#176f2c;font-weight:bold}.failed{color:#b00020;font-weight:bold}.neutral{color:#666;font-weight:bold}
section.scenario{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0}
pre{background:#f6f6f6;padding:.5em;overflow:auto;font-size:.85em}
svg.chart{display:block;margin:.4em 0}svg text{font-size:12px;font-family:system-ui,sans-serif}
.bar{fill:#4a7fc1}.interval{fill:#f2b134;fill-opacity:.5;stroke:#c98a00;stroke-width:1}.expected{stroke:#222;stroke-width:2}
figure.screenshot img{max-width:100%;border:1px solid #ccc}
.bound{stroke:#b00020;stroke-width:2;stroke-dasharray:4 2}.axis{stroke:#888}
"""


def _e(value):
    return html.escape("" if value is None else str(value), quote=True)


def _verdict(passed, state="measured"):
    if state == "applied_not_measured" or passed is None:
        return '<span class="neutral">applied, not measured</span>'
    return '<span class="passed">passed</span>' if passed else '<span class="failed">FAILED</span>'


def bar_chart_svg(chart):
    """A horizontal item per entry, ``value / scale`` of BAR_W wide, with the allowed interval and the expected value."""
    bars = chart.get("bars") or []
    scale = float(chart.get("scale") or 1.0)
    height = ROW_H * len(bars) + 24
    width = LABEL_W + BAR_W + VALUE_W
    unit = chart.get("unit", "")
    out = ['<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-kind="%s" width="%d" height="%d" viewBox="0 0 %d %d">'
           % (_e(chart.get("kind")), width, height, width, height),
           '<title>%s</title>' % _e(chart.get("title")),
           '<line class="axis" x1="%d" y1="0" x2="%d" y2="%d"/>' % (LABEL_W, LABEL_W, ROW_H * len(bars))]

    def x(value):
        return LABEL_W + BAR_W * _clip(float(value), 0.0, scale) / scale

    for index, item in enumerate(bars):
        y = ROW_H * index
        label = _e(item["label"])
        out.append('<text class="label" x="%d" y="%d" text-anchor="end">%s</text>' % (LABEL_W - 6, y + 15, label))
        out.append('<rect class="bar" data-label="%s" x="%d" y="%d" width="%.2f" height="%d"/>'
                   % (label, LABEL_W, y + 5, x(item["value"]) - LABEL_W, ROW_H - 10))
        # Over the bar, translucent: the interval the test allows.
        if item.get("low") is not None and item.get("high") is not None:
            lo, hi = x(item["low"]), x(item["high"])
            out.append('<rect class="interval" data-label="%s" x="%.2f" y="%d" width="%.2f" height="%d"><title>allowed %s to %s</title></rect>'
                       % (label, lo, y + 1, max(hi - lo, 0.0), ROW_H - 2, _fmt(item["low"]), _fmt(item["high"])))
        if item.get("expected") is not None:
            ex = x(item["expected"])
            out.append('<line class="expected" data-label="%s" x1="%.2f" y1="%d" x2="%.2f" y2="%d"/>' % (label, ex, y, ex, y + ROW_H))
        text = "%s%s" % (_fmt(item["value"]), unit if unit == "%" else " " + unit)
        if item.get("count") is not None:
            text += " (%d)" % item["count"]
        if item.get("expected") is not None:
            text += ", expected %s" % _fmt(item["expected"])
        if item.get("low") is not None and item.get("high") is not None and item["low"] != item["high"]:
            text += " [%s, %s]" % (_fmt(item["low"]), _fmt(item["high"]))
        out.append('<text class="value" data-label="%s" x="%d" y="%d">%s</text>' % (label, LABEL_W + BAR_W + 6, y + 15, _e(text)))
    out.append('<text x="%d" y="%d">0</text><text x="%d" y="%d" text-anchor="end">%s%s</text>'
               % (LABEL_W, height - 6, LABEL_W + BAR_W, height - 6, _fmt(scale), _e(unit if unit == "%" else " " + unit)))
    out.append("</svg>")
    return "".join(out)


def latency_chart_svg(chart):
    """A bar per percentile on one millisecond scale, with each bound as a dashed line at its value."""
    values = chart["values"]
    bars = [{"label": key, "value": values[key], "expected": None, "low": None, "high": None} for key in PERCENTILES if key in values]
    svg = bar_chart_svg({"kind": "latency", "title": chart.get("title"), "unit": "ms", "scale": chart["scale"], "bars": bars})
    scale = float(chart["scale"])
    marks = []
    for bound in chart.get("bounds") or []:
        if bound.get("value") is None or bound["key"] not in values:
            continue
        row = [b["label"] for b in bars].index(bound["key"])
        bx = LABEL_W + BAR_W * _clip(float(bound["value"]), 0.0, scale) / scale
        marks.append('<line class="bound" data-label="%s" data-relation="%s" x1="%.2f" y1="%d" x2="%.2f" y2="%d"><title>%s %s ms</title></line>'
                     % (_e(bound["key"]), _e(bound["relation"]), bx, ROW_H * row, bx, ROW_H * (row + 1),
                        _e(bound["relation"]), _fmt(bound["value"])))
    return svg[:-len("</svg>")] + "".join(marks) + "</svg>"


def chart_svg(chart):
    return latency_chart_svg(chart) if chart.get("kind") == "latency" else bar_chart_svg(chart)


def _dict_table(mapping, empty):
    if not mapping:
        return "<p>%s</p>" % _e(empty)
    rows = "".join("<tr><th>%s</th><td>%s</td></tr>" % (_e(k), _e(v)) for k, v in mapping.items())
    return "<table>%s</table>" % rows


_SVG_UNSAFE = re.compile(r"<\s*(script|foreignObject|iframe|image|use)\b|\b(href|src)\s*=|\bon\w+\s*=|url\s*\(", re.IGNORECASE)


def safe_svg(text):
    """The graph's SVG without its XML prolog, or None when it holds anything that could run or fetch."""
    if not text:
        return None
    start = text.find("<svg")
    if start < 0:
        return None
    body = text[start:]
    # Graphviz writes xlink namespaces and <title> elements, never scripts or external links for our DOT.
    body_checked = re.sub(r'xmlns(:xlink)?="[^"]*"', "", body)
    if _SVG_UNSAFE.search(body_checked):
        return None
    return body


def _scenario_html(entry):
    name = entry["name"]
    parts = ['<section class="scenario" id="scenario-%s" data-state="%s">' % (_e(name), _e(entry["state"])),
             "<h3>%s: %s</h3>" % (_e(name), _verdict(entry["passed"], entry["state"]))]
    if entry["state"] == "applied_not_measured":
        parts.append("<p>Applied, not measured: %s is false, so nothing measured its effect.</p>"
                     % _e(entry.get("verify_variable") or "its verify setting"))
        if entry.get("measured_at"):
            parts.append("<p>Applied at %s.</p>" % _e(entry["measured_at"]))
    elif entry["state"] == "earlier_run":
        parts.append('<p class="recorded">Not run in this run: measured in an earlier run at %s; its result is still in the artifacts.</p>'
                     % _e(entry.get("measured_at") or "an unknown time"))
    elif entry["state"] == "recorded":
        parts.append('<p class="recorded">Recorded verdict, not played again in this run: measured at %s with the same objects '
                     "and settings (<code>--tags %s</code> measures it now).</p>" % (_e(entry.get("measured_at") or "an earlier run"), _e(name)))
    if entry.get("summary"):
        parts.append("<p>%s</p>" % _e(entry["summary"]))
    if entry.get("applied"):
        parts.append("<details><summary>Applied objects (%d)</summary><pre>%s</pre></details>"
                     % (len(entry["applied"]), _e(json.dumps(entry["applied"], indent=2, sort_keys=True))))
    else:
        parts.append("<details><summary>Applied objects</summary><p>The objects were not passed to the report in this run.</p></details>")
    if entry["sent"]:
        parts.append("<h4>Sent</h4><ul>%s</ul>" % "".join("<li>%s</li>" % _e(s) for s in entry["sent"]))
    if entry["charts"]:
        parts.append("<h4>Came back</h4>")
        for chart in entry["charts"]:
            parts.append('<figure class="chart" data-kind="%s"><figcaption>%s</figcaption>%s</figure>'
                         % (_e(chart["kind"]), _e(chart["title"]), chart_svg(chart)))
    if entry["tests"]:
        parts.append("<h4>Verdict and test</h4><table><tr><th>check</th><th>result</th><th>test</th><th>numbers</th></tr>%s</table>"
                     % "".join("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                         _e(t["name"]), _verdict(t["passed"]), _e(t.get("test") or ""), _e(t["msg"])) for t in entry["tests"]))
    elif entry["state"] != "applied_not_measured" and entry.get("detail"):
        parts.append("<h4>Verdict and test</h4><p>%s</p>" % _e(entry["detail"]))
    if entry.get("gateway_url"):
        parts.append("<p>Gateway used: %s</p>" % _e(entry["gateway_url"]))
    parts.append("</section>")
    return "".join(parts)


def _screenshots_html(summary):
    screenshots = summary.get("screenshots") or {}
    shots = screenshots.get("shots") or []
    if not screenshots.get("enabled"):
        return "<p>No screenshots: they are off (mesh_report_screenshots: true takes them on a real run).</p>"
    parts = []
    for shot in shots:
        if shot.get("file"):
            parts.append('<figure class="screenshot" id="screenshot-%s"><figcaption>%s (%s)</figcaption><img src="%s" alt="%s"></figure>'
                         % (_e(shot["name"]), _e(shot["title"]), _e(shot.get("url")), _e(shot["file"]), _e(shot["title"])))
        else:
            parts.append('<p class="skipped" id="screenshot-%s">%s: not taken, %s.</p>' % (_e(shot["name"]), _e(shot["title"]), _e(shot["skipped"])))
    return "".join(parts) or "<p>No screenshot to take in this run.</p>"


def render_html(summary):
    """The self-contained page, drawn from ``summary`` (the dict ``build_summary`` returns)."""
    checks = summary.get("checks") or []
    check_rows = "".join("<tr><td>%s</td><td>%s</td><td>%s</td></tr>" % (_e(c["name"]), _verdict(c["passed"]), _e(c["detail"]))
                         for c in checks)
    graph = summary.get("graph") or {}
    svg = safe_svg(graph.get("svg"))
    if svg:
        graph_html = '<figure id="service-graph">%s</figure>' % svg
    elif graph.get("file"):
        graph_html = "<p>The service graph is at %s (no SVG picture to show: %s).</p>" % (
            _e(graph["file"]), _e(graph.get("note") or "Graphviz dot did not draw one"))
    else:
        graph_html = "<p>No service graph in this run (%s).</p>" % _e(graph.get("note") or "the telemetry role draws it when it verifies")
    scenarios = summary.get("scenarios") or []
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # No resource may come from anywhere: the page is one file, and its pictures are inline SVG.
        # The screenshots are PNG files beside the page (img-src 'self' file:), never anything from elsewhere.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data: 'self' file:\">",
        "<title>istiolab.mesh proof report</title><style>%s</style></head><body>" % _CSS,
        "<h1>istiolab.mesh proof report</h1>",
        "<p>Written %s.</p>" % _e(summary.get("generated_at") or "at an unknown time"),
        '<h2 id="run">Versions, cluster and URLs</h2>',
        "<h3>Versions</h3>", _dict_table(summary.get("versions"), "No versions recorded."),
        "<h3>Cluster</h3>", _dict_table(summary.get("cluster"), "No cluster recorded."),
        "<h3>URLs</h3>", _dict_table(summary.get("urls"), "No URL opened in this run."),
        '<h2 id="checks">Checks</h2>',
        "<table><tr><th>check</th><th>result</th><th>detail</th></tr>%s</table>" % check_rows if checks
        else "<p>No verification ran in this run.</p>",
        '<h2 id="scenarios">Scenarios</h2>',
        "".join(_scenario_html(entry) for entry in scenarios) if scenarios else "<p>No scenario ran in this run.</p>",
        '<h2 id="graph">Service graph</h2>', graph_html,
        '<h2 id="screenshots">Screenshots</h2>', _screenshots_html(summary),
        "</body></html>",
    ]
    return "\n".join(body) + "\n"


def load_schema():
    with open(SCHEMA_FILE) as handle:
        return json.load(handle)
