# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: drift
short_description: Whether the cluster still holds exactly what a role applied and recorded, read-only
version_added: 0.1.0
description:
  - Compares the objects a role is about to apply with the record of its last successful apply (a ConfigMap written
    with the M(kubernetes.core.k8s) module from the P(istiolab.mesh.drift_record#filter) filter) and with what the
    cluster holds now.
  - Reads the record, then lists each kind the record names, once per kind and namespace (optionally with a label
    selector); it sends no write. In sync means the digest of O(_terms) is the recorded one and every recorded object
    is there with its recorded C(uid) and C(generation) (or C(resourceVersion) when it has no generation).
  - Anything else is drift and the role applies again; a list that fails (a kind the cluster no longer serves, the API
    not answering) counts as drift too, so the apply that follows reports the real error.
  - Not seen - a change to only the labels or annotations of an object that has a generation (a Deployment, a custom
    resource).
  - Runs on the control node, through the M(kubernetes.core.k8s) lookup and its Python client.
options:
  _terms:
    description: The objects the role is about to apply, as it passes them to the module (lists are flattened).
    type: list
    elements: raw
    required: true
  record_namespace:
    description: The namespace of the record ConfigMap.
    type: str
    required: true
  record_name:
    description: The name of the record ConfigMap.
    type: str
    required: true
  label_selector:
    description: A label selector for every list, when all the role's objects carry that label.
    type: str
  kubeconfig:
    description: The kubeconfig file, as for the kubernetes.core modules; empty for the client's default.
    type: str
  context:
    description: The kubeconfig context; empty for the current one.
    type: str
author:
  - istiolab.mesh contributors (@istiolab)
"""

EXAMPLES = r"""
- name: Skip the apply when nothing drifted
  vars:
    objects: "{{ lookup('ansible.builtin.template', 'objects.yml.j2') | from_yaml_all | list }}"
    drift: "{{ lookup('istiolab.mesh.drift', objects, record_namespace='bookinfo', record_name='istiolab-mesh-applied-bookinfo') }}"
  kubernetes.core.k8s:
    state: present
    apply: true
    definition: "{{ objects }}"
  when: not drift.in_sync
"""

RETURN = r"""
_raw:
  description: One dictionary.
  type: list
  elements: dict
  contains:
    in_sync:
      description: True when the apply can be skipped.
      type: bool
    digest:
      description: The digest of the objects, to record after the apply.
      type: str
    reasons:
      description: Why the apply cannot be skipped (empty when in sync).
      type: list
      elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader
from ansible.plugins.lookup import LookupBase

from ansible_collections.istiolab.mesh.plugins.module_utils import _drift


def flattened(terms):
    objects = []
    for term in terms:
        if isinstance(term, list):
            objects.extend(flattened(term))
        elif isinstance(term, dict):
            objects.append(term)
        elif term is not None:
            raise AnsibleLookupError("istiolab.mesh.drift takes Kubernetes objects (dictionaries), not %r" % (term,))
    return objects


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        objects = flattened(terms)
        objects_digest = _drift.digest(objects)
        connection = {key: self.get_option(key) for key in ("kubeconfig", "context") if self.get_option(key)}
        k8s = lookup_loader.get("kubernetes.core.k8s", loader=self._loader, templar=self._templar)
        if k8s is None:
            raise AnsibleLookupError("istiolab.mesh.drift needs the kubernetes.core collection (requirements.yml)")

        def query(**params):
            try:
                return k8s.run([], variables, **dict(connection, **params))
            except Exception:  # pylint: disable=broad-exception-caught
                # Drift: the apply that follows runs and reports the real error.
                return None

        found = query(api_version="v1", kind="ConfigMap", namespace=self.get_option("record_namespace"),
                      resource_name=self.get_option("record_name"))
        record = found[0] if found else None
        entries = _drift.recorded_objects(record)
        listed = {}
        if entries is not None and (record.get("data") or {}).get("digest") == objects_digest:
            selector = self.get_option("label_selector")
            for api_version, kind, namespace in _drift.kinds_to_list(entries):
                params = {"api_version": api_version, "kind": kind, "namespace": namespace or None}
                if selector:
                    params["label_selector"] = selector
                listed[(api_version, kind, namespace)] = query(**params)
        reasons = _drift.compare(record, objects_digest, listed)
        return [{"in_sync": not reasons, "digest": objects_digest, "reasons": reasons}]
