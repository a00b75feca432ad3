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

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.istiolab.mesh.plugins.module_utils import _probe, _stats
# tests/unit/scenarios label probe results with the module's own classifier, by this name.
from ansible_collections.istiolab.mesh.plugins.module_utils._probe import Classifier as _Classifier


def run(p):
    """Validate, size, sign in, send and decide on the module parameters ``p``; return the result.

    Bad input and a failed sign-in raise ValueError/ProbeError before any probe request is sent.
    """
    expect = _stats.Expectations.from_params(p)
    classifier = _Classifier(p["classify"], p["label_from_regex"])
    plan = expect.sample_size(p["count"], p["max_count"])
    client = _probe.Client(p["timeout"], p["validate_certs"], p["use_proxy"], p["follow_redirects"])
    cookie = client.cookie_header(p["url"], p["login"], p["cookies"])
    outcomes, duration = client.send_all(p["url"], plan["count"], p["concurrency"], classifier.label,
                                         method=p["method"], headers=p["headers"], body=p["body"], cookie=cookie)
    result = dict(changed=False)
    result.update(expect.decide(outcomes, duration, p["url"], plan))
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
    except (ValueError, _probe.ProbeError) as exc:
        module.fail_json(msg=to_native(exc))
    if not result["passed"] and module.params["fail_on_mismatch"]:
        result["msg"] += "\n" + "\n".join(result["table"])
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
