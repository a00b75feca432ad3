# -*- coding: utf-8 -*-
"""The istio role's IstioOperator overlay, rendered with the role's defaults, against Istio's own demo profile.

Istio merges an overlay's maps into the profile but replaces its lists, so the overlay's
meshConfig.extensionProviders must carry the profile's providers as well as the collection's.
The profile is read from the Istio 1.31 sources next to the checkout, never copied here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEMO_PROFILE = REPO.parent / "shared" / "istio-1.31" / "manifests" / "helm-profiles" / "demo.yaml"

PLAY = """\
- name: Render the istio role's overlay with its defaults.
  hosts: localhost
  gather_facts: false
  vars_files: ["{defaults}"]
  tasks:
    - name: Write the overlay.
      ansible.builtin.copy:
        content: "{{{{ lookup('ansible.builtin.template', '{template}') }}}}"
        dest: "{dest}"
        mode: "0600"
"""


def render_overlay(tmp: Path, extra: dict | None = None) -> dict:
    playbook = tmp / "overlay.yml"
    dest = tmp / "rendered-overlay.yml"
    playbook.write_text(PLAY.format(defaults=REPO / "roles" / "istio" / "defaults" / "main.yml",
                                    template=REPO / "roles" / "istio" / "templates" / "istio-operator.yml.j2", dest=dest))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"))
    run = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), str(playbook), "-e", json.dumps(extra or {})],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return yaml.safe_load(dest.read_text())


@pytest.fixture(scope="module")
def demo_providers() -> list[dict]:
    if not DEMO_PROFILE.is_file():
        pytest.fail(f"Istio's demo profile is not at {DEMO_PROFILE}: the test compares the overlay with it")
    return yaml.safe_load(DEMO_PROFILE.read_text())["meshConfig"]["extensionProviders"]


def by_name(providers: list[dict]) -> dict[str, dict]:
    names = [provider["name"] for provider in providers]
    assert len(names) == len(set(names)), f"provider names repeat: {names}"
    return {provider["name"]: provider for provider in providers}


def test_overlay_keeps_every_provider_of_the_demo_profile_and_adds_ours(tmp_path, demo_providers):
    overlay = by_name(render_overlay(tmp_path)["spec"]["meshConfig"]["extensionProviders"])
    profile = by_name(demo_providers)
    assert {"otel", "skywalking", "otel-tracing"} <= set(profile), "the demo profile no longer has the providers this test knows"
    missing = sorted(set(profile) - set(overlay))
    assert not missing, f"the overlay would drop the demo profile's providers {missing}"
    # Ours: the tracing provider the telemetry role selects and the JSON access log the elk role reads.
    assert {"jaeger", "json-access-log"} <= set(overlay)
    # A profile provider the collection does not redefine is kept exactly as the profile has it.
    ours = {"jaeger", "json-access-log"}
    for name in sorted(set(profile) - ours):
        assert overlay[name] == profile[name], name


def test_a_provider_of_ours_replaces_the_profiles_provider_of_that_name(tmp_path, demo_providers):
    mine = [{"name": "otel", "envoyOtelAls": {"service": "collector.elsewhere.svc.cluster.local", "port": 4317}}]
    overlay = render_overlay(tmp_path, {"istio_extension_providers": mine})["spec"]["meshConfig"]["extensionProviders"]
    assert [p for p in overlay if p["name"] == "otel"] == mine
    assert set(by_name(overlay)) == set(by_name(demo_providers))
