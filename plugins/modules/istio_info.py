#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: istio_info
short_description: Report Istio versions, proxy sync status, analysis findings and precheck results
version_added: 0.1.0
description:
  - Runs read-only istioctl commands and returns their JSON output parsed, only those O(gather) asks for.
  - The client, control-plane and data-plane versions (C(istioctl version -o json)), the proxies' xDS sync status
    (C(istioctl proxy-status -o json)), the configuration analysis (C(istioctl analyze -o json)) with a count per
    severity, and the install/upgrade precheck (C(istioctl x precheck -o json)).
author:
  - istiolab.mesh contributors (@istiolab)
requirements:
  - istioctl 1.31 (the M(istiolab.mesh.release_artifact) module or the C(istiolab.mesh.istio) role install it).
options:
  gather:
    description:
      - What to report.
      - V(proxy_status) needs to know whether a control plane runs, so it also runs C(istioctl version) and
        reports the versions; it is skipped, with a warning, when no control plane runs.
      - Leave V(versions) out when they are known already, for example from M(istiolab.mesh.istio_install) in the
        same play, to save one call to the cluster.
    type: list
    elements: str
    choices: [versions, proxy_status, analyze, precheck]
    default: [versions, proxy_status, analyze]
  revision:
    description:
      - The control plane revision to report on (C(--revision)); the default revision when not set.
    type: str
  namespace:
    description:
      - The namespace C(istioctl analyze) looks at; all namespaces when not set.
    type: str
  fail_on:
    description:
      - Fail when C(analyze) or C(precheck) reports a finding of this severity or worse
        (V(Error) > V(Warning) > V(Info)). The result still holds everything gathered.
      - When not set, findings are reported and the module does not fail on them.
    type: str
    choices: [Error, Warning, Info]
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - istiolab.mesh.cli
  - istiolab.mesh.cli.kube
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same commands in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
seealso:
  - module: istiolab.mesh.istio_install
  - name: Configuration analysis messages
    description: What each IST code means and how to fix it.
    link: https://istio.io/latest/docs/reference/config/analysis/
"""

EXAMPLES = r"""
- name: Check the mesh, failing on any analysis Error
  istiolab.mesh.istio_info:
    fail_on: Error
  register: mesh

- name: Show the proxies that are not in sync
  ansible.builtin.debug:
    msg: "{{ mesh.proxies | rejectattr('synced') | map(attribute='name') | list }}"

- name: Check that the cluster is ready for an install or upgrade
  istiolab.mesh.istio_info:
    gather: [precheck]
    context: minikube

- name: Analyze the configuration only, the versions being known from the install
  istiolab.mesh.istio_info:
    gather: [analyze]
"""

RETURN = r"""
client_version:
  description: The istioctl client version.
  returned: when versions or proxy_status is gathered
  type: str
  sample: 1.31.1
control_plane_version:
  description: The control-plane version of the revision (the oldest component's during a rollout); null when absent.
  returned: when versions or proxy_status is gathered
  type: str
  sample: 1.31.1
control_plane_components:
  description: Each control-plane component with C(component), C(revision) and C(version).
  returned: when versions or proxy_status is gathered
  type: list
  elements: dict
  sample: [{"component": "istiod", "revision": "default", "version": "1.31.1"}]
data_plane_versions:
  description: Each proxy with C(id), C(version) and C(type).
  returned: when versions or proxy_status is gathered
  type: list
  elements: dict
proxies:
  description:
    - Each proxy's sync status, from every istiod that answered (C(proxy-status -o json) prints one document per
      istiod), with C(name), C(cluster), C(version), C(istiod), C(status) (xDS type to
      C(SYNCED)/C(NOT_SENT)/C(STALE)/...) and C(synced) (no type stale or in error).
  returned: when proxy_status is gathered
  type: list
  elements: dict
  sample: [{"name": "productpage-v1-6b7f6.bookinfo", "cluster": "Kubernetes", "version": "1.31.1", "istiod": "istiod-5d8f9-abcde",
            "status": {"CDS": "SYNCED", "LDS": "SYNCED", "EDS": "SYNCED", "RDS": "SYNCED"}, "synced": true}]
