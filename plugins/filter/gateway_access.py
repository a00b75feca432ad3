# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: gateway_access
short_description: How this machine can reach a service of a minikube cluster - node port or 127.0.0.1 port-forward
version_added: 0.1.0
description:
  - Decides, for the minikube driver given as input, whether the node IP is reachable from this machine, by the rule
    minikube itself applies (C(NeedsPortForward) in minikube's C(pkg/minikube/driver/driver.go)), and returns the access
    mode with the reason.
  - C(port-forward) when the driver runs the node in a container (V(docker), V(podman)) and the engine is on another
    machine (C(DOCKER_HOST) names a host), the system is macOS or Windows, the shell runs in WSL, the engine is Docker
    Desktop on Linux (C(docker info) C(OperatingSystem) V(Docker Desktop)), or the engine is rootless
    (C(SecurityOptions) has V(name=rootless); for podman C(host.security.rootless)).
  - Also C(port-forward) when the engine's description is empty (it could not be read), since a port-forward works on
    every host.
  - C(nodeport) otherwise (a VM driver, or Docker Engine running as root on Linux).
options:
  _input:
    description: The minikube driver (V(docker), V(podman), V(kvm2), ...).
    type: str
    required: true
  system:
    description: The control node's operating system as C(ansible_facts['system']) gives it (V(Linux), V(Darwin)).
    type: str
    required: true
  env:
    description: The control node's environment (C(ansible_facts['env'])); C(DOCKER_HOST) and the WSL variables are read.
    type: dict
    default: {}
  kernel:
    description: The kernel release (C(ansible_facts['kernel'])); a V(microsoft) kernel means WSL.
    type: str
    default: ""
  engine_info:
    description: The container engine's own description, C(docker info --format '{{json .}}') or C(podman info --format json).
    type: dict
    default: {}
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: Decide how the gateway is reached
  ansible.builtin.set_fact:
    access: >-
      {{ 'docker' | istiolab.mesh.gateway_access(system=ansible_facts['system'], env=ansible_facts['env'],
         kernel=ansible_facts['kernel'], engine_info=docker_info.stdout | from_json) }}

# Returns {'mode': 'port-forward', 'reason': 'the docker driver on macOS runs ...'}
- name: Show the decision on macOS
  ansible.builtin.debug:
    msg: "{{ 'docker' | istiolab.mesh.gateway_access(system='Darwin') }}"
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    mode:
      description: V(nodeport) or V(port-forward).
      type: str
    reason:
      description: Why, in one sentence, for the play's report.
      type: str
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types
from ansible.module_utils.six.moves.urllib.parse import urlparse

CONTAINER_DRIVERS = ("docker", "podman")
WSL_VARIABLES = ("WSL_DISTRO_NAME", "WSLPATH", "WSLENV")


def _decision(mode, reason):
    return {"mode": mode, "reason": reason}


def _rootless(driver, info):
    if driver == "podman":
        return bool(((info.get("host") or {}).get("security") or {}).get("rootless"))
    return any("name=rootless" in str(option).split(",") for option in info.get("SecurityOptions") or [])


def gateway_access(driver, system, env=None, kernel="", engine_info=None):
    if not isinstance(driver, string_types) or not driver:
        raise AnsibleFilterError("gateway_access expects the minikube driver name as input, got %r" % (driver,))
    env = env or {}
    info = engine_info or {}
    if not isinstance(env, dict) or not isinstance(info, dict):
        raise AnsibleFilterError("gateway_access expects env and engine_info as dicts, got %r and %r" % (env, info))
    if driver not in CONTAINER_DRIVERS:
        return _decision("nodeport", "the %s driver runs the node in a VM or on this host, whose IP this machine reaches" % driver)
    if driver == "docker" and urlparse(env.get("DOCKER_HOST") or "").netloc:
        return _decision("port-forward", "DOCKER_HOST=%s: the Docker engine, and so the node, is on another machine" % env["DOCKER_HOST"])
    if system in ("Darwin", "Windows"):
        return _decision("port-forward", "the %s driver on %s runs the node inside Docker Desktop's VM, whose network this machine "
                                         "cannot reach" % (driver, "macOS" if system == "Darwin" else system))
    if any(env.get(name) for name in WSL_VARIABLES) or "microsoft" in (kernel or "").lower():
        return _decision("port-forward", "this shell runs in WSL, which cannot reach the node's network of the %s driver" % driver)
    if not info:
        return _decision("port-forward", "the %s engine's description could not be read, and a port-forward works on every host" % driver)
    if driver == "docker" and info.get("OperatingSystem") == "Docker Desktop":
        return _decision("port-forward", "Docker Desktop on Linux runs the node inside its VM, whose network this machine cannot reach")
    if _rootless(driver, info):
        return _decision("port-forward", "the %s engine is rootless, so the node's network lives in its user namespace" % driver)
    return _decision("nodeport", "the %s engine runs as root on %s, so the node IP is reachable from this machine" % (driver, system))


class FilterModule(object):
    def filters(self):
        return {"gateway_access": gateway_access}
