# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: circuit_breaking_verdict
short_description: Decide from fortio's report and Envoy's counters whether a circuit breaker tripped
version_added: 0.1.0
description:
  - >-
    Reads the status histogram of a C(fortio load) report (its C(Code 200 : 19 (63.3 %\)) lines) and the
    C(upstream_rq_pending_overflow) counter of the client proxy's cluster for a host, before and after the load,
    from the text of C(pilot-agent request GET stats) (the C(/stats) of Envoy).
  - Passes when every request got a status, the only statuses are 200 and 503, some were 503 (the connection pool
    refused them) and the overflow counter rose during the load (the proxy, not the server, refused them).
  - Envoy's counters count from the proxy's start, so the difference of two readings is what this load caused.
  - C(fortio load) writes its whole report, the C(Code NNN) lines included, to standard error and leaves standard
    output empty, so give the filter the registered result of the C(kubernetes.core.k8s_exec) task (it reads
    C(stderr), then C(stdout)); a string is read as the merged output of both streams.
  - Reads both spellings of a cluster's stat name, C(cluster.outbound|8000||httpbin.bookinfo.svc.cluster.local.upstream_rq_pending_overflow)
    and the newer C(...svc.cluster.local;.upstream_rq_pending_overflow).
positional: stats_before, stats_after, host, port, requests
options:
  _input:
    description:
      - The registered result of running C(fortio load) (a dict with C(stderr) and C(stdout)), or the text of its
        merged output streams.
    type: raw
    required: true
  stats_before:
    description: The client proxy's stats text before the load.
    type: str
    required: true
  stats_after:
    description: The client proxy's stats text after the load.
    type: str
    required: true
  host:
    description: The fully qualified host of the destination, for example C(httpbin.bookinfo.svc.cluster.local).
    type: str
    required: true
  port:
    description: The service port of the destination.
    type: int
    required: true
  requests:
    description: How many requests fortio was told to send (its C(-n)).
    type: int
    required: true
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: Conclude the circuit breaking scenario
  ansible.builtin.set_fact:
    verdict: >-
      {{ fortio | istiolab.mesh.circuit_breaking_verdict(before.stdout, after.stdout,
         'httpbin.bookinfo.svc.cluster.local', 8000, 30) }}
"""

RETURN = r"""
_value:
  description: The decision and what it was made from.
  type: dict
  contains:
    passed:
      description: Whether the breaker measurably refused requests.
      type: bool
    detail:
      description: What was measured and decided, in a sentence.
      type: str
    requests:
      description: Requests fortio reported a status for.
      type: int
    codes:
      description: Responses per status code, as fortio reports them (C(-1) for a socket error).
      type: dict
    share_503:
      description: Share of 503 answers in percent.
      type: float
    overflow:
      description: How much C(upstream_rq_pending_overflow) rose during the load.
      type: int
"""

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

_CODE_LINE = re.compile(r"^Code\s+(-?\d+)\s*:\s*(\d+)\s*\(", re.MULTILINE)


def fortio_report(result):
    """The text of a fortio load report: its stderr (where fortio writes it) and stdout, or a merged-stream string."""
    if isinstance(result, Mapping):
        return "\n".join(result.get(stream) or "" for stream in ("stderr", "stdout"))
    if result is None or isinstance(result, str):
        return result or ""
    raise AnsibleFilterError("circuit_breaking_verdict reads the registered result of 'fortio load' (with stderr and "
                             "stdout) or its output as text, not a %s" % type(result).__name__)


def fortio_codes(report):
    """Responses per status code from a fortio load report; an error when it has no histogram."""
    codes = {}
    for code, count in _CODE_LINE.findall(report or ""):
        codes[int(code)] = codes.get(int(code), 0) + int(count)
    if not codes:
        raise AnsibleFilterError("the fortio output (stderr and stdout) has no 'Code NNN : count' lines, so fortio did not "
                                 "finish a load: "
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


def circuit_breaking_verdict(result, stats_before, stats_after, host, port, requests):
    codes = fortio_codes(fortio_report(result))
    total = sum(codes.values())
    refused = codes.get(503, 0)
    share = round(100.0 * refused / total, 1)
    before = envoy_counter(stats_before, host, port, "upstream_rq_pending_overflow")
    after = envoy_counter(stats_after, host, port, "upstream_rq_pending_overflow")
    histogram = ", ".join("%d: %d" % item for item in sorted(codes.items()))
    problems = []
    if total != int(requests):
        problems.append("fortio reported %d of the %d requests" % (total, int(requests)))
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


class FilterModule(object):
    def filters(self):
        return {"circuit_breaking_verdict": circuit_breaking_verdict}
