#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: minikube_cluster
short_description: Create, start, stop, pause and delete a minikube cluster
version_added: 0.1.0
description:
  - Manages one minikube profile (one cluster) with the C(minikube) CLI.
  - Reads the state first (C(minikube profile list -o json), C(minikube status -o json)) and acts only
    when it differs from the requested one; a running cluster is never started again.
  - minikube cannot change the driver, CPUs, memory, disk size, Kubernetes version, container runtime
    or node count of an existing cluster. When the existing cluster has other values than the ones
    requested, the module fails and names each difference, unless O(recreate=true).
  - Starts with C(minikube start --output=json) so that a failure carries minikube's reason ID
    (for example C(PROVIDER_DOCKER_NOT_RUNNING) or C(RSRC_INSUFFICIENT_SYS_MEMORY)); the error message
    gives minikube's own words and the next step.
author:
  - istiolab.mesh contributors (@istiolab)
extends_documentation_fragment:
  - istiolab.mesh.cli
  - ansible.builtin.action_common_attributes
options:
  profile:
    description: The minikube profile; it is also the name of the kubeconfig context minikube writes.
    type: str
    default: minikube
  state:
    description:
      - V(present) creates the cluster when missing, starts it when stopped and unpauses it when paused.
      - V(stopped) stops a cluster; it fails when the profile does not exist.
      - V(paused) pauses the Kubernetes containers, creating or starting the cluster first when needed.
      - V(absent) deletes the cluster and its profile.
    type: str
    choices: [present, stopped, paused, absent]
    default: present
  driver:
    description: The minikube driver (C(--driver)), for example V(docker).
    type: str
  cpus:
    description: CPUs given to each node (C(--cpus)).
    type: int
  memory:
    description:
      - Memory given to each node (C(--memory)), a number of MB or a number with a unit (V(8g), V(8192mb)).
      - V(max) and V(no-limit) are passed to minikube as they are and not compared.
    type: str
  disk_size:
    description: Disk size of each node (C(--disk-size)), a number of MB or a number with a unit (V(40g)).
    type: str
  kubernetes_version:
    description:
      - Kubernetes version (C(--kubernetes-version)), with or without the leading C(v).
      - V(stable) and V(latest) are passed to minikube as they are and not compared.
    type: str
  container_runtime:
    description: The container runtime inside the nodes (C(--container-runtime)).
    type: str
    choices: [docker, containerd, crio, cri-o]
  nodes:
    description: Number of nodes (C(--nodes)).
    type: int
  extra_config:
    description:
      - Component settings passed as one C(--extra-config=component.key=value) each; for example the key
        C(kubelet.max-pods) with the value C(150).
      - Applied when minikube starts the cluster; they are not compared with a running cluster.
    type: dict
  extra_args:
    description:
      - Further arguments appended to C(minikube start) as they are, for example C(--addons=ingress).
      - Applied when minikube starts the cluster; they are not compared with a running cluster.
    type: list
    elements: str
  wait_timeout:
    description: Seconds C(minikube start) waits for the cluster to become ready (C(--wait-timeout)).
    type: int
    default: 360
  recreate:
    description:
      - When the existing cluster's settings differ from the requested ones, delete it and start it again
        with the requested settings. Everything running in the cluster is lost.
      - Also deletes and recreates a profile minikube reports as invalid.
    type: bool
    default: false
attributes:
  platform:
    platforms: posix
  check_mode:
    support: full
    details: No mutating minikube command runs; RV(actions) lists the commands that would run.
  diff_mode:
    support: full
    details: Before and after hold the cluster state and its settings.
notes:
  - minikube writes the kubeconfig context RV(kube_context) into the file named by E(KUBECONFIG), or
    C(~/.kube/config).
  - Start and stop take minutes on a real machine; the task waits for minikube to finish.
requirements:
  - minikube on C(PATH) or at O(binary_path)
  - the driver's own requirements, for the V(docker) driver a running Docker
