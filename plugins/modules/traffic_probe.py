#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: traffic_probe
short_description: Send measured HTTP traffic, label every response and test the result statistically
version_added: 0.1.0
description:
  - Sends O(count) HTTP requests to O(url) from O(concurrency) threads, labels every response
    (for example by the reviews version the Bookinfo productpage names), and reports counts, shares,
    a status histogram and latency percentiles.
  - Decides with a stated O(confidence) whether the traffic matches the expected label shares
    (O(expect_shares)), status shares (O(expect_status)) and latency bounds (O(max_latency_ms),
    O(min_latency_ms)).
  - A label or status expected at 0% fails on its first sighting (one response refutes it exactly).
    Two or more expected labels are tested with Pearson's chi-square goodness of fit, or the exact
    binomial or multinomial test when an expected count is below 5. A latency bound is shown with
    a distribution-free order-statistic (sign) test of that percentile.
  - When O(count) is not set, the module computes the fewest requests the expectations need, so that
    a deviation of O(tolerance) percentage points is detected with O(power) at O(confidence), and
    sends exactly that many. Sending more traffic than the statistics need is a cost, not safety.
    The formulas are in the docstring of C(plugins/module_utils/_stats.py).
  - Every request opens its own connection and stores no cookie it receives, so responses are
    independent samples, as the tests assume.
  - Runs on the control node with the Python standard library only (C(urllib)).