analysis:
  description: C(messages) (each with C(code), C(level), C(origin), C(reference), C(message), C(documentation_url)) and C(counts) per level.
  returned: when analyze is gathered
  type: dict
  sample: {"messages": [], "counts": {"Error": 0, "Warning": 0, "Info": 0}}
precheck:
  description: C(passed), C(messages) and C(counts), as for C(analysis).
  returned: when precheck is gathered
  type: dict
  sample: {"passed": true, "messages": [], "counts": {"Error": 0, "Warning": 0, "Info": 0}}
commands:
  description: The istioctl commands the module ran.
  returned: always
  type: list
  elements: list
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.istiolab.mesh.plugins.module_utils._cli import CliError, cli_argument_spec
from ansible_collections.istiolab.mesh.plugins.module_utils._istioctl import (
    KUBE,
    SEVERITIES,
    all_json,
    at_least,
    first_json,
    output_json,
    parse_messages,
    parse_proxy_status,
    parse_versions,
    run_module,
)


def argument_spec():
    return cli_argument_spec(
        kube=True,
        gather=dict(
            type="list", elements="str", choices=["versions", "proxy_status", "analyze", "precheck"], default=["versions", "proxy_status", "analyze"]
        ),
        revision=dict(type="str"),
        namespace=dict(type="str"),
        fail_on=dict(type="str", choices=list(SEVERITIES)),
    )


def gather(module, runner):
    """Read what ``gather`` asks for; the module changes nothing."""
    params = module.params
    revision = params["revision"]
    wanted = params["gather"]
    result = dict(changed=False)

    if "versions" in wanted or "proxy_status" in wanted:
        versions = parse_versions(output_json(runner.run(["version", "json"] + KUBE)), revision)
        result.update(
            client_version=versions["client"],
            control_plane_version=versions["control_plane"],
            control_plane_components=versions["control_plane_components"],
            data_plane_versions=versions["data_plane"],
        )

    if "proxy_status" in wanted:
        if versions["control_plane"] is None:
            module.warn("No Istio control plane (revision %s) runs, so there is no proxy status to read." % (revision or "default"))
            result["proxies"] = []
        else:
            out = runner.run(["proxy_status", "json", "revision"] + KUBE)
            result["proxies"] = parse_proxy_status(output_json(out, all_json))

    if "analyze" in wanted:
        out = runner.run(["analyze", "json", "namespace", "all_namespaces", "revision"] + KUBE, all_namespaces=not params["namespace"])
        messages, counts = parse_messages(output_json(out))
        result["analysis"] = dict(messages=messages, counts=counts)

    if "precheck" in wanted:
        # precheck exits 1 when it has findings and prints them as JSON; other failures print no JSON.
        out = runner.run(["precheck", "json", "revision"] + KUBE, check=False)
        data = None
        if out.stdout.strip():
            try:
                data = first_json(out.stdout)
            except ValueError:
                data = None
        if out.rc != 0 and not isinstance(data, list):
            raise CliError("`istioctl x precheck` failed (exit code %s): %s" % (out.rc, (out.stderr or out.stdout).strip()[-800:]), result=out)
        messages, counts = parse_messages(data)
        result["precheck"] = dict(passed=out.rc == 0 and not messages, messages=messages, counts=counts)
    return result


def run(module, runner):
    result = gather(module, runner)
    threshold = module.params["fail_on"]
    found = findings_at_or_above(result, threshold) if threshold else []
    if found:
        result["failed"] = True
        result["msg"] = "%d finding(s) at %s or worse: %s. Each finding's documentation_url says how to fix it." % (
            len(found),
            threshold,
            "; ".join(found),
        )
    return result


def findings_at_or_above(result, threshold):
    found = []
    for source in ("analysis", "precheck"):
        for message in (result.get(source) or {}).get("messages", []):
            if at_least(message["level"], threshold):
                found.append("%s %s %s (%s): %s" % (source, message["level"], message["code"], message["origin"], message["message"]))
    return found


def main():
    run_module(AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True), run)


if __name__ == "__main__":
    main()
