#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mesh_wait
short_description: Wait for workloads to be ready, saying how far they are
version_added: 0.1.0
description:
  - An action plugin. The wait is M(kubernetes.core.k8s_info)'s own (C(wait), its readiness rules per kind and O(wait_condition)),
    run in slices of O(progress_interval) seconds until O(wait_timeout). Between two slices it reads the workloads once and prints
    one line, for example C(Bookinfo pods ready 4/6, 45 s of 600 (waiting on reviews-v2, reviews-v3)), so a long wait is not a
    silent task. A wait that ends within the first slice prints nothing.
  - The module defaults of M(kubernetes.core.k8s_info) (and of its group C(kubernetes.core.k8s)) apply, so the play's cluster
    connection is used.
  - The result is M(kubernetes.core.k8s_info)'s, with every target's C(resources) in order; on a timeout the task fails naming
    how many pods are ready and which workloads are not.
author:
  - istiolab.mesh contributors (@istiolab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only, as in a normal run.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  what:
    description:
      - What is waited for, as the progress line names it, for example C(Bookinfo pods).
    type: str
    default: pods
  api_version:
    description:
      - The API version of the workloads (for every target that does not give its own).
    type: str
    default: v1
  kind:
    description:
      - The kind of the workloads (C(Deployment), C(StatefulSet), C(DaemonSet), C(Pod)), for every target that does not give its own.
    type: str
  namespace:
    description:
      - Their namespace.
    type: str
  name:
    description:
      - One workload's name.
    type: str
  label_selectors:
    description:
      - Label selectors, as M(kubernetes.core.k8s_info) takes them; one selector can select every workload of the wait at once.
    type: list
    elements: str
  targets:
    description:
      - Several queries waited on together, each a mapping of O(api_version), O(kind), O(name), O(namespace), O(label_selectors)
        over the task's own. While one is waited for the others keep rolling out, and the progress line counts them all.
    type: list
    elements: dict
  wait_condition:
    description:
      - The condition each workload must reach, as M(kubernetes.core.k8s_info) takes it (for example C(type=Available, status=True)).
        Without it, k8s_info's readiness rule of the kind.
    type: dict
  wait_timeout:
    description:
      - Seconds to wait in all.
    type: int
    default: 120
  wait_sleep:
    description:
      - Seconds between two of k8s_info's checks.
    type: int
    default: 5
  progress_interval:
    description:
      - Seconds between two progress lines.
    type: int
    default: 15
  kubeconfig:
    description:
      - The kubeconfig, as M(kubernetes.core.k8s_info) takes it (usually from the play's module defaults).
    type: raw
  context:
    description:
      - The kube context, as M(kubernetes.core.k8s_info) takes it.
    type: str
seealso:
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Wait for every Bookinfo Deployment, one line of progress every 15 s
  istiolab.mesh.mesh_wait:
    what: Bookinfo pods
    api_version: apps/v1
    kind: Deployment
    namespace: bookinfo
    label_selectors: ["app in (productpage, details, reviews, ratings)"]
    wait_timeout: 600

- name: Wait for the logging stack's workloads together
  istiolab.mesh.mesh_wait:
    what: logging pods
    namespace: elk
    api_version: apps/v1
    targets:
      - {kind: StatefulSet, name: elasticsearch}
      - {kind: Deployment, name: kibana}
      - {kind: DaemonSet, name: fluent-bit}
    wait_timeout: 900
"""

RETURN = r"""
resources:
  description: The workloads as M(kubernetes.core.k8s_info) returns them, every target's in order.
  returned: always
  type: list
  elements: dict
ready:
  description: Their pods that are ready.
  returned: always
  type: int
  sample: 6
wanted:
  description: The pods they want.
  returned: always
  type: int
  sample: 6
waited_s:
  description: Seconds the wait took.
  returned: success
  type: float
  sample: 45.2
waiting:
  description: The workloads still not ready when the wait timed out.
  returned: failure
  type: list
  elements: str
"""
