# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: scenario_probes
short_description: Name who sent each probe of a scenario and say in a few words what it saw
version_added: 0.1.0
description:
  - Takes the C(results) of a looped M(istiolab.mesh.traffic_probe) task whose loop items are the scenario's probes
    (C(name), C(login_user), C(min_latency_ms), C(max_latency_ms), ...) and returns one entry per probe.
  - Each entry says who sent it (C(signed in as <user>) when the probe signed in, else C(anonymous)) and holds a
    C(brief), the labels' shares (the status codes' when the probe labelled nothing) and, when the probe bounds a
    latency, the median, with no URL, for a summary a person reads aloud. The full result stays in the entry.
options:
  _input:
    description: The C(results) list of the registered loop; each element carries its loop C(item).
    type: list
    elements: dict
    required: true
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: Describe the probes of the scenario
  ansible.builtin.set_fact:
    probes: "{{ probe_results.results | istiolab.mesh.scenario_probes }}"
"""

RETURN = r"""
_value:
  description: One entry per probe, in the loop's order.
  type: list
  elements: dict
  contains:
    name:
      description: The probe's name.
      type: str
    who:
      description: C(signed in as <user>) or C(anonymous).
      type: str
    passed:
      description: Whether the probe saw what it expected.
      type: bool
    brief:
      description: "Who sent it and what it saw, for example C(signed in as jason: v2 100% of 29 pages)."
      type: str
    msg:
      description: The probe's own message, with its statistics.
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.module_utils import _verdict

# The words and the decision live in module_utils/_verdict.py (the scenario_verdict filter's probes kind).
duration_text = _verdict.duration_text
probe_brief = _verdict.probe_brief


def scenario_probes(results):
    try:
        return _verdict.probe_outcomes(results)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"scenario_probes": scenario_probes}
