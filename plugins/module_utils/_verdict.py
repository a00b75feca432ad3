# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every scenario's decision rule, in one place: what was measured in, ``passed`` and a sentence out.

A scenario is its objects, its probes and one of these rules (``KINDS``, reached through the ``scenario_verdict``
filter). Each rule takes ``evidence`` (what the probes saw) and ``rule`` (the settings the decision is made against)
and returns a dict with at least ``passed`` (bool) and ``detail`` (what was measured and decided, in a sentence),
plus the figures it used, which go to the artifacts and the report. A rule raises ``ValueError`` when the evidence is
not what it reads (a probe that did not run, a load that did not finish), naming what is missing.

* ``probes``: the routing scenarios, decided by ``traffic_probe``'s own statistical test; passes when every probe passed.
* ``mirror``: every answer from v1, v1 logged each request, v2's mirrored copies within three standard deviations of
  ``n * p`` (binomial; exact at 0% and 100%).
* ``circuit_breaking``: fortio's codes only 200 and 503, some 503, and the client proxy's
  ``upstream_rq_pending_overflow`` rose during the load.
* ``rate_limit``: the 200 and 429 answers are what the token buckets allow in the probe's window.
* ``access_control``: each source got the status the allow and deny lists give its address.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

try:
    from collections.abc import Mapping
except ImportError:  # pragma: no cover - Python 2 is not supported, this keeps the sanity import test quiet
    Mapping = dict