options:
  url:
    description:
      - The URL every request goes to, for example the Bookinfo productpage behind the ingress gateway.
    type: str
    required: true
  method:
    description:
      - The HTTP method of every request.
    type: str
    default: GET
  headers:
    description:
      - Headers sent with every request.
    type: dict
    default: {}
  cookies:
    description:
      - Cookies sent with every request, name to value, after those the sign-in (O(login)) set.
    type: dict
    default: {}
  body:
    description:
      - The request body, sent as UTF-8 with every request.
    type: str
  timeout:
    description:
      - Seconds each request may take before it counts as a connection failure (status 0, label C(error)).
    type: float
    default: 10
  validate_certs:
    description:
      - Verify the server's TLS certificate for C(https) URLs.
    type: bool
    default: true
  follow_redirects:
    description:
      - Follow HTTP redirects. When V(false), a redirect is the response (its 3xx status is counted).
      - Cookies (O(cookies) and those of O(login)) follow a redirect to the same host only.
    type: bool
    default: true
  use_proxy:
    description:
      - Send the requests through the proxy named in the C(http_proxy)/C(https_proxy) environment
        variables. Off by default because a proxy in between changes the latency and status codes
        the probe measures.
    type: bool
    default: false
  login:
    description:
      - Sign in through a form first, then send the cookies it set with every request.
      - Bookinfo's productpage takes C(POST /login) with the form fields C(username) and C(passwd),
        stores the user in its session cookie and redirects to the C(Referer); the module sends the
        probe O(url) as C(Referer) for that reason. Signed in, productpage sends C(end-user) downstream.
      - The sign-in fails the task when it answers 4xx/5xx, cannot be reached, or sets no cookie that
        applies to O(url).
    type: dict
    suboptions:
      url:
        description:
          - The URL of the form's action, for example C(http://GATEWAY/login).
        type: str
        required: true
      fields:
        description:
          - 'The form fields, for example C({username: jason, passwd: ""}). Not logged.'
        type: dict
        required: true
  count:
    description:
      - How many requests to send.
      - When not set, the fewest requests the expectations need (see O(tolerance)), at most O(max_count).
    type: int
  max_count:
    description:
      - The most requests a computed O(count) may be. When the expectations need more, the task fails
        before sending anything and says how many they need.
    type: int
    default: 2000
  concurrency:
    description:
      - How many requests are in flight at once (threads).
    type: int
    default: 4
  classify:
    description:
      - Rules that label a response, tried in order; the first that matches gives the label.
      - A response no rule (nor O(label_from_regex)) matches is labelled C(unmatched); a connection
        failure is labelled C(error) (status 0) before any rule is tried.
      - Each rule has exactly one of O(classify[].body_regex), O(classify[].header) (with
        O(classify[].regex)) or O(classify[].status).
    type: list
    elements: dict
    default: []
    suboptions:
      label:
        description:
          - The label of a response the rule matches.
          - May be left out when the regex has a named group C(label), whose value is then the label.
        type: str
      body_regex:
        description:
          - A Python regular expression searched in the response body.
        type: str
      header:
        description:
          - The name of a response header (any case) whose value O(classify[].regex) is searched in.
        type: str
      regex:
        description:
          - The Python regular expression searched in the value of O(classify[].header).
        type: str
      status:
        description:
          - Status codes the rule matches.
        type: list
        elements: int
  label_from_regex:
    description:
      - A regular expression with one group, searched in the body after the O(classify) rules; the
        group's value is the label.
      - For Bookinfo, C(Reviews served by:\s*reviews-(v\d+)-) labels responses C(v1), C(v2), C(v3).
    type: str
  expect_shares:
    description:
      - 'The expected share of each label in percent, summing to 100, for example C({v1: 50, v3: 50}).'
      - Labels not listed (including C(error) and C(unmatched)) are expected at 0%.
      - 'C({v1: 100}) passes only when every response is C(v1).'
    type: dict
  expect_status:
    description:
      - 'The expected share of each status code in percent, summing to 100, for example C({200: 90, 500: 10}).'
      - Connection failures are status C(0). Codes not listed are expected at 0%.
    type: dict
  max_latency_ms:
    description:
      - 'Upper bounds in milliseconds per percentile, for example C({p50: 100, p99: 8000}).'
      - Keys are C(pNN) (0 < NN < 100, decimals allowed) or C(max).
      - A C(pNN) bound passes when the sample shows at O(confidence) that the true percentile is at most
        the bound; C(max) compares the observed maximum.
    type: dict
    default: {}
  min_latency_ms:
    description:
      - 'Lower bounds in milliseconds per percentile, for example C({p50: 7000}) to prove a fault delay.'
      - Same keys and test as O(max_latency_ms), in the other direction.
    type: dict
    default: {}
  confidence:
    description:
      - The confidence level of every test (1 minus the significance level).
    type: float
    default: 0.95
  power:
    description:
      - The probability that a deviation of O(tolerance) points is detected, used to compute O(count).
    type: float
    default: 0.8
  tolerance:
    description:
      - The smallest deviation from the expected shares, in percentage points, the computed O(count)
        must detect. For a single label expected at 100%, the share of other labels that must show up
        at least once with probability O(confidence).
    type: float
    default: 10
  fail_on_mismatch:
    description:
      - Fail the task when an expectation is not met, with the measured table in the message.
      - When V(false), the task succeeds and RV(passed) tells.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The probe runs in check mode too; it only sends requests and changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - 'Run it on the control node (C(delegate_to: localhost) or a play on localhost).'
  - Latency is measured per request from sending to the last body byte, connection set-up included;
    connection failures count with the time they took.
seealso:
  - name: Istio traffic shifting task
    description: The weighted routing the canary scenario measures.
    link: https://istio.io/latest/docs/tasks/traffic-management/traffic-shifting/
  - name: Istio fault injection task
    description: The delay and abort the fault injection scenario measures.
    link: https://istio.io/latest/docs/tasks/traffic-management/fault-injection/
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: Show that reviews serves v1 and v3 half and half
  istiolab.mesh.traffic_probe:
    url: "http://{{ gateway }}/productpage"
    label_from_regex: 'Reviews served by:\s*reviews-(v\d+)-'
    expect_shares: {v1: 50, v3: 50}
    tolerance: 10
  delegate_to: localhost

- name: Show that every response comes from reviews v1
  istiolab.mesh.traffic_probe:
    url: "http://{{ gateway }}/productpage"
    label_from_regex: 'Reviews served by:\s*reviews-(v\d+)-'
    expect_shares: {v1: 100}
  delegate_to: localhost

