# -*- coding: utf-8 -*-
"""The doublerequestcount recording rule, as the telemetry role renders it, judged by Prometheus's own
rule engine: `promtool test rules` over input series shaped like Envoy's istio_requests_total.

promtool comes from Debian's `prometheus` package (.ci/run installs it when missing). Without it
this test fails, it does not skip: the rule would otherwise go untested.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "roles" / "telemetry" / "templates" / "recording-rules.yml.j2"
MESSAGE = yaml.safe_load((REPO / "roles" / "telemetry" / "defaults" / "main.yml").read_text())[
    "telemetry_double_request_message"]

# What Envoy's stats filter reports: one series per reporter and response code, with the standard
# labels and the `message` tag the Telemetry resource adds. 10 requests a minute for 10 minutes
# from the ingress gateway to productpage (reported by both sides; 2 of them 503), 5 a minute from
# productpage to reviews-v2 (reported by productpage's proxy only).
SERIES = [
    ("destination", "istio-ingressgateway", "istio-system", "productpage-v1", "200", "0+8x10"),
    ("destination", "istio-ingressgateway", "istio-system", "productpage-v1", "503", "0+2x10"),
    ("source", "istio-ingressgateway", "istio-system", "productpage-v1", "200", "0+8x10"),
    ("source", "istio-ingressgateway", "istio-system", "productpage-v1", "503", "0+2x10"),
    ("source", "productpage-v1", "bookinfo", "reviews-v2", "200", "0+5x10"),
]
EXPECTED = [  # after 10 minutes: twice the summed counters, by reporter, source, destination and message
    ("destination", "istio-ingressgateway", "productpage-v1", 200),
    ("source", "istio-ingressgateway", "productpage-v1", 200),
    ("source", "productpage-v1", "reviews-v2", 100),
]


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found on PATH: install Debian's prometheus package "
                    "(`apt-get install -y prometheus` as root; .ci/run does this when it is missing)")
    return path


def render_rule(dest: Path) -> Path:
    """Render the role's template with Ansible's template module, as the role does; return the rules file."""
    rules = dest / "recording_rules.yml"
    playbook = dest / "render.yml"
    playbook.write_text(textwrap.dedent(f"""\
        - name: Render the recording rule as the telemetry role does
          hosts: localhost
          gather_facts: false
          tasks:
            - name: Render recording-rules.yml.j2
              ansible.builtin.template:
                src: {json.dumps(str(TEMPLATE))}
                dest: {json.dumps(str(rules))}
                mode: "0644"
        """))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)]
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return rules


def series(reporter, source, source_namespace, destination, code):
    labels = dict(reporter=reporter, source_workload=source, source_workload_namespace=source_namespace,
                  source_app=source.rsplit("-v", 1)[0], destination_workload=destination,
                  destination_workload_namespace="bookinfo", destination_app=destination.rsplit("-v", 1)[0],
                  destination_service=f"{destination.rsplit('-v', 1)[0]}.bookinfo.svc.cluster.local",
                  request_protocol="http", response_code=code, response_flags="-",
                  connection_security_policy="mutual_tls" if reporter == "destination" else "unknown",
                  message=MESSAGE)
    return "istio_requests_total{" + ",".join(f"{k}={json.dumps(v)}" for k, v in labels.items()) + "}"


def write_test(dest: Path, rules: Path, expected) -> Path:
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": series(*row[:5]), "values": row[5]} for row in SERIES],
            "promql_expr_test": [{
                "expr": "istio_double_request_count",
                "eval_time": "10m",
                "exp_samples": [{
                    "labels": "istio_double_request_count{" + ",".join(
                        f"{k}={json.dumps(v)}" for k, v in
                        dict(reporter=reporter, source=source, destination=destination, message=MESSAGE).items()) + "}",
                    "value": value,
                } for reporter, source, destination, value in expected],
            }],
        }],
    }
    path = dest / "test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    return path


def run_promtool(test: Path) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), "test", "rules", str(test)], capture_output=True, text=True, check=False)


def test_the_rendered_rule_doubles_the_sums_by_reporter_source_destination_and_message(tmp_path):
    rules = render_rule(tmp_path)
    check = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    result = run_promtool(write_test(tmp_path, rules, EXPECTED))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@pytest.mark.parametrize("mutate", [
    lambda text: text.replace("2 * sum", "sum"),                              # not doubled
    lambda text: text.replace("(reporter, source, destination, message)",   # message dimension lost
                              "(reporter, source, destination)"),
    lambda text: text.replace('"destination", "$1", "destination_workload"',  # destination from the wrong label
                              '"destination", "$1", "destination_app"'),
], ids=["not-doubled", "no-message", "wrong-destination-label"])
def test_promtool_catches_a_wrong_rule(tmp_path, mutate):
    """The check can fail: each of these mistakes in the rule makes promtool report a failed test."""
    rules = render_rule(tmp_path)
    original = rules.read_text()
    rules.write_text(mutate(original))
    assert rules.read_text() != original
    result = run_promtool(write_test(tmp_path, rules, EXPECTED))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED" in result.stdout + result.stderr
