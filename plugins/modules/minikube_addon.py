#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: minikube_addon
short_description: Enable or disable minikube addons
version_added: 0.1.0
description:
  - Enables or disables minikube addons of one profile with C(minikube addons enable|disable).
  - Reads the addons' state first with C(minikube addons list -o json) and only changes the addons whose
    state differs, so a second run reports no change.
  - Fails, listing the addons this minikube knows, when a name is not one of them.
author:
  - istiolab.mesh contributors (@istiolab)
extends_documentation_fragment:
  - istiolab.mesh.cli
  - ansible.builtin.action_common_attributes
options:
  name:
    description: The addons, for example V(metrics-server) or V(ingress).
    type: list
    elements: str
    required: true
    aliases: [names]
  state:
    description: Whether the addons are enabled or disabled.
    type: str
    choices: [enabled, disabled]
    default: enabled
  profile:
    description: The minikube profile.
    type: str
    default: minikube
attributes:
  platform:
    platforms: posix
  check_mode:
    support: full
    details: No C(addons enable|disable) runs; RV(actions) lists what would run.
  diff_mode:
    support: full
    details: Before and after hold the state of each named addon.
requirements:
  - minikube on C(PATH) or at O(binary_path)
  - an existing profile; most addons need the cluster to run
seealso:
  - module: istiolab.mesh.minikube_cluster
  - name: minikube addons
    description: The minikube addons command.
    link: https://minikube.sigs.k8s.io/docs/commands/addons/
"""

EXAMPLES = r"""
- name: Enable the metrics server
  istiolab.mesh.minikube_addon:
    profile: mesh
    name: metrics-server

- name: Disable the default storage provisioner and the dashboard
  istiolab.mesh.minikube_addon:
    profile: mesh
    name: [dashboard, storage-provisioner]
    state: disabled
"""

RETURN = r"""
addons:
  description: The state of each named addon after the task (predicted in check mode).
  returned: success
  type: dict
  sample: {"metrics-server": "enabled"}
actions:
  description: The C(addons) sub-commands run, or that would run in check mode.
  returned: always
  type: list
  elements: str
  sample: ["enable metrics-server"]
minikube_version:
  description: The version of the minikube CLI.
  returned: success
  type: str
  sample: v1.37.0
commands:
  description: Every command the module ran.
  returned: always
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.istiolab.mesh.plugins.module_utils._cli import ModuleError, cli_argument_spec
from ansible_collections.istiolab.mesh.plugins.module_utils._minikube import DEFAULT_PROFILE, run_module


def run(module, client):
    params = module.params
    profile, enable = params["profile"], params["state"] == "enabled"
    wanted = "enabled" if enable else "disabled"
    version = client.version()
    known = client.addons(profile)
    if known is None:
        raise ModuleError(
            'minikube profile "%s" does not exist, so its addons cannot be changed. Create it first with '
            "istiolab.mesh.minikube_cluster." % profile
        )
    unknown = [name for name in params["name"] if name not in known]
    if unknown:
        raise ModuleError(
            "minikube %s has no addon named %s. Its addons are: %s."
            % (version, ", ".join(unknown), ", ".join(sorted(known)))
        )
    before = dict((name, known[name]) for name in params["name"])
    actions = []
    for name in params["name"]:
        if before[name] != wanted:
            client.addon(profile, name, enable)
            actions.append("%s %s" % ("enable" if enable else "disable", name))
    after = dict((name, wanted) for name in before)
    result = dict(changed=before != after, addons=after, actions=actions, minikube_version=version, commands=client.commands)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    return result


def argument_spec():
    return cli_argument_spec(
        name=dict(type="list", elements="str", required=True, aliases=["names"]),
        state=dict(type="str", default="enabled", choices=["enabled", "disabled"]),
        profile=dict(type="str", default=DEFAULT_PROFILE),
    )


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True), run, actions=[])


if __name__ == "__main__":
    main()
