# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: source_address
short_description: The control node's own address on its route to a host, without the C(ip) command
version_added: 0.1.0
description:
  - Returns the local address the control node's network stack picks to reach each host, the address a server on that
    host sees as the TCP peer when nothing translates addresses on the way.
  - Portable (Linux, macOS, Windows/WSL) - it asks the operating system by connecting a UDP socket, which sends no packet,
    and reading its local end, instead of parsing C(ip route get), which macOS does not have.
  - For a loopback host (a gateway URL on 127.0.0.1 through C(kubectl port-forward) or a tunnel) it returns the loopback
    address, which is also what the gateway sees then - the port-forward connects to it from inside its own pod.
  - Runs on the control node, like every lookup.
options:
  _terms:
    description: Host names or addresses, for example the host of the gateway URL.
    type: list
    elements: str
    required: true
  port:
    description: The port of the route; only a route's port-dependent policy (rare) changes the answer.
    type: int
    default: 80
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: The control node's address as the ingress gateway at 192.168.49.2 sees it
  ansible.builtin.debug:
    msg: "{{ lookup('istiolab.mesh.source_address', '192.168.49.2') }}"
"""

RETURN = r"""
_raw:
  description: One local address per host, in the order of the terms.
  type: list
  elements: str
"""

import socket

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


def source_address(host, port=80):
    """The local address of a UDP socket connected to ``host``: the source of the route the OS would use."""
    try:
        family, _type, _proto, _name, address = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise AnsibleLookupError("cannot resolve %r to find the control node's address on its route to it: %s" % (host, exc)) from exc
    probe = socket.socket(family, socket.SOCK_DGRAM)
    try:
        probe.connect(address)
        return probe.getsockname()[0]
    except OSError as exc:
        raise AnsibleLookupError("the control node has no route to %s (%s): %s; check its network, or set the address "
                                 "the gateway sees yourself" % (host, address[0], exc)) from exc
    finally:
        probe.close()


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        port = int(self.get_option("port"))
        return [source_address(str(term), port) for term in terms]
