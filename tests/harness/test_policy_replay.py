"""access_control with policy_verify false, played twice against the offline cluster: the first run applies it and
records it as applied, not measured; the second, with the same inputs, publishes that record and changes nothing."""

from __future__ import annotations

import json
import os
import subprocess

from tests.harness.apiserver import lifecycle
from tests.harness.fixtures import VENV_BIN
from tests.harness.test_exec import access_control_namespace

UNMEASURED_PLAY = """
- name: Play access_control with its verification off
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Play it.
      ansible.builtin.include_role:
        name: istiolab.mesh.policy
        tasks_from: access_control
      vars:
        policy_namespace: {namespace}
        policy_istio_namespace: {namespace}
        policy_settle_seconds: 0
        policy_replay_proven: false
        policy_verify: false
        routing_kube_context: ""
        routing_artifacts_dir: {artifacts}
    - name: Say what the summary reads.
      ansible.builtin.debug:
        msg: "{{{{ routing_scenario_results.access_control }}}}"
"""


APPLY_TASK = "istiolab.mesh.policy : Apply the allow and deny policies and the client inside the mesh."


def play(harness, path):
    """(changed count, routing_scenario_results.access_control, whether the apply task ran) of one run of ``path``,
    read from the json callback."""
    env = dict(harness.env, ANSIBLE_CONFIG=os.path.join(lifecycle.REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="json")
    result = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), str(path)], env=env, cwd=lifecycle.REPO,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    report = json.loads(result.stdout)
    (said,) = [t["hosts"]["localhost"]["msg"] for t in report["plays"][0]["tasks"] if t["task"]["name"] == "Say what the summary reads."]
    (applied,) = [t["hosts"]["localhost"] for t in report["plays"][0]["tasks"] if t["task"]["name"] == APPLY_TASK]
    return report["stats"]["localhost"]["changed"], said, not applied.get("skipped", False)


def test_access_control_unverified_is_recorded_and_a_rerun_changes_nothing(harness, tmp_path):
    namespace = access_control_namespace(harness, "acu-")
    path = tmp_path / "unmeasured.yml"
    path.write_text(UNMEASURED_PLAY.format(namespace=namespace, artifacts=tmp_path / "artifacts"))

    changed, first, applied = play(harness, path)
    assert applied
    assert changed > 0, "the first run applies the policies, the client and externalTrafficPolicy Local"
    assert first["measured"] is False and first["passed"] is False, first
    assert first["detail"] == "applied, not measured (policy_verify is false)", first
    assert first["verify_variable"] == "policy_verify", first
    records = harness.client.get(f"/api/v1/namespaces/{namespace}/configmaps/istiolab-mesh-scenarios")
    assert records and "access_control" in records.get("data", {}), f"no record of access_control kept in {namespace}: {records}"
    record = json.loads(records["data"]["access_control"])
    assert record["measured"] is False and len(record["digest"]) == 64, record
    assert not (tmp_path / "artifacts" / "scenarios" / "access_control.json").exists(), "nothing measured, no artifact"

    changed, again, applied = play(harness, path)
    assert changed == 0, again
    assert not applied, "the same inputs, already applied: nothing to apply again"
    assert again["recorded"] is True and again["measured"] is False, again
    assert again["detail"] == "applied, not measured (policy_verify is false)", again
    assert again["measured_at"] == record["measured_at"], again
