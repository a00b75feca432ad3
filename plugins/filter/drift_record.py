# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: drift_record
short_description: The data of the record ConfigMap of what a role just applied
version_added: 0.1.0
description:
  - From the registered results of one or more M(kubernetes.core.k8s) apply tasks, the C(data) of a ConfigMap that
    records what was applied - the digest the P(istiolab.mesh.drift#lookup) lookup returned for the objects, and each
    returned object's kind, namespace, name, C(uid) and C(generation) (or C(resourceVersion) when it has none).
  - The next run's P(istiolab.mesh.drift#lookup) lookup compares the cluster with it, so the role can skip its apply
    when nothing drifted.
options:
  _input:
    description: The registered results of the apply tasks (a list of them, or one).
    type: raw
    required: true
  digest:
    description: The digest of the applied objects, from the P(istiolab.mesh.drift#lookup) lookup.
    type: str
    required: true
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: Record what was applied
  kubernetes.core.k8s:
    state: present
    definition:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: istiolab-mesh-applied-bookinfo
        namespace: bookinfo
      data: "{{ [app_applied, rules_applied] | istiolab.mesh.drift_record(drift.digest) }}"
"""

RETURN = r"""
_value:
  description: The ConfigMap's data (C(format), C(digest), C(objects) as JSON).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.module_utils import _drift


def drift_record(registered, digest):
    if not digest:
        raise AnsibleFilterError("drift_record needs the digest the istiolab.mesh.drift lookup returned")
    return _drift.record_data(digest, _drift.applied_objects(registered))


class FilterModule(object):
    def filters(self):
        return {"drift_record": drift_record}
