#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: minikube_info
short_description: Read minikube profiles, cluster status, node IP, versions and service URLs
version_added: 0.1.0
description:
  - Lists every minikube profile with its settings, and describes one profile in detail; changes nothing.
  - Returns the URLs of named Kubernetes services as C(minikube service NAME -n NAMESPACE --url) prints them.
author:
  - istiolab.mesh contributors (@istiolab)
extends_documentation_fragment:
  - istiolab.mesh.cli
  - ansible.builtin.action_common_attributes
options:
  profile:
    description: The profile to describe in RV(cluster) and to ask for service URLs.
    type: str
    default: minikube
  services:
    description:
      - Services whose URLs to return in RV(service_urls). Asked only when the cluster runs.
      - Where minikube cannot reach the node IP from the host (the docker driver on macOS, Windows and WSL, Docker
        Desktop for Linux, rootless Docker), C(minikube service --url) opens a tunnel, prints a C(127.0.0.1) URL
        and does not return until it is interrupted; the URL dies with it. The module stops the command after
        O(service_timeout) seconds and fails saying so. There, reach the service through a C(127.0.0.1)
        port-forward (the C(istiolab.mesh.bookinfo) role's C(bookinfo_gateway_mode=port-forward)) or
        C(minikube tunnel) instead.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The Service name.
        type: str
        required: true
      namespace:
        description: The Service namespace.
        type: str
        default: default
  service_timeout:
    description:
      - Seconds each C(minikube service --url) may run before it is stopped (with every process it started) and
        the module fails with the reason. Where minikube prints its URLs and returns, it takes a second or two.
    type: int
    default: 10
attributes:
  platform:
    platforms: posix
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
requirements:
  - minikube on C(PATH) or at O(binary_path)
seealso:
  - module: istiolab.mesh.minikube_cluster
  - name: minikube service
    description: How minikube builds service URLs, and the tunnel it needs on the docker driver on macOS.
    link: https://minikube.sigs.k8s.io/docs/handbook/accessing/
"""

EXAMPLES = r"""
- name: Read the cluster and the Bookinfo gateway URL
  istiolab.mesh.minikube_info:
    profile: mesh
    services:
      - name: istio-ingressgateway
        namespace: istio-system
  register: mesh_minikube

- name: Show the gateway URL
  ansible.builtin.debug:
    msg: "{{ mesh_minikube.service_urls['istio-system/istio-ingressgateway'] | first }}"
"""

RETURN = r"""
minikube_version:
  description: The version of the minikube CLI.
  returned: success
  type: str
  sample: v1.37.0
profiles:
  description: Every profile minikube knows.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The profile name.
      type: str
    valid:
      description: False when minikube cannot load the profile's configuration.
      type: bool
    status:
      description: The status C(minikube profile list) reports, for example C(OK), C(Running), C(Stopped) or C(Paused).
      type: str
    settings:
      description: Driver, cpus, memory, disk size, Kubernetes version, container runtime and node count.
      type: dict
  sample: [{"name": "mesh", "valid": true, "status": "OK", "settings": {"driver": "docker", "cpus": 4, "memory": 16384}}]
cluster:
  description: The profile named by O(profile).
  returned: success
  type: dict
  contains:
    exists:
      description: Whether the profile exists.
      type: bool
    state:
      description: One of C(running), C(paused), C(stopped), C(degraded) (host up, Kubernetes not), C(invalid) or C(absent).
      type: str
    status:
      description: C(minikube status -o json) of the control-plane node.
      type: dict
    node_ip:
      description: C(minikube ip) when the host runs.
      type: str
    kube_context:
      description: The kubeconfig context of the cluster (the profile name).
      type: str
    kubernetes_version:
      description: The cluster's Kubernetes version.
      type: str
  sample: {"exists": true, "state": "running", "node_ip": "192.168.49.2", "kube_context": "mesh", "kubernetes_version": "v1.34.0"}
service_urls:
  description: URLs of each service of O(services), keyed C(namespace/name), one per service port.
  returned: success
  type: dict
  sample: {"istio-system/istio-ingressgateway": ["http://192.168.49.2:31380", "http://192.168.49.2:31390"]}
commands:
  description: Every command the module ran.
  returned: always
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.istiolab.mesh.plugins.module_utils._cli import cli_argument_spec
from ansible_collections.istiolab.mesh.plugins.module_utils._minikube import (
    DEFAULT_PROFILE,
    SERVICE_URL_TIMEOUT,
    current_settings,
    describe_cluster,
    run_module,
)


def run(module, client):
    params = module.params
    profile = params["profile"]
    if params["service_timeout"] < 1:
        module.fail_json(msg="service_timeout is %s; give the seconds minikube service --url may run, 1 or more." % params["service_timeout"])
    version = client.version()
    profiles = client.profiles()
    cluster = describe_cluster(client, profile, profiles)
    urls = {}
    if cluster["state"] in ("running", "degraded"):
        for service in params["services"]:
            urls["%s/%s" % (service["namespace"], service["name"])] = client.service_urls(
                profile, service["name"], service["namespace"], timeout=params["service_timeout"])
    return dict(
        changed=False,
        minikube_version=version,
        profiles=[
            dict(name=name, valid=entry["valid"], status=entry["status"], settings=current_settings(entry["config"]))
            for name, entry in sorted(profiles.items())
        ],
        cluster=cluster,
        service_urls=urls,
        commands=client.commands,
    )


def argument_spec():
    return cli_argument_spec(
        profile=dict(type="str", default=DEFAULT_PROFILE),
        services=dict(
            type="list", elements="dict", default=[],
            options=dict(name=dict(type="str", required=True), namespace=dict(type="str", default="default")),
        ),
        service_timeout=dict(type="int", default=SERVICE_URL_TIMEOUT),
    )


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True), run)


if __name__ == "__main__":
    main()
