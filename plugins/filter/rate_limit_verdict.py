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

import math
import re

from ansible.errors import AnsibleFilterError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value):
    """Seconds of a protobuf-style duration such as 60s, 500ms, 1m or 1h."""
    match = re.match(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$", str(value).strip())
    if not match or float(match.group(1)) <= 0:
        raise AnsibleFilterError("fill_interval %r is not a positive duration such as 60s, 500ms or 1m" % (value,))
    return float(match.group(1)) * _UNITS[match.group(2)]


def rate_limit_verdict(probe, max_tokens, tokens_per_fill, fill_interval, replicas=1):
    try:
        requests = int(probe["requests"])
        status = dict((int(code), int(count)) for code, count in probe["status"].items())
        duration = float(probe["duration_s"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AnsibleFilterError("rate_limit_verdict needs the result of istiolab.mesh.traffic_probe: %s" % exc)
    if int(replicas) < 1:
        raise AnsibleFilterError("rate_limit_verdict: no gateway instance ran the rate limit (replicas=%r): check the gateway selector" % (replicas,))
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


class FilterModule(object):
    def filters(self):
        return {"rate_limit_verdict": rate_limit_verdict}
