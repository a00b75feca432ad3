# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: access_status
short_description: The HTTP status Istio's ingress gateway answers a source address with, given allow and deny lists
version_added: 0.1.0
description:
  - Applies Istio's order of evaluation for AuthorizationPolicies on one workload to a source address - a matching
    C(DENY) policy denies; otherwise, when any C(ALLOW) policy exists, a source that matches none is denied; otherwise
    the request is allowed. Denied requests are answered C(403) with the body C(RBAC access denied).
  - The role C(istiolab.mesh.policy) renders one C(DENY) policy from O(deny_cidrs) and one C(ALLOW) policy from
    O(allow_cidrs) (none when a list is empty), so this filter predicts what its probes must measure.
positional: allow_cidrs, deny_cidrs
options:
  _input:
    description: The source address as the gateway sees it.
    type: str
    required: true
  allow_cidrs:
    description: Addresses or CIDR blocks of the C(ALLOW) policy; empty means there is no C(ALLOW) policy.
    type: list
    elements: str
    required: true
  deny_cidrs:
    description: Addresses or CIDR blocks of the C(DENY) policy; empty means there is no C(DENY) policy.
    type: list
    elements: str
    required: true
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: "Returns status 403 and the reason: 192.168.49.1 is in the deny list (192.168.49.0/24)"
  ansible.builtin.debug:
    msg: "{{ '192.168.49.1' | istiolab.mesh.access_status([], ['192.168.49.0/24']) }}"
"""

RETURN = r"""
_value:
  description: The status (C(200) or C(403)) and the reason in words.
  type: dict
  contains:
    status:
      description: C(200) when the gateway lets the source through, C(403) when it denies it.
      type: int
    reason:
      description: Which list decided, naming the matching block.
      type: str
"""

import ipaddress

from ansible.errors import AnsibleFilterError
from ansible_collections.istiolab.mesh.plugins.filter.cidr import invalid_cidrs, parse_block


def _matching(address, blocks):
    return [block for block in blocks if address in parse_block(block)]


def access_status(source, allow_cidrs, deny_cidrs):
    try:
        address = ipaddress.ip_address(str(source).strip())
    except ValueError:
        raise AnsibleFilterError("access_status needs a source IP address, got %r" % (source,))
    for name, blocks in (("allow_cidrs", allow_cidrs), ("deny_cidrs", deny_cidrs)):
        bad = invalid_cidrs(blocks)
        if bad:
            raise AnsibleFilterError("access_status: %s has malformed entries: %s" % (name, ", ".join(map(str, bad))))
    denied_by = _matching(address, deny_cidrs)
    if denied_by:
        return {"status": 403, "reason": "%s is in the deny list (%s)" % (address, ", ".join(denied_by))}
    if allow_cidrs:
        allowed_by = _matching(address, allow_cidrs)
        if not allowed_by:
            return {"status": 403, "reason": "%s is in no block of the allow list (%s)" % (address, ", ".join(allow_cidrs))}
        return {"status": 200, "reason": "%s is in the allow list (%s)" % (address, ", ".join(allowed_by))}
    return {"status": 200, "reason": "%s is in no deny block and there is no allow list" % address}


class FilterModule(object):
    def filters(self):
        return {"access_status": access_status}
