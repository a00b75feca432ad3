# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: rate_limit_verdict
short_description: Decide whether the 200 and 429 answers of a probe are what a token bucket allows
version_added: 0.1.0
description:
  - Bounds what Envoy's local rate limit may let through while the probe ran. A bucket starts with at most
    O(max_tokens) tokens and gains O(tokens_per_fill) at each fill; a window of C(d) seconds holds at most
    C(floor(d / fill_interval) + 1) fills. Each Envoy instance has its own bucket, so the bound is multiplied
    by O(replicas).
  - Passes when some requests were refused with 429, at least as many as the requests above that bound,
    at least C(min(requests, max_tokens)) were answered 200 (the bucket was full when the probe began),
    no other status was seen and, when the probe labelled them C(rate_limited) (by the C(x-local-rate-limit)
    response header), every 429 carried the header.
  - Fails, saying so, when the probe sent too few requests to exceed the bound, because then no 429 is
    also what a working limit gives.
positional: max_tokens, tokens_per_fill, fill_interval, replicas
options:
  _input:
    description:
      - The result of M(istiolab.mesh.traffic_probe) (its C(requests), C(status), C(duration_s) and C(counts)).
    type: dict
    required: true
  max_tokens:
    description: The bucket's C(max_tokens).
    type: int
    required: true
  tokens_per_fill:
    description: The bucket's C(tokens_per_fill).
    type: int
    required: true
  fill_interval:
    description: The bucket's C(fill_interval), a duration such as V(60s), V(500ms) or V(1m).
    type: str
    required: true
  replicas:
    description: How many gateway instances (Envoy processes, each with its own bucket) shared the traffic.
    type: int
    default: 1
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: Conclude the rate limit scenario
  ansible.builtin.set_fact:
    verdict: "{{ probe | istiolab.mesh.rate_limit_verdict(10, 10, '60s', 1) }}"
"""

RETURN = r"""
_value:
  description: The decision and the bound it was made against.
  type: dict
  contains:
    passed:
      description: Whether the answers are those of the configured bucket.
      type: bool
    detail:
      description: What was measured and decided, in a sentence.
      type: str
    allowed_max:
      description: The most requests the buckets could let through during the probe.
      type: int
    limited:
      description: Requests answered 429.
      type: int
    min_limited:
      description: The fewest 429 answers the bound implies.
      type: int
    share_429:
      description: Share of 429 answers in percent.
      type: float
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.module_utils import _verdict

# The rule lives in module_utils/_verdict.py (the scenario_verdict filter's rate_limit kind).


def duration_seconds(value):
    try:
        return _verdict.duration_seconds(value)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def rate_limit_verdict(probe, max_tokens, tokens_per_fill, fill_interval, replicas=1):
    try:
        return _verdict.rate_limit({"probe": probe, "replicas": replicas},
                                   {"max_tokens": max_tokens, "tokens_per_fill": tokens_per_fill, "fill_interval": fill_interval})
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"rate_limit_verdict": rate_limit_verdict}
