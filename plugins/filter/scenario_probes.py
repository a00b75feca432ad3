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

# What the probe keeps from the module's result, for the artifacts.
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
    """``who: <shares> of <n> pages[, p50 <latency>][ - not as expected]``."""
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


def scenario_probes(results):
    if not isinstance(results, list):
        raise AnsibleFilterError("scenario_probes needs the results list of a looped traffic_probe task, got %s" % type(results).__name__)
    probes = []
    for index, result in enumerate(results):
        if not isinstance(result, dict) or not isinstance(result.get("item"), dict):
            raise AnsibleFilterError("scenario_probes: result %d has no loop item (register the looped traffic_probe task)" % index)
        item = result["item"]
        user = item.get("login_user")
        who = "signed in as %s" % user if user else "anonymous"
        bounds_latency = bool(item.get("min_latency_ms") or item.get("max_latency_ms"))
        probe = dict(name=item.get("name"), who=who, passed=bool(result.get("passed")),
                     brief=probe_brief(who, result, bounds_latency))
        probe.update((key, result[key]) for key in _KEPT if key in result)
        probes.append(probe)
    return probes


class FilterModule(object):
    def filters(self):
        return {"scenario_probes": scenario_probes}
