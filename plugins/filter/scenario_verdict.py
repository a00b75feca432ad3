# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: scenario_verdict
short_description: Decide whether a scenario's measurements show its effect, by the scenario's decision rule
version_added: 0.2.0
description:
  - The one place where the scenarios of the routing, resilience and policy roles are judged. Takes what the
    scenario's probes measured and the settings its rule judges against, and returns C(passed) and a C(detail)
    sentence, with the figures the decision used.
  - C(probes) (all_v1, canary, ab_test, fault_injection) - the C(results) of a looped M(istiolab.mesh.traffic_probe)
    task whose loop items are the probes; passes when every probe passed its statistical test. Also returns C(summary),
    C(probes) and, per probe name, C(requests), C(shares), C(status) and C(latency_ms).
  - C(mirror) - C(stdout) (the client's answers, one hostname a line) and C(before), C(after) (the C(/hostname) request
    lines in httpbin v1's and v2's logs, as C({v1, v2})); rule C(requests), C(percentage). Passes when v1 answered and
    logged every request, v2 answered none and logged a count within three standard deviations of the binomial C(n*p).
  - C(circuit_breaking) - C(load) (the registered C(k8s_exec) result of C(fortio load)), C(stats_before), C(stats_after)
    (the client proxy's C(pilot-agent request GET stats)); rule C(host), C(port), C(requests). See
    R(istiolab.mesh.circuit_breaking_verdict,ansible_collections.istiolab.mesh.circuit_breaking_verdict_filter).
  - C(rate_limit) - C(probe) (a M(istiolab.mesh.traffic_probe) result), C(replicas) (gateway instances); rule
    C(max_tokens), C(tokens_per_fill), C(fill_interval). See
    R(istiolab.mesh.rate_limit_verdict,ansible_collections.istiolab.mesh.rate_limit_verdict_filter).
  - C(access_control) - C(node_probe) (the control node's M(istiolab.mesh.traffic_probe) result), C(client_lines) (the
    mesh client's status codes, one a line); rule C(sources) (C(control node) and C(mesh client), each with the C(status)
    and C(reason) of R(istiolab.mesh.access_status,ansible_collections.istiolab.mesh.access_status_filter)) and
    C(client_requests). Passes when each source got the status its address must get.
positional: kind, rule
options:
  _input:
    description: What the scenario measured, as its kind reads it (see the description).
    type: raw
    required: true
  kind:
    description: The scenario's decision rule.
    type: str
    required: true
    choices: [probes, mirror, circuit_breaking, rate_limit, access_control]
  rule:
    description: The settings the rule judges against (see the description).
    type: dict
    default: {}
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: Conclude the mirror scenario
  ansible.builtin.set_fact:
    verdict: >-
      {{ {'stdout': exec.stdout, 'before': before, 'after': after}
         | istiolab.mesh.scenario_verdict('mirror', {'requests': 20, 'percentage': 100}) }}

- name: Conclude a routing scenario from its looped probes
  ansible.builtin.set_fact:
    verdict: "{{ probe_results.results | istiolab.mesh.scenario_verdict('probes') }}"
"""

RETURN = r"""
_value:
  description: The decision and what it was made from.
  type: dict
  contains:
    passed:
      description: Whether the measurements show the scenario's effect.
      type: bool
    detail:
      description: What was measured and decided, in a sentence.
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.module_utils import _verdict


def scenario_verdict(evidence, kind, rule=None):
    try:
        return _verdict.decide(kind, evidence, rule)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"scenario_verdict": scenario_verdict}