# productpage gives reviews 3 s and one retry, so the 7 s ratings delay shows to jason as a page
# that takes at least 6 s and says the reviews are unavailable.
- name: Show the ratings delay for jason
  istiolab.mesh.traffic_probe:
    url: "http://{{ gateway }}/productpage"
    login:
      url: "http://{{ gateway }}/login"
      fields: {username: jason, passwd: ""}
    timeout: 20
    concurrency: 10
    classify:
      - body_regex: product reviews are currently unavailable
        label: reviews-unavailable
    expect_shares: {reviews-unavailable: 100}
    min_latency_ms: {p50: 6000}
  delegate_to: localhost

- name: Measure the rate limit's 429 share without failing
  istiolab.mesh.traffic_probe:
    url: "http://{{ gateway }}/productpage"
    count: 200
    concurrency: 10
    expect_status: {200: 50, 429: 50}
    fail_on_mismatch: false
  delegate_to: localhost
  register: rate_limit

- name: Label by a response header and by status
  istiolab.mesh.traffic_probe:
    url: "http://{{ gateway }}/headers"
    count: 100
    classify:
      - status: [503]
        label: overflow
      - header: x-served-by
        regex: 'httpbin-(?P<label>v\d+)'
  delegate_to: localhost
"""

RETURN = r"""
requests:
  description: How many requests were sent.
  returned: always
  type: int
  sample: 197
sample_size:
  description: The request count and where it came from; C(needed) lists what each expectation needs.
  returned: always
  type: dict
  sample: {count: 197, computed: true, needed: {shares: 197}}
counts:
  description: Responses per label.
  returned: always
  type: dict
  sample: {v1: 99, v3: 98}
shares:
  description: Share of each label in percent.
  returned: always
  type: dict
  sample: {v1: 50.25, v3: 49.75}
status:
  description: Responses per HTTP status code (C(0) for connection failures).
  returned: always
  type: dict
  sample: {"200": 197}
latency_ms:
  description: Nearest-rank latency percentiles in milliseconds.
  returned: always
  type: dict
  sample: {p50: 12.4, p90: 20.1, p99: 41.0, max: 52.3}
errors:
  description: How many requests failed to get an HTTP response (status 0, label C(error)).
  returned: always
  type: int
  sample: 0
error_samples:
  description: Up to five distinct reasons of those failures, in the words of the client library.
  returned: always
  type: list
  elements: str
  sample: ["[Errno 111] Connection refused"]
duration_s:
  description: Seconds the requests took, from the first sent to the last answered.
  returned: always
  type: float
  sample: 3.52
checks:
  description: One entry per expectation with its test, p-value and sentence.
  returned: always
  type: list
  elements: dict
  sample:
    - name: shares
      passed: true
      test: chi-square
      p_value: 0.94
      msg: "shares: v1 50.3% (expected 50 ± 7), v3 49.7% (expected 50 ± 7): consistent with v1 50 / v3 50
        at 95% confidence (chi-square p=0.94, n=197)"
passed:
  description: Whether every expectation was met (true when there are none).
  returned: always
  type: bool
  sample: true
table:
  description: The measured table of each share expectation (label, count, share, expected), as lines.
  returned: when RV(passed) is false
  type: list
  elements: str
  sample: ["label          count    share  expected", "v1               138   70.05%       50%"]
msg:
  description: What was measured and decided, in sentences; on failure followed by RV(table).
  returned: always
  type: str
  sample: "Probe passed (197 requests to http://192.168.49.2:31380/productpage): shares: v1 50.3% ..."
