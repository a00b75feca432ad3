#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: istio_install
short_description: Install, upgrade, reconfigure or purge the Istio control plane with istioctl
version_added: 0.1.0
description:
  - Installs the Istio control plane with C(istioctl install) when it is absent, upgrades it when the istioctl
    client is newer than the control plane, reinstalls it when the requested configuration changed, and does
    nothing when version and configuration already match.
  - With O(state=absent), removes Istio with C(istioctl uninstall --purge) (or only O(revision) when set).
  - With O(state=rendered), only renders the requested configuration with C(istioctl manifest generate) (offline,
    no cluster needed) and returns the manifest in RV(manifest); nothing is installed or read from a cluster.
author:
  - istiolab.mesh contributors (@istiolab)
requirements:
  - istioctl 1.31 (the M(istiolab.mesh.release_artifact) module or the C(istiolab.mesh.istio) role install it).
  - The C(kubernetes) Python client, to read and write the install record and to list the istiod pods.
options:
  state:
    description:
      - V(present) installs, upgrades or reconfigures Istio; V(absent) removes it; V(rendered) returns the
        manifest C(istioctl manifest generate) renders for the same options (RV(manifest)), changing nothing.
    type: str
    choices: [present, absent, rendered]
    default: present
  namespace:
    description:
      - The namespace of the control plane. The module looks for istiod there (C(--istioNamespace) on the
        commands that ask the cluster), keeps its install record there and analyzes it after an install.
      - When not V(istio-system), the install also gets C(--set values.global.istioNamespace=<namespace>)
        (unless O(set) gives that key, which must then name the same namespace), as the role's overlay does.
    type: str
    default: istio-system
  profile:
    description:
      - The Istio configuration profile, passed as C(--set profile=<profile>).
    type: str
    default: demo
  revision:
    description:
      - The control plane revision (C(--revision)). When not set, the default revision is managed.
    type: str
  set:
    description:
      - IstioOperator values, each passed as C(--set <key>=<value>) in key order, for example
        C(meshConfig.accessLogFile=/dev/stdout).
      - Values must be scalars; use O(overlay) for lists and nested objects.
      - The C(profile) key is not allowed here; use O(profile).
    type: dict
    default: {}
  overlay:
    description:
      - An IstioOperator passed with C(-f). Either a path to a YAML file, or the object itself as a dictionary,
        which the module writes to a temporary file.
      - A dictionary without C(kind) is taken as the IstioOperator C(spec).
    type: raw
  verify:
    description:
      - After an install or upgrade, check that every control-plane component of the revision reports the
        istioctl client's version and that C(istioctl analyze) finds no Error in O(namespace).
      - C(istioctl verify-install) was removed in Istio 1.24 (istio/istio#52090); this is what replaces it.
        C(istioctl install) itself already waits until the components are ready.
      - The install is recorded only when verification passes, so a failed verification is retried on the next run.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - istiolab.mesh.cli
  - istiolab.mesh.cli.kube
attributes:
  check_mode:
    support: full
    details: Reads versions and renders the manifest (both read-only), reports what would change, installs nothing.
  diff_mode:
    support: full
    details: Before and after of the control-plane version, manifest digest, profile and revision.
  platform:
    support: full
    platforms: posix
notes:
  - >-
    How "already matches" is decided. The module renders the requested configuration with
    C(istioctl manifest generate) (same profile, O(set), O(overlay) and O(revision); an offline, read-only
    call) and takes the SHA-256 digest of its output. After each successful install it records that digest,
    the istioctl client version, the profile and the revision in the ConfigMap
    C(<namespace>/istiolab-mesh-install-state) (suffixed with C(-<revision>) for a revision), written with the
    Kubernetes API, not kubectl. On the next run it compares.
  - >-
    Nothing changes when a control plane runs at the client's version and the record holds the same digest
    and version. It upgrades (runs C(istioctl install)) when the control plane (C(istioctl version -o json))
    is older than the client. It reinstalls when the digest differs (a changed value, overlay or profile, or a
    new istioctl that renders differently) and when a control plane runs without a record (installed by
    something else: its configuration is unknown, so one install makes it known). It fails, changing
    nothing, when the control plane is newer than the client (a downgrade needs the matching istioctl).
  - >-
    What it cannot see: changes made to the installed objects by hand after the install (the record
    describes what was applied, not what is there now). Run with a changed value, or delete the record
    ConfigMap, to force a reinstall.
  - Each request for the install record gives up after 10 seconds without a connection or 30 seconds without an
    answer (an idempotent one is retried up to 3 times), so an API that stops answering fails the task instead of
    holding it.
  - Since Istio 1.21 istioctl no longer writes the C(installed-state) IstioOperator (istio/istio#47860), so
    there is no record of Istio's own to compare with.
seealso:
  - module: istiolab.mesh.istio_info
  - name: istioctl install reference
    description: Flags of C(istioctl install).
    link: https://istio.io/latest/docs/reference/commands/istioctl/#istioctl-install
"""

EXAMPLES = r"""
- name: Install the demo profile, ready for tracing and access logs
  istiolab.mesh.istio_install:
    profile: demo
    set:
      meshConfig.accessLogFile: /dev/stdout
      meshConfig.enableTracing: true
    overlay:
      meshConfig:
        defaultConfig:
          tracing:
            sampling: 100.0

- name: Install with an IstioOperator file and a pinned istioctl
  istiolab.mesh.istio_install:
    binary_path: "{{ istio_release.path }}/bin/istioctl"
    overlay: files/istio-operator.yaml
    context: minikube

- name: Render the control plane without a cluster
  istiolab.mesh.istio_install:
    state: rendered
    profile: demo
  register: istio_manifest

- name: Remove Istio from the cluster
  istiolab.mesh.istio_install:
    state: absent
"""

RETURN = r"""
action:
  description: What the module did or, in check mode, would do.
  returned: always
  type: str
  sample: install
  choices: [none, install, upgrade, reconfigure, uninstall, render]
msg:
  description: Why, in a sentence.
  returned: always
  type: str
  sample: Istio (revision default) is not installed.
client_version:
  description: The istioctl client version.
  returned: when state is present or absent
  type: str
  sample: 1.31.1
control_plane_version:
  description:
    - The control-plane (istiod) version after the run, or before it in check mode; null when absent.
    - Judged from the istiod pods of the revision that serve (Ready, not being deleted), by their
      C(app.kubernetes.io/version) label, so an old istiod that drains after an in-place upgrade does not count;
      C(istioctl version) alone when no such pod has the label.
  returned: when state is present or absent
  type: str
  sample: 1.31.1
control_plane_pods:
  description: The serving istiod pods of the revision the version was judged from, each with C(pod) and C(version).
  returned: when state is present or absent
  type: list
  elements: dict
  sample: [{"pod": "istiod-7f9d8c6b5-k2x4q", "version": "1.31.1"}]
data_plane_versions:
  description: The proxies istioctl reports, each with C(id), C(version) and C(type).
  returned: when state is present or absent
  type: list
  elements: dict
  sample: [{"id": "istio-ingressgateway-7d9c8b-x2x1.istio-system", "version": "1.31.1", "type": "gateway"}]
digest:
  description: SHA-256 of the rendered manifest.
  returned: when state is present or rendered
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
manifest:
  description: The objects C(istioctl manifest generate) renders for the options, as it printed them (YAML).
  returned: when state is rendered
  type: str
record:
  description: The install record found on the cluster before the run, or null.
  returned: when state is present or absent
  type: dict
  sample: {"version": "1.31.1", "digest": "9f86...", "profile": "demo", "revision": "default"}
commands:
  description: The istioctl commands the module ran (mutating ones are not run in check mode).
  returned: always
  type: list
  elements: list
  sample: [["/usr/local/bin/istioctl", "version", "-o", "json"]]
findings:
  description: The Error findings of C(istioctl analyze) when verification failed on them.
  returned: on verification failure
  type: list
  elements: dict
"""

import hashlib
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.istiolab.mesh.plugins.module_utils._cli import CliError, cli_argument_spec, ModuleError
from ansible_collections.istiolab.mesh.plugins.module_utils._istioctl import (
    ISTIO_NAMESPACE,
    KUBE,
    ControlPlanePods,
    InstallRecord,
    judge_control_plane,
    output_json,
    parse_messages,
    parse_versions,
    run_module,
    version_tuple,
)


def argument_spec():
    return cli_argument_spec(
        kube=True,
        state=dict(type="str", choices=["present", "absent", "rendered"], default="present"),
        namespace=dict(type="str", default=ISTIO_NAMESPACE),
        profile=dict(type="str", default="demo"),
        revision=dict(type="str"),
        set=dict(type="dict", default={}),
        overlay=dict(type="raw"),
        verify=dict(type="bool", default=True),
    )


class IstioInstall:
    """One run of the module: read the state (versions, rendered digest, record), compare, act."""

    def __init__(self, module, runner):
        self.module = module
        self.params = module.params
        self.runner = runner
        self.namespace = self.params["namespace"]
        # istioctl looks for the control plane in istio-system unless told (--istioNamespace); the default is not spelled out.
        self.istio_namespace = None if self.namespace == ISTIO_NAMESPACE else self.namespace
        self.record_store = InstallRecord(module, self.params["revision"], namespace=self.namespace)
        self.pods = ControlPlanePods(module, namespace=self.namespace)

    def run(self):
        return dict(present=self.present, absent=self.absent, rendered=self.rendered)[self.params["state"]]()

    def versions(self):
        result = self.runner.run(["version", "json", "istio_namespace"] + KUBE, istio_namespace=self.istio_namespace)
        versions = parse_versions(output_json(result), self.params["revision"])
        if not versions["client"]:
            raise CliError("`istioctl version -o json` reported no client version.", result=result)
        if versions["control_plane"] is None:
            return dict(versions, control_plane_pods=[])
        # istioctl also asks an old istiod that drains after an in-place upgrade: judge from the pods that serve.
        return judge_control_plane(versions, self.pods.list(self.params["revision"]), self.params["revision"])

    def set_values(self):
        values = dict(self.params["set"])
        if "profile" in values:
            raise ModuleError("Set the profile with the profile option, not set.profile.")
        for key, value in values.items():
            if isinstance(value, (dict, list)):
                raise ModuleError("set.%s is a %s; --set takes scalars, put it in overlay instead." % (key, type(value).__name__))
        if self.istio_namespace:
            key = "values.global.istioNamespace"
            if values.setdefault(key, self.namespace) != self.namespace:
                raise ModuleError("set.%s is %s but namespace is %s; give the control plane's namespace once, in namespace."
                                  % (key, values[key], self.namespace))
        values["profile"] = self.params["profile"]
        return values

    def overlay_file(self):
        overlay = self.params["overlay"]
        if overlay is None:
            return None
        if isinstance(overlay, dict):
            if "kind" not in overlay:
                overlay = {"apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator", "spec": overlay}
            path = os.path.join(self.module.tmpdir, "istio-overlay.json")
            with open(path, "w") as handle:
                json.dump(overlay, handle, sort_keys=True, indent=2)
            return path
        if isinstance(overlay, str):
            if not os.path.isfile(overlay):
                raise ModuleError("overlay %s is not a file; give a path to an IstioOperator YAML file or the object itself." % overlay)
            return overlay
        raise ModuleError("overlay must be a path or a dictionary, not %s." % type(overlay).__name__)

    def render(self, values, overlay):
        """The manifest ``istioctl manifest generate`` prints for the options (offline, read-only)."""
        result = self.runner.run(
            ["manifest_generate", "set", "filename", "revision"],
            hint="Check the set and overlay values against the IstioOperator API (istioctl's words above name the field).",
            set=values,
            filename=overlay,
        )
        return result.stdout

    @staticmethod
    def digest(manifest):
        return hashlib.sha256(manifest.encode("utf-8")).hexdigest()

    def decide(self, versions, record, desired):
        client, current = versions["client"], versions["control_plane"]
        revision = desired["revision"]
        if current is None:
            return "install", "Istio (revision %s) is not installed." % revision
        client_v, current_v = version_tuple(client), version_tuple(current)
        if client_v and current_v and current_v > client_v:
            raise ModuleError(
                "The control plane (revision %s) runs Istio %s, newer than istioctl %s; this module does not downgrade." % (revision, current, client),
                hint="Use the istioctl %s binary (binary_path), or remove Istio first with state=absent." % current,
            )
        if (client_v and current_v and current_v < client_v) or (not (client_v and current_v) and current != client):
            return "upgrade", "The control plane runs %s and istioctl is %s." % (current, client)
        if record is None:
            return "reconfigure", (
                "Istio %s runs without an install record from this module, so its configuration is unknown; " "installing records it." % current
            )
        if record.get("digest") != desired["digest"]:
            return "reconfigure", "The rendered manifest differs from the one installed (profile %s -> %s)." % (
                record.get("profile"),
                desired["profile"],
            )
        if record.get("version") != desired["version"]:
            return "reconfigure", "The install was recorded with istioctl %s; istioctl is %s." % (record.get("version"), client)
        return "none", "Istio %s is installed with the requested configuration." % current

    def verify(self, after, client):
        if after["control_plane"] != client:
            raise ModuleError(
                "After the install the control plane (revision %s) reports version %s, not %s (serving istiod pods: %s)."
                % (self.params["revision"] or "default", after["control_plane"], client,
                   ", ".join("%s %s" % (p["pod"], p["version"]) for p in after.get("control_plane_pods") or []) or "none with a version label"),
                hint="Look at the istiod pods in %s (kubectl -n %s get pods) and run the module again." % (self.namespace, self.namespace),
            )
        result = self.runner.run(["analyze", "json", "namespace", "revision", "istio_namespace"] + KUBE, istio_namespace=self.istio_namespace)
        messages, _counts = parse_messages(result.json())
        errors = [m for m in messages if m["level"] == "Error"]
        if errors:
            raise ModuleError(
                "istioctl analyze found %d Error(s) in %s after the install: %s"
                % (len(errors), self.namespace, "; ".join("%s %s: %s" % (m["code"], m["origin"], m["message"]) for m in errors)),
                hint="See each finding's documentation_url for the fix.",
                findings=errors,
            )

    def present(self):
        values = self.set_values()
        overlay = self.overlay_file()
        versions = self.versions()
        digest = self.digest(self.render(values, overlay))
        record = self.record_store.read()
        desired = dict(version=versions["client"], digest=digest, profile=self.params["profile"], revision=self.params["revision"] or "default")
        action, reason = self.decide(versions, record, desired)
        result = dict(action=action, msg=reason, digest=digest, record=record, changed=action != "none")
        after = versions
        if action != "none" and not self.module.check_mode:
            self.runner.run(["install", "yes", "set", "filename", "revision"] + KUBE, mutating=True, yes=True, set=values, filename=overlay)
            after = self.versions()
            if self.params["verify"]:
                self.verify(after, versions["client"])
            self.record_store.write(desired)
        if self.module._diff:
            before = record or {}
            result["diff"] = dict(
                before=dict(version=versions["control_plane"], digest=before.get("digest"), profile=before.get("profile"), revision=before.get("revision")),
                after=dict(version=desired["version"], digest=digest, profile=desired["profile"], revision=desired["revision"]),
            )
        result.update(self.version_result(after))
        return result

    def absent(self):
        versions = self.versions()
        record = self.record_store.read()
        present = versions["control_plane"] is not None or record is not None
        revision = self.params["revision"]
        result = dict(
            action="uninstall" if present else "none",
            msg=("Istio (revision %s) is installed; it is removed." % (revision or "default")) if present else "Istio is not installed.",
            record=record,
            changed=present,
        )
        after = versions
        if present and not self.module.check_mode:
            self.runner.run(
                ["uninstall", "revision", "purge", "yes", "istio_namespace"] + KUBE, mutating=True, yes=True, purge=not revision,
                istio_namespace=self.istio_namespace
            )
            self.record_store.delete()
            after = self.versions()
        if self.module._diff:
            before = record or {}
            before = dict(version=versions["control_plane"], digest=before.get("digest"), profile=before.get("profile"), revision=before.get("revision"))
            result["diff"] = dict(before=before, after=dict((key, None) for key in before) if present else before)
        result.update(self.version_result(after))
        return result

    def rendered(self):
        manifest = self.render(self.set_values(), self.overlay_file())
        return dict(
            changed=False,
            action="render",
            msg="Rendered the control plane (profile %s, revision %s) with istioctl manifest generate."
                % (self.params["profile"], self.params["revision"] or "default"),
            digest=self.digest(manifest),
            manifest=manifest,
        )

    @staticmethod
    def version_result(versions):
        return dict(
            client_version=versions["client"],
            control_plane_version=versions["control_plane"],
            control_plane_pods=versions.get("control_plane_pods") or [],
            data_plane_versions=versions["data_plane"],
        )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module, lambda module, runner: IstioInstall(module, runner).run())


if __name__ == "__main__":
    main()
