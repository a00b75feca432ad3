#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mesh_settings
short_description: Check every setting of a demo run at once, before anything changes
version_added: 0.1.0
description:
  - Runs on the controller (an action plugin) and reads nothing from any host or cluster.
  - For each role in O(roles) checks the values the role will see (the play's variables over the role's defaults)
    against its C(meta/argument_specs.yml) entry point C(main), one option at a time.
  - For each scenario in O(scenarios) checks the role's entry point of that name the same way, then the
    cross-field rules of the role's C(templates/problems.j2), the same rules the role's C(validate.yml) applies
    (canary weights summing to 100, subsets the DestinationRule knows, ...).
  - Checks C(istio_version) against the Istio lines the collection supports and C(minikube_version) for the form
    of a minikube release tag.
  - Checks the settings that only the playbooks read, when the play sets them. C(mesh_report_screenshots) takes true or
    false (default false) and says whether the proof report takes headless browser screenshots of productpage, Grafana and Kiali.
  - Fails on a C(--tags) or C(--skip-tags) value that is not in O(known_tags), suggesting the nearest one.
  - Warns about each variable with one of the collection's prefixes (C(mesh_), C(routing_), C(bookinfo_), ...)
    or a scenario's name that no role defines or documents, suggesting the nearest known name.
  - Fails with one message that lists every problem, each naming the variable a person sets (for example
    C(mesh_minikube_memory) rather than the role's C(preflight_memory)), what it takes and an example.
author:
  - istiolab.mesh contributors (@istiolab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  roles:
    description:
      - The roles of this run whose C(main) entry point runs.
    type: list
    elements: str
    default: []
  scenarios:
    description:
      - The scenarios this run plays, each mapped to the role whose entry point of the same name plays it.
    type: dict
    default: {}
  known_tags:
    description:
      - Every tag the play knows. C(all), C(always), C(never), C(tagged) and C(untagged) are always known.
    type: list
    elements: str
    default: []
  extra_known:
    description:
      - Variable names to accept although no role defines them (variables that only a playbook reads).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Check the settings before anything changes.
  istiolab.mesh.mesh_settings:
    roles: [preflight, minikube, istio, bookinfo]
    scenarios:
      canary: routing
    known_tags: [preflight, minikube, istio, bookinfo, canary]
"""

RETURN = r"""
problems:
  description: Each bad setting, naming the variable to change, what it takes and an example.
  returned: always
  type: list
  elements: str
  sample: ["routing_canary_weights sum to 110 (60 + 50): the weights must sum to 100"]
unknown_variables:
  description: The warnings about variables no role defines or documents.
  returned: always
  type: list
  elements: str
  sample: ["routing_canary_wieghts is not a setting of this collection, so it changes nothing; did you mean routing_canary_weights?"]
"""