seealso:
  - module: istiolab.mesh.minikube_addon
  - module: istiolab.mesh.minikube_info
  - name: minikube start
    description: Every C(minikube start) flag.
    link: https://minikube.sigs.k8s.io/docs/commands/start/
  - name: minikube error codes
    description: The reason IDs and exit codes the error messages refer to.
    link: https://minikube.sigs.k8s.io/docs/reference/error_codes/
"""

EXAMPLES = r"""
- name: Start a cluster big enough for the Istio demo
  istiolab.mesh.minikube_cluster:
    profile: mesh
    driver: docker
    cpus: 4
    memory: 16g
    kubernetes_version: v1.34.0

- name: Recreate it when it was made with other settings
  istiolab.mesh.minikube_cluster:
    profile: mesh
    cpus: 6
    memory: 16g
    recreate: true

- name: Stop it, keeping its state
  istiolab.mesh.minikube_cluster:
    profile: mesh
    state: stopped

- name: Delete it
  istiolab.mesh.minikube_cluster:
    profile: mesh
    state: absent
"""

RETURN = r"""
state:
  description: The cluster's state after the task (predicted in check mode).
  returned: always
  type: str
  sample: running
actions:
  description: The minikube sub-commands run, or that would run in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: [start]
status:
  description: C(minikube status -o json) of the control-plane node after the task; null when absent or in check mode after a change.
  returned: always
  type: dict
  sample: {"Name": "mesh", "Host": "Running", "Kubelet": "Running", "APIServer": "Running", "Kubeconfig": "Configured", "Worker": false}
node_ip:
  description: C(minikube ip) of the control-plane node when it runs.
  returned: always
  type: str
  sample: 192.168.49.2
kube_context:
  description: The kubeconfig context minikube manages for this cluster (the profile name); null when absent.
  returned: always
  type: str
  sample: mesh
kubernetes_version:
  description: The cluster's Kubernetes version, from its profile.
  returned: always
  type: str
  sample: v1.34.0
settings:
  description: The cluster's driver, cpus, memory and disk size (MB), Kubernetes version, container runtime and node count.
  returned: always
  type: dict
  sample: {"driver": "docker", "cpus": 4, "memory": 16384, "disk_size": 20000, "kubernetes_version": "v1.34.0", "container_runtime": "docker", "nodes": 1}
minikube_version:
  description: The version of the minikube CLI.
  returned: always
  type: str
  sample: v1.37.0
commands:
  description: Every command the module ran.
  returned: always
  type: list
  elements: list
  sample: [["/usr/local/bin/minikube", "version", "--output=json"]]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.istiolab.mesh.plugins.module_utils._cli import ModuleError, cli_argument_spec
from ansible_collections.istiolab.mesh.plugins.module_utils._minikube import (
    DEFAULT_PROFILE,
    describe_cluster,
    requested_settings,
    run_module,
    settings_differences,
)

_TARGET = dict(present="running", paused="paused", stopped="stopped", absent="absent")


def _differences_message(profile, differences):
    parts = ["%s is %s, requested %s" % (name, current, wanted) for name, current, wanted in differences]
    return (
        'minikube profile "%s" exists with settings that differ from the request, and minikube cannot '
        "change them on an existing cluster: %s. Set recreate: true to delete the cluster and start it "
        "again with the requested settings (what runs in it is lost), or change the options to match."
        % (profile, "; ".join(parts))
    )