"""

import http.client
import re
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, HTTPSHandler, ProxyHandler, Request, build_opener

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native, to_text

from ansible_collections.istiolab.mesh.plugins.module_utils import _stats

# The productpage is about 10 KiB; a label never needs more than the first MiB of a body.
_MAX_BODY = 1024 * 1024
_PERCENTILE_KEY = re.compile(r"^p(\d+(?:\.\d+)?)$")
_REPORTED_PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))


class ProbeError(Exception):
    """The probe cannot run as asked; the message says what failed and what to do."""


class _SameHostRedirect(HTTPRedirectHandler):
    """Follow redirects, carrying the session cookie to the same host only (urllib drops it everywhere)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        follow = HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, headers, newurl)
        cookie = req.unredirected_hdrs.get("Cookie")
        if follow is not None and cookie and urlsplit(follow.full_url).netloc == urlsplit(req.full_url).netloc:
            follow.add_unredirected_header("Cookie", cookie)
        return follow


class _NoRedirect(HTTPRedirectHandler):
    """Make a redirect the answer (urllib raises it as an HTTPError carrying the 3xx status)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class _Outcome:
    __slots__ = ("status", "label", "latency_ms", "error")

    def __init__(self, status, label, latency_ms, error=None):
        self.status = status
        self.label = label
        self.latency_ms = latency_ms
        self.error = error


class _Classifier:
    """Turns a response into a label: the ``classify`` rules, then ``label_from_regex``, then ``unmatched``."""

    def __init__(self, rules, label_from_regex):
        self.rules = [self._compile(index, rule) for index, rule in enumerate(rules)]
        self.from_regex = None
        if label_from_regex:
            self.from_regex = _compile("label_from_regex", label_from_regex)
            if self.from_regex.groups != 1:
                raise ValueError("label_from_regex must have exactly one group, whose value is the label; %r has %d"
                                 % (label_from_regex, self.from_regex.groups))

    @staticmethod
    def _compile(index, rule):
        where = "classify[%d]" % index
        kinds = [kind for kind in ("body_regex", "header", "status") if rule.get(kind) is not None]
        if len(kinds) != 1:
            raise ValueError("%s must have exactly one of body_regex, header (with regex) or status; it has %s"
                             % (where, ", ".join(kinds) or "none"))
        kind = kinds[0]
        if kind != "header" and rule.get("regex") is not None:
            raise ValueError("%s: regex goes with header; for the body use body_regex" % where)
        pattern = None
        if kind == "body_regex":
            pattern = _compile(where + ".body_regex", rule["body_regex"])
        elif kind == "header":
            if rule.get("regex") is None:
                raise ValueError("%s: header %r needs a regex to search in its value" % (where, rule["header"]))
            pattern = _compile(where + ".regex", rule["regex"])
        if not rule.get("label") and (pattern is None or "label" not in pattern.groupindex):
            raise ValueError("%s needs a label, or a regex with a named group (?P<label>...)" % where)
        return dict(kind=kind, label=rule.get("label"), pattern=pattern, header=rule.get("header"),
                    status=set(rule.get("status") or []))

    def label(self, status, headers, body):
        for rule in self.rules:
            if rule["kind"] == "status":
                if status in rule["status"]:
                    return rule["label"]
                continue
            text = body if rule["kind"] == "body_regex" else headers.get(rule["header"])
            match = rule["pattern"].search(text) if text is not None else None
            if match:
                return match.groupdict().get("label") or rule["label"]
        if self.from_regex:
            match = self.from_regex.search(body)
            if match:
                return match.group(1)
        return "unmatched"


def _compile(where, pattern):
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError("%s is not a valid regular expression (%s): %r" % (where, exc, pattern))


def _percentile_bounds(option, bounds):
    """``[(key, q, bound_ms)]`` from ``{pNN|max: ms}``, or ValueError naming the option."""
    parsed = []
    for key, bound in bounds.items():
        match = _PERCENTILE_KEY.match(str(key))
        q = 1.0 if str(key) == "max" else (float(match.group(1)) / 100.0 if match else 0.0)
        if not (0 < q < 1 or str(key) == "max"):
            raise ValueError("%s has key %r: use pNN with 0 < NN < 100 (for example p50, p99.9) or max" % (option, key))
        try:
            bound = float(bound)
        except (TypeError, ValueError):
            raise ValueError("%s.%s is %r: give milliseconds as a number" % (option, key, bound))
        parsed.append((str(key), q, bound))
    return parsed


class TrafficProbe:
    def __init__(self, params):
        self.params = params
        context = ssl.create_default_context()
        if not params["validate_certs"]:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self.handlers = [HTTPSHandler(context=context)]
        if not self.params["use_proxy"]:
            self.handlers.append(ProxyHandler({}))

    def opener(self, follow_redirects, *extra):
        redirects = _SameHostRedirect() if follow_redirects else _NoRedirect()
        return build_opener(*(self.handlers + [redirects] + list(extra)))

    def sign_in(self):
        """Post the login form and return the Cookie header its cookies make for the probe URL."""
        login = self.params["login"]
        jar = CookieJar()
        form = urlencode(dict((k, "" if v is None else to_text(v)) for k, v in login["fields"].items())).encode("utf-8")
        # Bookinfo's /login redirects to request.referrer; without a Referer that redirect has no target.
        request = Request(login["url"], data=form, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Referer": self.params["url"]})
        try:
            try:
                response = self.opener(False, HTTPCookieProcessor(jar)).open(request, timeout=self.params["timeout"])
            except HTTPError as exc:
                response = exc
            with response:
                status = response.getcode()
                excerpt = to_text(response.read(300), errors="replace")
        except (URLError, http.client.HTTPException, OSError) as exc:
            raise ProbeError("Sign-in at %s failed: %s. Check login.url and that the gateway answers."
                             % (login["url"], to_native(getattr(exc, "reason", exc))))
        if status >= 400:
            raise ProbeError("Sign-in at %s answered HTTP %d: %s. Check login.url and login.fields."
                             % (login["url"], status, excerpt.strip()))
        probe = Request(self.params["url"])
        jar.add_cookie_header(probe)
        cookie = probe.get_header("Cookie")
        if not cookie:
            raise ProbeError("Sign-in at %s answered HTTP %d but set no cookie that applies to %s "
                             "(cookies set: %d). Check login.url and login.fields."
                             % (login["url"], status, self.params["url"], len(jar)))
        return cookie

    def plan(self, share_expect, status_expect, latency_bounds):
        """The request count: given, or the most any expectation needs."""
        p = self.params
        needed = {}
        tolerance = p["tolerance"] / 100.0
        if share_expect:
            needed["shares"] = _stats.share_sample_size(share_expect, tolerance, p["confidence"], p["power"])
        if status_expect:
            needed["status"] = _stats.share_sample_size(status_expect, tolerance, p["confidence"], p["power"])
        for option, key, q, bound in latency_bounds:
            n = _stats.percentile_sample_size(q, p["confidence"], upper=option == "max_latency_ms")
            if n:
                needed["%s.%s" % (option, key)] = n
        if p["count"] is not None:
            return dict(count=p["count"], computed=False, needed=needed)
        if not needed:
            raise ValueError("count is not set and there is nothing to compute it from: set count, or give "
                             "expect_shares, expect_status or a percentile latency bound")
        count = max(needed.values())
        if count > p["max_count"]:
            raise ValueError("the expectations need %d requests (%s) at %s%% confidence, %s%% power and a tolerance "
                             "of %g points, more than max_count %d: raise tolerance, or max_count if that traffic "
                             "is acceptable" % (count, ", ".join("%s %d" % item for item in needed.items()),
                                                _pct(p["confidence"]), _pct(p["power"]), p["tolerance"], p["max_count"]))
        return dict(count=count, computed=True, needed=needed)

    def send_all(self, count, classifier, cookie):
        p = self.params
        opener = self.opener(p["follow_redirects"])
        body = p["body"].encode("utf-8") if p["body"] is not None else None
        headers = dict((k, to_text(v)) for k, v in p["headers"].items())

        def send(_index):
            request = Request(p["url"], data=body, headers=headers, method=p["method"])
            if cookie:
                # Unredirected: a redirect to another host must not carry the session (_SameHostRedirect).
                request.add_unredirected_header("Cookie", cookie)
            started = time.monotonic()
            try:
                try:
                    response = opener.open(request, timeout=p["timeout"])
                except HTTPError as exc:
                    response = exc
                with response:
                    content = response.read(_MAX_BODY)
                    status = response.getcode()
                    response_headers = response.headers
            except (URLError, http.client.HTTPException, OSError) as exc:
                latency = (time.monotonic() - started) * 1000.0
                return _Outcome(0, "error", latency, to_native(getattr(exc, "reason", exc)) or type(exc).__name__)
            latency = (time.monotonic() - started) * 1000.0
            return _Outcome(status, classifier.label(status, response_headers, to_text(content, errors="replace")), latency)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, min(p["concurrency"], count))) as pool:
            outcomes = list(pool.map(send, range(count)))
        return outcomes, time.monotonic() - started


def _pct(fraction):
    return ("%.2f" % (100.0 * fraction)).rstrip("0").rstrip(".")


def _ms(value):
    return ("%.1f" % value).rstrip("0").rstrip(".")


def _tally(values):
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _latency_check(option, key, q, bound, latencies, confidence):
    upper = option == "max_latency_ms"
    test = _stats.percentile_bound_test(latencies, q, bound, confidence, upper)
    relation = "at most" if upper else "at least"
    if test["p_value"] is None:
        msg = "latency %s %s ms: %s %s ms %s" % (
            key, _ms(test["observed"]), relation, _ms(bound), "as observed" if test["passed"] else "not met")
    else:
        msg = "latency %s %s ms: %s %s ms %s at %s%% confidence (%d of %d within, p=%.2g)" % (
            key, _ms(test["observed"]), relation, _ms(bound), "shown" if test["passed"] else "not shown",
            _pct(confidence), test["within"], test["n"], test["p_value"])
        needed = _stats.percentile_sample_size(q, confidence, upper)
        if not test["passed"] and test["n"] < needed:
            msg += "; showing it takes at least %d requests, all within the bound" % needed
    return dict(name="%s.%s" % (option, key), passed=test["passed"], test="order statistic (sign test)"
                if test["p_value"] is not None else "observed", p_value=test["p_value"], msg=msg)


def _share_check(name, observed, expected, confidence):
    test = _stats.share_test(observed, expected, confidence)
    check = dict(name=name, passed=test["passed"], test=test["test"], p_value=test["p_value"],
                 msg=_stats.describe_share_test(test, expected, confidence, what=name))
    return check, test["rows"]


def _table(title, rows):
    lines = ["%-12s %7s %8s %9s" % (title, "count", "share", "expected")]
    for row in rows:
        lines.append("%-12s %7d %7.2f%% %8s%%" % (row["label"], row["count"], row["share"], _pct(row["expected"] / 100.0)))
    return lines


def run(p):
    """Validate, size, sign in, send and decide on the module parameters ``p``; return the result.

    Bad input and a failed sign-in raise ValueError/ProbeError before any probe request is sent.
    """
    for name in ("confidence", "power"):
        if not 0 < p[name] < 1:
            raise ValueError("%s is %r: it must be between 0 and 1, for example 0.95" % (name, p[name]))
    if not 0 < p["tolerance"] < 100:
        raise ValueError("tolerance is %r: give percentage points between 0 and 100, for example 10" % p["tolerance"])
    for name in ("count", "max_count", "concurrency"):
        if p[name] is not None and p[name] < 1:
            raise ValueError("%s is %d: it must be at least 1" % (name, p[name]))
    share_expect = _stats.validate_expected(p["expect_shares"], "expect_shares") if p["expect_shares"] is not None else None
    status_expect = _stats.validate_expected(p["expect_status"], "expect_status") if p["expect_status"] is not None else None
    latency_bounds = [(option,) + bound for option in ("max_latency_ms", "min_latency_ms")
                      for bound in _percentile_bounds(option, p[option])]
    classifier = _Classifier(p["classify"], p["label_from_regex"])
    probe = TrafficProbe(p)
    plan = probe.plan(share_expect, status_expect, latency_bounds)

    cookies = [probe.sign_in()] if p["login"] else []
    cookies.extend("%s=%s" % (k, to_text(v)) for k, v in p["cookies"].items())
    outcomes, duration = probe.send_all(plan["count"], classifier, "; ".join(cookies))

    n = len(outcomes)
    latencies = [o.latency_ms for o in outcomes]
    counts = _tally(o.label for o in outcomes)
    statuses = _tally(o.status for o in outcomes)
    error_samples = []
    for outcome in outcomes:
        if outcome.error and outcome.error not in error_samples and len(error_samples) < 5:
            error_samples.append(outcome.error)

    checks = []
    tables = []
    if share_expect is not None:
        check, rows = _share_check("shares", counts, share_expect, p["confidence"])
        checks.append(check)
        tables.extend(_table("label", rows))
    if status_expect is not None:
        check, rows = _share_check("status", dict((str(k), v) for k, v in statuses.items()), status_expect, p["confidence"])
        checks.append(check)
        tables.extend(_table("status", rows))
    for option, key, q, bound in latency_bounds:
        checks.append(_latency_check(option, key, q, bound, latencies, p["confidence"]))

    passed = all(check["passed"] for check in checks)
    latency = dict((key, round(_stats.percentile(latencies, q), 1)) for key, q in _REPORTED_PERCENTILES)
    summary = "%d requests to %s in %.1f s: %s; status %s; latency %s" % (
        n, p["url"], duration,
        ", ".join("%s %s%%" % (label, _pct(count / n)) for label, count in counts.items()),
        ", ".join("%s %s%%" % (code, _pct(count / n)) for code, count in statuses.items()),
        ", ".join("%s %s ms" % (key, _ms(value)) for key, value in latency.items()))
    if checks:
        msg = "Probe %s (%s): %s" % ("passed" if passed else "failed", summary, "; ".join(c["msg"] for c in checks))
    else:
        msg = "Probe measured %s" % summary
    result = dict(
        changed=False,
        requests=n,
        sample_size=plan,
        counts=counts,
        shares=dict((label, round(100.0 * count / n, 2)) for label, count in counts.items()),
        status=dict((str(code), count) for code, count in statuses.items()),
        latency_ms=latency,
        errors=statuses.get(0, 0),
        error_samples=error_samples,
        duration_s=round(duration, 3),
        checks=checks,
        passed=passed,
        msg=msg,
    )
    if not passed:
        result["table"] = tables
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            method=dict(type="str", default="GET"),
            headers=dict(type="dict", default={}),
            cookies=dict(type="dict", default={}),
            body=dict(type="str"),
            timeout=dict(type="float", default=10),
            validate_certs=dict(type="bool", default=True),
            follow_redirects=dict(type="bool", default=True),
            use_proxy=dict(type="bool", default=False),
            login=dict(type="dict", options=dict(
                url=dict(type="str", required=True),
                fields=dict(type="dict", required=True, no_log=True),
            )),
            count=dict(type="int"),
            max_count=dict(type="int", default=2000),
            concurrency=dict(type="int", default=4),
            classify=dict(type="list", elements="dict", default=[], options=dict(
                label=dict(type="str"),
                body_regex=dict(type="str"),
                header=dict(type="str"),
                regex=dict(type="str"),
                status=dict(type="list", elements="int"),
            )),
            label_from_regex=dict(type="str"),
            expect_shares=dict(type="dict"),
            expect_status=dict(type="dict"),
            max_latency_ms=dict(type="dict", default={}),
            min_latency_ms=dict(type="dict", default={}),
            confidence=dict(type="float", default=0.95),
            power=dict(type="float", default=0.8),
            tolerance=dict(type="float", default=10),
            fail_on_mismatch=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    try:
        result = run(module.params)
    except (ValueError, ProbeError) as exc:
        module.fail_json(msg=to_native(exc))
    if not result["passed"] and module.params["fail_on_mismatch"]:
        result["msg"] += "\n" + "\n".join(result["table"])
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
