# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: scenario_summary
short_description: The line or two a presenter reads aloud about one scenario's result
version_added: 0.1.0
description:
  - Turns one entry of C(routing_scenario_results) into at most two lines for the play's summary.
  - A result measured in this run gives its verdict and what each probe saw (C(summary)), and where its full statistics are
    (C(artifact)).
  - A recorded verdict (C(recorded)) gives when it was measured, not the gateway URL of that run, which may be gone; the
    summary shows the current URL once, elsewhere.
  - A scenario applied with its verification off (C(measured) false) says C(applied, not measured) and names the variable.
  - Without a C(summary), the C(detail) is used with its URLs left out and cut to one line; the artifact keeps all of it.
positional: scenario
options:
  _input:
    description: The scenario's result (C(passed), C(detail) and optionally C(summary), C(recorded), C(measured_at),
      C(measured), C(verify_variable), C(artifact)).
    type: dict
    required: true
  scenario:
    description: The scenario's name, as its tag.
    type: str
    required: true
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: Print the scenarios
  ansible.builtin.debug:
    msg: "{{ routing_scenario_results.canary | istiolab.mesh.scenario_summary('canary') }}"
"""

RETURN = r"""
_value:
  description: One or two lines, the second indented.
  type: list
  elements: str
"""

import re

from ansible.errors import AnsibleFilterError

# A line a person reads in one breath; longer details are in the artifact.
BRIEF_LIMIT = 160
# A first clause shorter than this says too little to stand alone.
_MIN_CLAUSE = 40
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


def plain_brief(text, limit=BRIEF_LIMIT):
    """``text`` without URLs, whitespace folded; when longer than ``limit``, its first clause (up to the first "; ")
    if that is a sentence of its own, else cut at a word, and " ..." for the rest."""
    text = " ".join(_URL.sub("the gateway", str(text or "")).split())
    if len(text) <= limit:
        return text
    first = text.split("; ", 1)[0]
    if _MIN_CLAUSE <= len(first) <= limit - 4:
        return first + " ..."
    cut = text[:limit - 4].rsplit(" ", 1)[0].rstrip(" ,;:|")
    return cut + " ..."


def _true(value):
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


def scenario_summary(result, scenario):
    if not isinstance(result, dict):
        raise AnsibleFilterError("scenario_summary needs a scenario's result (a dict with passed and detail), got %r" % (result,))
    head = "Scenario %s: " % scenario
    recorded = _true(result.get("recorded", False))
    when = result.get("measured_at") or "an earlier run"
    if not _true(result.get("measured", True)):
        variable = result.get("verify_variable") or "its verify setting"
        if recorded:
            return [head + "applied, not measured (%s is false); applied at %s with the same objects and settings, so not applied again" % (variable, when)]
        return [head + "applied, not measured (%s is false)" % variable]
    verdict = "passed" if _true(result.get("passed")) else "FAILED"
    brief = plain_brief(result.get("summary") or result.get("detail"))
    if recorded:
        return [head + "%s when measured at %s: %s" % (verdict, when, brief),
                "  not played again: same objects and settings (--tags %s measures it now)" % scenario]
    lines = [head + "%s: %s" % (verdict, brief)]
    if result.get("artifact"):
        lines.append("  full statistics: %s" % result["artifact"])
    return lines


class FilterModule(object):
    def filters(self):
        return {"scenario_summary": scenario_summary}
