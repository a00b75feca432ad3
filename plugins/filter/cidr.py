# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: invalid_cidrs
short_description: The entries of a list that are not an IP address or a CIDR block
version_added: 0.1.0
description:
  - Returns, in their order, the entries of the input that Istio would not accept in C(ipBlocks) or C(remoteIpBlocks)
    of an AuthorizationPolicy - anything other than an IPv4 or IPv6 address (V(203.0.113.7)) or a CIDR block
    (V(203.0.113.0/24), V(2001:db8::/32)).
  - An empty result means every entry is valid, so a role can validate a list before it applies anything.
  - Uses Python's C(ipaddress) module; unlike C(ansible.utils.ipaddr) it needs no C(netaddr).
  - A block with host bits set (V(10.0.0.1/8)) is accepted, as Istio accepts it; it means the whole block.
options:
  _input:
    description: The addresses and blocks to check.
    type: list
    elements: raw
    required: true
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: Fail before anything is applied when a block is malformed
  ansible.builtin.assert:
    that: policy_deny_cidrs | istiolab.mesh.invalid_cidrs | length == 0
    fail_msg: "policy_deny_cidrs has malformed entries: {{ policy_deny_cidrs | istiolab.mesh.invalid_cidrs | join(', ') }}"

- name: Returns ['10.0.0.0/33', 'localhost']
  ansible.builtin.debug:
    msg: "{{ ['10.0.0.0/8', '10.0.0.0/33', '192.0.2.1', 'localhost', '2001:db8::/32'] | istiolab.mesh.invalid_cidrs }}"
"""

RETURN = r"""
_value:
  description: The entries that are neither an IP address nor a CIDR block, unchanged, in input order.
  type: list
  elements: raw
"""

import ipaddress

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible.module_utils.six import string_types


def parse_block(entry):
    """The network an entry names, or None when it is not an address or a CIDR block."""
    if not isinstance(entry, string_types) or entry != entry.strip() or not entry:
        return None
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def invalid_cidrs(entries):
    if not is_sequence(entries):
        raise AnsibleFilterError("invalid_cidrs expects a list of addresses or CIDR blocks, got %r" % (entries,))
    return [entry for entry in entries if parse_block(entry) is None]


class FilterModule(object):
    def filters(self):
        return {"invalid_cidrs": invalid_cidrs}
