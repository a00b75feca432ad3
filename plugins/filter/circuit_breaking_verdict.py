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

from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.module_utils import _verdict

# The rule lives in module_utils/_verdict.py (the scenario_verdict filter's circuit_breaking kind); these are its parts.
envoy_counter = _verdict.envoy_counter


def fortio_report(result):
    try:
        return _verdict.fortio_report(result)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def fortio_codes(report):
    try:
        return _verdict.fortio_codes(report)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def circuit_breaking_verdict(result, stats_before, stats_after, host, port, requests):
    try:
        return _verdict.circuit_breaking({"load": result, "stats_before": stats_before, "stats_after": stats_after},
                                         {"host": host, "port": port, "requests": requests})
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"circuit_breaking_verdict": circuit_breaking_verdict}