def plan(params, before, wanted):
    """The minikube sub-commands that take ``before`` to the requested state, in order."""
    state, profile, current = params["state"], params["profile"], before["state"]
    if state == "absent":
        return [] if current == "absent" else ["delete"]
    if state == "stopped":
        if current in ("absent", "invalid"):
            raise ModuleError(
                'minikube profile "%s" does not exist or is invalid, so there is nothing to stop. '
                "Create it with state: present first." % profile
            )
        return [] if current == "stopped" else ["stop"]
    if current == "invalid":
        if not params["recreate"]:
            raise ModuleError(
                'minikube reports profile "%s" as invalid (it cannot load its configuration). Set recreate: true '
                "to delete and create it again, or run `minikube delete -p %s`." % (profile, profile)
            )
        actions = ["delete", "start"]
    else:
        differences = settings_differences(before["settings"], wanted) if current != "absent" else []
        if differences and not params["recreate"]:
            raise ModuleError(_differences_message(profile, differences))
        if differences:
            actions = ["delete", "start"]
        elif current == "running":
            actions = ["update-context"] if (before["status"] or {}).get("Kubeconfig") == "Misconfigured" else []
        elif current == "paused":
            actions = [] if state == "paused" else ["unpause"]
        else:
            actions = ["start"]
    if state == "paused" and (actions or current != "paused"):
        actions.append("pause")
    return actions


def _predicted(before, state, wanted, actions):
    """What the cluster will look like after ``actions`` (check mode)."""
    after = dict(before)
    if not actions:
        return after
    after.update(status=None, node_ip=None, state=_TARGET[state])
    if state == "absent":
        after.update(exists=False, settings={}, kube_context=None, kubernetes_version=None)
        return after
    if "delete" in actions or not before["exists"]:
        settings = dict((k, v) for k, v in wanted.items() if v is not None)
    else:
        settings = before["settings"]
    after.update(exists=True, settings=settings, kube_context=before["profile"], kubernetes_version=settings.get("kubernetes_version"))
    return after


def _snapshot(info):
    kubeconfig = (info.get("status") or {}).get("Kubeconfig")
    return dict(state=info["state"], kubeconfig=kubeconfig, settings=dict((k, v) for k, v in (info["settings"] or {}).items() if v is not None))


def run(module, client):
    params = module.params
    profile = params["profile"]
    try:
        wanted = requested_settings(params)
    except ValueError as exc:
        module.fail_json(msg="Invalid size: %s." % exc)
    version = client.version()
    before = describe_cluster(client, profile)
    actions = plan(params, before, wanted)

    for action in actions:
        if action == "start":
            client.start(profile, params)
        else:
            client.simple(action, profile)

    if actions and not module.check_mode:
        after = describe_cluster(client, profile)
        expected = _TARGET[params["state"]]
        if after["state"] != expected:
            module.fail_json(
                msg='minikube %s finished without error, but profile "%s" is %s instead of %s. '
                "Run `minikube status -p %s` and `minikube logs -p %s` to see why."
                % (" and ".join(actions), profile, after["state"], expected, profile, profile),
                status=after["status"], commands=client.commands,
            )
    else:
        after = _predicted(before, params["state"], wanted, actions)

    result = dict(
        changed=_snapshot(before) != _snapshot(after),
        actions=actions,
        state=after["state"],
        status=after["status"],
        node_ip=after["node_ip"],
        kube_context=after["kube_context"],
        kubernetes_version=after["kubernetes_version"],
        settings=after["settings"],
        minikube_version=version,
        commands=client.commands,
    )
    if module._diff:
        result["diff"] = dict(before=_snapshot(before), after=_snapshot(after))
    return result


def argument_spec():
    return cli_argument_spec(
        profile=dict(type="str", default=DEFAULT_PROFILE),
        state=dict(type="str", default="present", choices=["present", "stopped", "paused", "absent"]),
        driver=dict(type="str"),
        cpus=dict(type="int"),
        memory=dict(type="str"),
        disk_size=dict(type="str"),
        kubernetes_version=dict(type="str"),
        container_runtime=dict(type="str", choices=["docker", "containerd", "crio", "cri-o"]),
        nodes=dict(type="int"),
        extra_config=dict(type="dict"),
        extra_args=dict(type="list", elements="str"),
        wait_timeout=dict(type="int", default=360),
        recreate=dict(type="bool", default=False),
    )


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True), run)


if __name__ == "__main__":
    main()
