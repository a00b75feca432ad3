"""The fake minikube against the API emulator, and minikube_cluster through ansible-playbook on top of it."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import textwrap

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MINIKUBE = os.path.join(REPO, "tests", "harness", "bin", "minikube")
ERROR_EVENT = "io.k8s.sigs.minikube.error"


def minikube(harness, *args, faults=None):
    path = os.path.join(harness.dir, "faults.json")
    if faults is not None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"minikube": faults}, handle)
    try:
        return subprocess.run([MINIKUBE, *args], env=dict(harness.env, LC_ALL="C"), capture_output=True, text=True, timeout=60, check=False)
    finally:
        if faults is not None:
            os.remove(path)


def _contexts(harness):
    with open(harness.env["KUBECONFIG"], encoding="utf-8") as handle:
        return [entry["name"] for entry in (yaml.safe_load(handle) or {}).get("contexts") or []]


def _node(harness, name):
    return harness.client.get("/api/v1/nodes/%s" % name)


@pytest.fixture
def profile(harness, request):
    """A profile name of its own for each test, deleted (cluster, Node, context) afterwards."""
    name = "t-" + re.sub(r"[^a-z0-9]+", "-", request.node.name[5:].lower())[:30].strip("-")
    yield name
    minikube(harness, "delete", "-p", name)


def test_start_status_stop_delete_cycle(harness, profile):
    started = minikube(harness, "start", "-p", profile, "--output=json", "--cpus=4", "--memory=8g", "--kubernetes-version=v1.34.0")
    assert started.returncode == 0, started.stdout + started.stderr
    events = [json.loads(line) for line in started.stdout.splitlines()]
    assert {event["type"] for event in events} == {"io.k8s.sigs.minikube.step"}
    assert events[-1]["data"]["name"] == "Done"

    status = minikube(harness, "status", "-p", profile, "-o", "json")
    assert status.returncode == 0
    assert json.loads(status.stdout) == {
        "Name": profile, "Host": "Running", "Kubelet": "Running", "APIServer": "Running", "Kubeconfig": "Configured", "Worker": False,
    }

    listed = json.loads(minikube(harness, "profile", "list", "-o", "json").stdout)
    config = next(p["Config"] for p in listed["valid"] if p["Name"] == profile)
    assert (config["CPUs"], config["Memory"], config["KubernetesConfig"]["KubernetesVersion"]) == (4, 8192, "v1.34.0")

    ip = minikube(harness, "ip", "-p", profile).stdout.strip()
    node = _node(harness, profile)
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.34.0"
    assert {"type": "InternalIP", "address": ip} in node["status"]["addresses"]
    assert profile in _contexts(harness)

    stopped = minikube(harness, "stop", "-p", profile)
    assert stopped.returncode == 0
    status = minikube(harness, "status", "-p", profile, "-o", "json")
    assert status.returncode == 7
    assert json.loads(status.stdout)["Host"] == "Stopped"

    assert minikube(harness, "delete", "-p", profile).returncode == 0
    assert minikube(harness, "status", "-p", profile, "-o", "json").returncode == 85
    assert _node(harness, profile) is None
    assert profile not in _contexts(harness)


def test_first_profile_gets_the_docker_network_address(harness, profile):
    listed = minikube(harness, "profile", "list", "-o", "json")
    others = json.loads(listed.stdout).get("valid", []) if listed.returncode == 0 else []
    assert minikube(harness, "start", "-p", profile).returncode == 0
    if not others:
        assert minikube(harness, "ip", "-p", profile).stdout.strip() == "192.168.49.2"
    else:
        assert minikube(harness, "ip", "-p", profile).stdout.strip() not in {p["Config"]["Nodes"][0]["IP"] for p in others}


@pytest.mark.parametrize(
    "fault, reason, code",
    [("no_docker", "PROVIDER_DOCKER_NOT_RUNNING", 63), ("insufficient_memory", "RSRC_INSUFFICIENT_CONTAINER_MEMORY", 23)],
)
def test_start_fault_prints_the_reason_event_and_creates_nothing(harness, profile, fault, reason, code):
    done = minikube(harness, "start", "-p", profile, "--output=json", faults={"start": fault})
    assert done.returncode == code
    errors = [json.loads(line)["data"] for line in done.stdout.splitlines() if json.loads(line)["type"] == ERROR_EVENT]
    assert [(e["name"], e["exitcode"]) for e in errors] == [(reason, str(code))]
    assert minikube(harness, "status", "-p", profile, "-o", "json").returncode == 85
    assert _node(harness, profile) is None


def test_paused_status_exit_code_and_addons(harness, profile):
    assert minikube(harness, "start", "-p", profile).returncode == 0
    assert minikube(harness, "pause", "-p", profile).returncode == 0
    status = minikube(harness, "status", "-p", profile, "-o", "json")
    assert (status.returncode, json.loads(status.stdout)["APIServer"]) == (2, "Paused")
    assert minikube(harness, "addons", "enable", "metrics-server", "-p", profile).returncode == 0
    addons = json.loads(minikube(harness, "addons", "list", "-p", profile, "-o", "json").stdout)
    assert addons["metrics-server"] == {"Profile": profile, "Status": "enabled"}
    assert minikube(harness, "addons", "enable", "no-such-addon", "-p", profile).returncode == 10


def test_service_url_uses_the_node_port_from_the_emulator(harness, profile):
    assert minikube(harness, "start", "-p", profile).returncode == 0
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "echo-%s" % profile, "namespace": "default"},
        "spec": {"type": "NodePort", "selector": {"app": "echo"}, "ports": [{"port": 8080, "targetPort": 8080}]},
    }
    harness.client.apply(service)
    try:
        stored = harness.client.get("/api/v1/namespaces/default/services/echo-%s" % profile)
        node_port = stored["spec"]["ports"][0]["nodePort"]
        ip = minikube(harness, "ip", "-p", profile).stdout.strip()
        done = minikube(harness, "service", "echo-%s" % profile, "-n", "default", "-p", profile, "--url")
        assert (done.returncode, done.stdout) == (0, "http://%s:%d\n" % (ip, node_port))
    finally:
        harness.client.delete(service)
    missing = minikube(harness, "service", "echo-%s" % profile, "-n", "default", "-p", profile, "--url")
    assert missing.returncode == 115
    assert "SVC_NOT_FOUND" in missing.stderr


def test_every_invocation_is_recorded(harness, profile):
    path = os.path.join(harness.dir, "cli-calls.jsonl")
    before = os.path.getsize(path) if os.path.exists(path) else 0
    minikube(harness, "status", "-p", profile, "-o", "json")
    with open(path, encoding="utf-8") as handle:
        handle.seek(before)
        calls = [json.loads(line) for line in handle if line.strip()]
    assert calls == [{"cli": "minikube", "args": ["status", "-p", profile, "-o", "json"]}]


def _playbook(harness, tmp_path, profile):
    play = tmp_path / "cluster.yml"
    play.write_text(textwrap.dedent("""\
        - name: Manage a minikube cluster against the fake minikube
          hosts: localhost
          gather_facts: false
          tasks:
            - name: Ensure the cluster runs
              istiolab.mesh.minikube_cluster:
                profile: "{{ profile }}"
                cpus: 4
                memory: 8g
                kubernetes_version: v1.34.0
              register: cluster
            - name: Save the result
              ansible.builtin.copy:
                content: "{{ cluster | to_json }}"
                dest: "{{ result_file }}"
                mode: "0600"
    """))
    result = tmp_path / "result.json"
    harness.playbook(play, "-e", "profile=%s" % profile, "-e", "result_file=%s" % result)
    return json.loads(result.read_text())


def test_minikube_cluster_module_is_idempotent_against_the_fake(harness, profile, tmp_path):
    first = _playbook(harness, tmp_path, profile)
    assert (first["changed"], first["actions"], first["state"]) == (True, ["start"], "running")
    assert first["kube_context"] == profile
    assert first["node_ip"] == minikube(harness, "ip", "-p", profile).stdout.strip()
    second = _playbook(harness, tmp_path, profile)
    assert (second["changed"], second["actions"], second["state"]) == (False, [], "running")
    assert [command[1] for command in second["commands"]] == ["version", "profile", "status", "ip"]


@pytest.fixture
def host_profile(harness):
    """Write $MESH_HARNESS_DIR/host.json for one test and remove it afterwards."""
    path = os.path.join(harness.dir, "host.json")

    def write(name):
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"profile": name}, handle)

    yield write
    if os.path.exists(path):
        os.remove(path)


@pytest.mark.parametrize("host", ["darwin-docker-desktop", "linux-docker-desktop", "linux-rootless"])
def test_service_url_blocks_like_the_tunnel_on_port_forward_hosts(harness, profile, host_profile, host):
    assert minikube(harness, "start", "-p", profile).returncode == 0
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "echo-%s" % profile, "namespace": "default"},
        "spec": {"type": "NodePort", "selector": {"app": "echo"}, "ports": [{"port": 8080, "targetPort": 8080}]},
    }
    harness.client.apply(service)
    host_profile(host)
    process = subprocess.Popen([MINIKUBE, "service", "echo-%s" % profile, "-n", "default", "-p", profile, "--url"],
                               env=harness.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        assert "the terminal needs to be open to run it" in process.stderr.readline()
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=2)
        # Nothing listens where it points: the URL is only good while a real tunnel runs.
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1).close()
    finally:
        process.kill()
        process.communicate()
        harness.client.delete(service)


def test_start_refuses_more_memory_than_docker_has(harness, profile, host_profile):
    host_profile("linux-rootless")
    done = minikube(harness, "start", "-p", profile, "--memory=16384", "--output=json")
    assert done.returncode == 23
    event = json.loads(done.stdout.splitlines()[-1])
    assert event["type"] == ERROR_EVENT and event["data"]["name"] == "RSRC_OVER_ALLOC_MEM"
    assert event["data"]["message"] == "Requested memory allocation 16384MB is more than your system limit 15660MB."
    assert _node(harness, profile) is None
    assert minikube(harness, "start", "-p", profile, "--memory=12288").returncode == 0