_CODE_LINE = re.compile(r"^Code\s+(-?\d+)\s*:\s*(\d+)\s*\(", re.MULTILINE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# What a routing probe keeps from traffic_probe's result, for the artifacts.
_KEPT = ("requests", "shares", "status", "latency_ms", "counts", "checks", "duration_s", "errors", "msg")


def _number(value):
    return ("%.1f" % float(value)).rstrip("0").rstrip(".")


def duration_text(ms):
    """A latency as a person says it: ``25 ms``, ``6.1 s``."""
    ms = float(ms)
    return "%d ms" % round(ms) if ms < 1000 else "%s s" % _number(ms / 1000.0)


def _shares_text(shares):
    ordered = sorted(shares.items(), key=lambda kv: (-float(kv[1]), str(kv[0])))
    return ", ".join("%s %s%%" % (str(label).replace("_", " "), _number(share)) for label, share in ordered)


def probe_brief(who, result, bounds_latency=False):
    """``who: <shares> of <n> pages[, median <latency>][ - not as expected]``."""
    requests = int(result.get("requests") or 0)
    shares = dict(result.get("shares") or {})
    if not shares or set(shares) == {"unmatched"}:
        status = dict(result.get("status") or {})
        total = sum(int(count) for count in status.values()) or 1
        seen = "status " + _shares_text(dict((code, 100.0 * int(count) / total) for code, count in status.items()))
    else:
        seen = _shares_text(shares)
    text = "%s: %s of %d pages" % (who, seen, requests)
    median = (result.get("latency_ms") or {}).get("p50")
    if bounds_latency and median is not None:
        text += ", median %s" % duration_text(median)
    if not result.get("passed"):
        text += " - not as expected"
    return text


def probe_outcomes(results):
    """Who sent each probe of a looped traffic_probe task, what it saw in a few words, and its statistics."""
    if not isinstance(results, list):
        raise ValueError("scenario_probes needs the results list of a looped traffic_probe task, got %s" % type(results).__name__)
    outcomes = []
    for index, result in enumerate(results):
        if not isinstance(result, dict) or not isinstance(result.get("item"), dict):
            raise ValueError("scenario_probes: result %d has no loop item (register the looped traffic_probe task)" % index)
        item = result["item"]
        user = item.get("login_user")
        who = "signed in as %s" % user if user else "anonymous"
        bounds_latency = bool(item.get("min_latency_ms") or item.get("max_latency_ms"))
        outcome = dict(name=item.get("name"), who=who, passed=bool(result.get("passed")), brief=probe_brief(who, result, bounds_latency))
        outcome.update((key, result[key]) for key in _KEPT if key in result)
        outcomes.append(outcome)
    return outcomes


def probes(evidence, rule=None):
    """The routing scenarios: passes when every probe (a looped traffic_probe result) passed its own test."""
    outcomes = probe_outcomes(evidence)
    expected = int((rule or {}).get("probes", len(outcomes)))
    names = [outcome["name"] for outcome in outcomes]
    return {
        "passed": len(outcomes) == expected and all(outcome["passed"] for outcome in outcomes),
        "detail": " | ".join("%s: %s" % (outcome["who"], outcome.get("msg", "")) for outcome in outcomes),
        "summary": "; ".join(outcome["brief"] for outcome in outcomes),
        "probes": outcomes,
        "requests": dict(zip(names, (result.get("requests") for result in evidence))),
        "shares": dict(zip(names, (result.get("shares") for result in evidence))),
        "status": dict(zip(names, (result.get("status") for result in evidence))),
        "latency_ms": dict(zip(names, (result.get("latency_ms") for result in evidence))),
    }


def mirror(evidence, rule):
    """Answers (``stdout``, one hostname a line) and httpbin's request lines ``before``/``after`` ({v1, v2})."""
    try:
        stdout = evidence.get("stdout") or ""
        before, after = evidence["before"], evidence["after"]
        logged_v1 = int(after["v1"]) - int(before["v1"])
        logged_v2 = int(after["v2"]) - int(before["v2"])
        requests = int(rule["requests"])
        percentage = rule["percentage"]
        share = float(percentage) / 100
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError("the mirror verdict needs the client's answers (stdout), httpbin's counts before and after ({v1, v2}), "
                         "requests and percentage: %s" % exc)
    answered_v1 = len(re.findall("httpbin-v1-", stdout))
    answered_v2 = len(re.findall("httpbin-v2-", stdout))
    expected = requests * share
    slack = 3 * (requests * share * (1 - share)) ** 0.5
    detail = ("%d requests from the client: %d answered by v1, %d by v2; logged by v1 %d, by v2 %d (mirrored copies expected "
              "%s ± %s at %s%%)" % (requests, answered_v1, answered_v2, logged_v1, logged_v2, round(expected, 1), round(slack, 1), percentage))
    return {
        "passed": answered_v1 == requests and answered_v2 == 0 and logged_v1 == requests and abs(logged_v2 - expected) <= slack,
        "detail": detail,
        "requests": requests,
        "answers": {"v1": answered_v1, "v2": answered_v2},
        "logged": {"v1": logged_v1, "v2": logged_v2},
    }


def fortio_report(result):
    """The text of a fortio load report: its stderr (where fortio writes it) and stdout, or a merged-stream string."""
    if isinstance(result, Mapping):
        return "\n".join(result.get(stream) or "" for stream in ("stderr", "stdout"))
    if result is None or isinstance(result, str):
        return result or ""
    raise ValueError("circuit_breaking_verdict reads the registered result of 'fortio load' (with stderr and "
                     "stdout) or its output as text, not a %s" % type(result).__name__)


def fortio_codes(report):
    """Responses per status code from a fortio load report; an error when it has no histogram."""
    codes = {}
    for code, count in _CODE_LINE.findall(report or ""):
        codes[int(code)] = codes.get(int(code), 0) + int(count)
    if not codes:
        raise ValueError("the fortio output (stderr and stdout) has no 'Code NNN : count' lines, so fortio did not finish a load: "
                         + ((report or "").strip()[-500:] or "(empty output)"))
    return codes


def envoy_counter(stats, host, port, stat):
    """The sum of one counter over the outbound clusters (every subset) of host:port in Envoy's stats text.

    None when no line names it: Istio trims Envoy's stats unless the proxy's inclusion prefixes keep
    cluster.outbound, which is a different problem from a counter at zero.
    """
    pattern = re.compile(r"^cluster\.outbound\|%d\|[^|]*\|%s;?\.%s:\s*(\d+)\s*$"
                         % (int(port), re.escape(host), re.escape(stat)), re.MULTILINE)
    values = [int(value) for value in pattern.findall(stats or "")]
    return sum(values) if values else None


def circuit_breaking(evidence, rule):
    """fortio's load result (``load``) and the client proxy's stats text ``stats_before``/``stats_after``."""
    codes = fortio_codes(fortio_report(evidence.get("load")))
    host, port, requests = rule["host"], int(rule["port"]), int(rule["requests"])
    total = sum(codes.values())
    refused = codes.get(503, 0)
    share = round(100.0 * refused / total, 1)
    before = envoy_counter(evidence.get("stats_before"), host, port, "upstream_rq_pending_overflow")
    after = envoy_counter(evidence.get("stats_after"), host, port, "upstream_rq_pending_overflow")
    histogram = ", ".join("%d: %d" % item for item in sorted(codes.items()))
    problems = []
    if total != requests:
        problems.append("fortio reported %d of the %d requests" % (total, requests))
    others = sorted(code for code in codes if code not in (200, 503))
    if others:
        problems.append("statuses other than 200 and 503 (%s) mean something else failed" % ", ".join(map(str, others)))
    if not refused:
        problems.append("no request was refused with 503, so the connection pool never overflowed")
    if after is None:
        overflow = None
        problems.append("the client proxy reports no upstream_rq_pending_overflow for outbound|%s||%s: keep cluster.outbound in its "
                        "stats inclusion prefixes (proxy.istio.io/config proxyStatsMatcher)" % (port, host))
    else:
        overflow = after - (before or 0)
        if overflow <= 0:
            problems.append("the proxy's upstream_rq_pending_overflow did not rise (%s before, %s after)" % (before, after))
    detail = "%d requests at once beyond the pool: codes %s, %.1f%% refused with 503; upstream_rq_pending_overflow rose by %s" % (
        total, histogram, share, overflow)
    if problems:
        detail += ": " + "; ".join(problems)
    return {"passed": not problems, "detail": detail, "requests": total, "codes": codes, "share_503": share, "overflow": overflow}


def duration_seconds(value):
    """Seconds of a protobuf-style duration such as 60s, 500ms, 1m or 1h."""
    match = re.match(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$", str(value).strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError("fill_interval %r is not a positive duration such as 60s, 500ms or 1m" % (value,))
    return float(match.group(1)) * _UNITS[match.group(2)]


def rate_limit(evidence, rule):
    """traffic_probe's result (``probe``) and ``replicas``, the gateway instances that each had a bucket."""
    probe = evidence.get("probe")
    replicas = evidence.get("replicas", 1)
    max_tokens, tokens_per_fill, fill_interval = rule["max_tokens"], rule["tokens_per_fill"], rule["fill_interval"]
    try:
        requests = int(probe["requests"])
        status = dict((int(code), int(count)) for code, count in probe["status"].items())
        duration = float(probe["duration_s"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError("rate_limit_verdict needs the result of istiolab.mesh.traffic_probe: %s" % exc)
    if int(replicas) < 1:
        raise ValueError("rate_limit_verdict: no gateway instance ran the rate limit (replicas=%r): check the gateway selector" % (replicas,))
    fills = int(math.floor(duration / duration_seconds(fill_interval))) + 1
    allowed_max = int(replicas) * (int(max_tokens) + int(tokens_per_fill) * fills)
    limited = status.get(429, 0)
    passed_through = status.get(200, 0)
    min_limited = max(0, requests - allowed_max)
    min_passed = min(requests, int(max_tokens))
    share = round(100.0 * limited / requests, 1) if requests else 0.0
    problems = []
    if min_limited == 0:
        problems.append("%d requests in %.2f s cannot exceed what %d bucket(s) allow (%d), so no 429 proves nothing: send more requests"
                        % (requests, duration, int(replicas), allowed_max))
    elif limited < min_limited:
        problems.append("only %d answers were 429 where the bucket allows at most %d of %d requests through" % (limited, allowed_max, requests))
    if passed_through < min_passed:
        problems.append("only %d answers were 200 where a full bucket lets the first %d through" % (passed_through, min_passed))
    marked = (probe.get("counts") or {}).get("rate_limited")
    if marked is not None and int(marked) != limited:
        problems.append("%d answers were 429 but %d carried x-local-rate-limit, so another limit answered some" % (limited, int(marked)))
    others = sorted(code for code in status if code not in (200, 429) and status[code])
    if others:
        problems.append("other statuses (%s) mean something else failed" % ", ".join(map(str, others)))
    detail = ("%d requests in %.2f s: %d answered 200, %d refused with 429 (%.1f%%); the bucket (%s tokens, %s per %s, %d gateway "
              "instance(s)) lets at most %d through, so at least %d must be 429"
              % (requests, duration, passed_through, limited, share, max_tokens, tokens_per_fill, fill_interval, int(replicas),
                 allowed_max, min_limited))
    if problems:
        detail += ": " + "; ".join(problems)
    return {"passed": not problems, "detail": detail, "allowed_max": allowed_max, "limited": limited,
            "min_limited": min_limited, "share_429": share}


def access_control(evidence, rule):
    """The control node's traffic_probe result (``node_probe``) and the mesh client's status lines (``client_lines``),
    against ``sources`` ({control node, mesh client} -> {address, status, reason}) and ``client_requests``."""
    try:
        node_probe = evidence["node_probe"]
        codes = [str(line).strip() for line in evidence.get("client_lines") or [] if str(line).strip()]
        sources = rule["sources"]
        node, client = sources["control node"], sources["mesh client"]
        client_requests = int(rule["client_requests"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("the access_control verdict needs the control node's probe, the client's status lines, the sources' "
                         "expected statuses and client_requests: %s" % exc)
    client_expected = str(client["status"])
    client_ok = len(codes) == client_requests and all(code == client_expected for code in codes)
    seen = []
    for code in codes:
        if code not in seen:
            seen.append(code)
    statuses = sorted(set(source["status"] for source in sources.values()))
    detail = ("control node: %s, so %s expected: %s | mesh client: %s, so %s expected: answered %sof %s"
              % (node["reason"], node["status"], node_probe.get("msg"), client["reason"], client_expected,
                 "".join("%s x%d " % (code, codes.count(code)) for code in seen), client_requests))
    if len(statuses) <= 1:
        detail += " | both sources get %s: put one of them in a list to see the other answer too" % (statuses[0] if statuses else "")
    return {
        "passed": bool(node_probe.get("passed")) and client_ok,
        "detail": detail,
        "sources": sources,
        "status": {"control node": node_probe.get("status"), "mesh client": codes},
    }


KINDS = {
    "probes": probes,
    "mirror": mirror,
    "circuit_breaking": circuit_breaking,
    "rate_limit": rate_limit,
    "access_control": access_control,
}


def decide(kind, evidence, rule=None):
    """The verdict of a scenario of ``kind`` (a key of ``KINDS``) on ``evidence`` under ``rule``."""
    if kind not in KINDS:
        raise ValueError("no decision rule for scenarios of kind %r; known: %s" % (kind, ", ".join(sorted(KINDS))))
    return KINDS[kind](evidence, dict(rule or {}))
