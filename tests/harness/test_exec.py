"""pods/exec of the emulator over WebSocket (python kubernetes client, kubernetes.core.k8s_exec, kubectl), answered
by the data-plane stand-in the way the exec'd tools answer: stdout/stderr split and exit code."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
import yaml
from kubernetes import client as k8s_client, config as k8s_config
from kubernetes.stream import stream

from tests.harness import fake_istioctl
from tests.harness.apiserver import lifecycle
from tests.harness.fixtures import VENV_BIN
from tests.harness.dataplane import DataPlane

CURL_IMAGE = "docker.io/curlimages/curl:8.11.1"
FORTIO_IMAGE = "docker.io/fortio/fortio:1.69.4"
PROXY_IMAGE = "docker.io/istio/proxyv2:1.31.1"
STATS_CONFIG = "proxyStatsMatcher:\n  inclusionPrefixes:\n    - cluster.outbound"


def pod(name, namespace, containers, labels=None, annotations=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}, "annotations": annotations or {}},
            "spec": {"containers": [{"name": c, "image": image} for c, image in containers]}}


@pytest.fixture
def mesh(harness):
    """A namespace of its own with a curl client, httpbin v1 and a fortio pod with a proxy, and a stand-in for it."""
    namespace = "exec-" + uuid.uuid4().hex[:8]
    api = harness.client
    api.apply([crd for crd in fake_istioctl.istio_crds() if crd["spec"]["names"]["plural"] == "destinationrules"][0])
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    api.create(pod("client", namespace, [("curl", CURL_IMAGE)]))
    api.create(pod("fortio", namespace, [("fortio", FORTIO_IMAGE), ("istio-proxy", PROXY_IMAGE)],
                   annotations={"proxy.istio.io/config": STATS_CONFIG}))
    api.create(pod("httpbin-v1-abc", namespace, [("httpbin", "docker.io/mccutchen/go-httpbin:v2.15.0")],
                   labels={"app": "httpbin", "version": "v1"}))
    with DataPlane(api, namespace=namespace) as plane:
        yield harness, namespace, plane


def core_api(harness):
    configuration = k8s_client.Configuration()
    k8s_config.load_kube_config(config_file=harness.kubeconfig, client_configuration=configuration)
    return k8s_client.CoreV1Api(k8s_client.ApiClient(configuration))


def run(harness, namespace, name, container, command):
    """(stdout, stderr, exit code) of an exec through the python client's stream(), as k8s_exec reads them."""
    resp = stream(core_api(harness).connect_get_namespaced_pod_exec, name, namespace, command=command, container=container,
                  stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)
    stdout, stderr = [], []
    while resp.is_open():
        resp.update(timeout=1)
        if resp.peek_stdout():
            stdout.append(resp.read_stdout())
        if resp.peek_stderr():
            stderr.append(resp.read_stderr())
    status = yaml.safe_load(resp.read_channel(3))
    code = 0 if status["status"] == "Success" else int(status["details"]["causes"][0]["message"])
    return "".join(stdout), "".join(stderr), code, resp.subprotocol


def test_exec_splits_stdout_and_stderr_and_carries_the_exit_code(mesh):
    harness, namespace, _plane = mesh
    out, err, code, protocol = run(harness, namespace, "client", "curl", ["sh", "-c", "echo one; nosuch --flag; echo two"])
    assert (out, err, code) == ("one\ntwo\n", "sh: nosuch: not found\n", 0)  # a shell's status is its last command's
    assert protocol == "v5.channel.k8s.io"
    out, err, code, _protocol = run(harness, namespace, "client", "curl", ["sh", "-c", "echo one; nosuch"])
    assert (out, err, code) == ("one\n", "sh: nosuch: not found\n", 127)
    out, err, code, _protocol = run(harness, namespace, "fortio", "fortio", ["sh", "-c", "echo hi"])
    assert (out, code) == ("", 127) and 'exec: "sh": executable file not found in $PATH' in err


def test_the_error_channel_is_kubelets_status(mesh):
    harness, namespace, _plane = mesh
    resp = stream(core_api(harness).connect_get_namespaced_pod_exec, "client", namespace, command=["false"], container="curl",
                  stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    status = json.loads(resp.read_channel(3))
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "1"}]
    again = stream(core_api(harness).connect_get_namespaced_pod_exec, "client", namespace, command=["sh", "-c", "nosuch"],
                   container="curl", stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)
    again.run_forever(timeout=10)
    assert again.returncode == 127


def test_curl_from_the_client_pod_reaches_httpbin_and_is_logged(mesh):
    harness, namespace, _plane = mesh
    out, err, code, _protocol = run(harness, namespace, "client", "curl",
                                    ["sh", "-c", "for i in $(seq 3); do curl -sS http://httpbin:8000/hostname; echo; done"])
    assert (err, code) == ("", 0)
    assert [json.loads(line) for line in out.splitlines()] == [{"hostname": "httpbin-v1-abc"}] * 3
    log = harness.kubectl("logs", "-n", namespace, "httpbin-v1-abc").stdout
    assert log.count('uri="/hostname"') == 3
    ip = harness.client.get(f"/api/v1/namespaces/{namespace}/pods/client")["status"]["podIP"]
    assert f"client_ip={ip}" in log
    out, err, code, _protocol = run(harness, namespace, "client", "curl", ["curl", "-sS", "http://nowhere:8000/"])
    assert (out, err, code) == ("", "curl: (6) Could not resolve host: nowhere\n", 6)


def test_fortio_reports_on_stderr_with_codes_from_the_connection_pool(mesh):
    harness, namespace, _plane = mesh
    stats = ["pilot-agent", "request", "GET", "stats"]
    overflow = f"cluster.outbound|8000||httpbin.{namespace}.svc.cluster.local.upstream_rq_pending_overflow"
    before, err, code, _protocol = run(harness, namespace, "fortio", "istio-proxy", stats)
    assert (err, code) == ("", 0) and f"{overflow}: 0\n" in before
    load = ["fortio", "load", "-c", "3", "-qps", "0", "-n", "30", "-loglevel", "Warning", "http://httpbin:8000/get"]
    out, err, code, _protocol = run(harness, namespace, "fortio", "fortio", load)
    assert (out, code) == ("", 0)
    assert "Code 200 : 30 (100.0 %)" in err  # no DestinationRule: no pool limit
    harness.client.create({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                           "metadata": {"name": "httpbin", "namespace": namespace},
                           "spec": {"host": "httpbin", "trafficPolicy": {"connectionPool": {
                               "tcp": {"maxConnections": 1}, "http": {"http1MaxPendingRequests": 1, "maxRequestsPerConnection": 1}}}}})
    out, err, code, _protocol = run(harness, namespace, "fortio", "fortio", load)
    assert (out, code) == ("", 0)
    assert "Code 200 : 20 (66.7 %)\nCode 503 : 10 (33.3 %)\n" in err
    after, _err, _code, _protocol = run(harness, namespace, "fortio", "istio-proxy", stats)
    assert f"{overflow}: 10\n" in after


def test_proxy_stats_are_trimmed_without_the_inclusion_prefix(mesh):
    harness, namespace, _plane = mesh
    harness.client.create(pod("bare", namespace, [("fortio", FORTIO_IMAGE), ("istio-proxy", PROXY_IMAGE)]))
    out, _err, code, _protocol = run(harness, namespace, "bare", "istio-proxy", ["pilot-agent", "request", "GET", "stats"])
    assert code == 0 and "server.live: 1" in out and "cluster.outbound" not in out


def test_missing_pod_and_container_are_refused_before_the_upgrade(mesh):
    harness, namespace, _plane = mesh
    from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
    from websocket import WebSocketBadStatusException  # pylint: disable=import-outside-toplevel

    for name, container, status, message in (("ghost", "curl", 404, 'pods \\"ghost\\" not found'),
                                             ("client", "nope", 400, "container nope is not valid for pod client")):
        with pytest.raises((ApiException, WebSocketBadStatusException)) as caught:
            run(harness, namespace, name, container, ["echo", "hi"])
        assert str(status) in str(caught.value) and message in str(caught.value)


def test_kubectl_exec_over_websocket(mesh):
    harness, namespace, _plane = mesh
    done = harness.kubectl("exec", "-n", namespace, "client", "-c", "curl", "--", "sh", "-c", "echo hi; nosuch", check=False)
    assert (done.stdout, done.returncode) == ("hi\n", 127)
    assert "sh: nosuch: not found\n" in done.stderr and "command terminated with exit code 127" in done.stderr
    missing = harness.kubectl("exec", "-n", namespace, "client", "-c", "nope", "--", "echo", check=False)
    assert missing.returncode == 1 and "container nope is not valid for pod client" in missing.stderr


def test_without_a_stand_in_commands_exit_126(harness):
    namespace = "exec-" + uuid.uuid4().hex[:8]
    harness.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    harness.client.create(pod("client", namespace, [("curl", CURL_IMAGE)]))
    out, err, code, _protocol = run(harness, namespace, "client", "curl", ["echo", "hi"])
    assert (out, code) == ("", 126) and "no data-plane stand-in" in err


# -- A failed exec in a scenario's measurement (roles/routing/tasks/exec.yml) --------------------------------------
EXEC_PLAY = """
- name: Run one measuring command the way the scenario roles do
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run it.
      ansible.builtin.include_role:
        name: istiolab.mesh.routing
        tasks_from: exec
      vars:
        routing_namespace: {namespace}
        routing_istio_namespace: {namespace}
        routing_kube_context: ""
        routing_exec:
          namespace: {namespace}
          pod: "{pod}"
          pods: app=client
          container: {container}
          command: "{command}"
          register: measured
    - name: Show it.
      ansible.builtin.debug:
        msg: "MEASURED {{{{ measured.stdout }}}}"
"""
SCENARIO_LABELS = {"app.kubernetes.io/managed-by": "istiolab.mesh", "istiolab.mesh/scenario": "mirror"}


@pytest.fixture
def scenario(mesh):
    harness, namespace, _plane = mesh
    for crd in fake_istioctl.istio_crds():
        harness.client.apply(crd)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "httpbin", "namespace": namespace, "labels": SCENARIO_LABELS},
               "spec": {"selector": {"app": "httpbin"}, "ports": [{"port": 8000}]}}
    route = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": {"name": "httpbin", "namespace": namespace, "labels": SCENARIO_LABELS},
             "spec": {"hosts": ["httpbin"], "http": [{"route": [{"destination": {"host": "httpbin", "subset": "v1"}}]}]}}
    for obj in (service, route):
        harness.client.create(obj)
    return harness, namespace


def play_exec(harness, tmp_path, namespace, pod, container, command):
    path = tmp_path / "exec.yml"
    path.write_text(EXEC_PLAY.format(namespace=namespace, pod=pod, container=container, command=command))
    result = harness.playbook(path, check=False)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def scenario_objects(harness, namespace):
    return [o["metadata"]["name"] for path in (f"/api/v1/namespaces/{namespace}/services",
                                               f"/apis/networking.istio.io/v1/namespaces/{namespace}/virtualservices")
            for o in harness.client.list(path, label_selector="istiolab.mesh/scenario")]


def test_a_good_exec_keeps_the_result_and_the_objects(scenario, tmp_path):
    harness, namespace = scenario
    code, output = play_exec(harness, tmp_path, namespace, "client", "curl", "echo measured-ok")
    assert code == 0, output
    assert "MEASURED measured-ok" in output
    assert scenario_objects(harness, namespace) == ["httpbin", "httpbin"]


@pytest.mark.parametrize("pod, container, command, expected", [
    ("ghost", "curl", "echo hi", ["Cannot run 'echo hi' in pod {ns}/ghost, container curl: pods \"ghost\" not found"]),
    ("client", "nope", "echo hi", ["Cannot run 'echo hi' in pod {ns}/client, container nope: container nope is not valid for pod client"]),
    ("client", "curl", "sh -c 'echo partial; nosuch'", ["'sh -c 'echo partial; nosuch'' in pod {ns}/client, container curl exited 127: "
                                                        "sh: nosuch: not found"]),
    ("", "curl", "echo hi", ["No Running pod of app=client in {ns} to run 'echo hi' in (container curl)"]),
], ids=["pod-missing", "container-missing", "command-fails", "no-pod-found"])
def test_a_failed_exec_names_pod_container_and_command_and_removes_the_scenario(scenario, tmp_path, pod, container, command, expected):
    harness, namespace = scenario
    code, output = play_exec(harness, tmp_path, namespace, pod, container, command)
    assert code != 0
    for fragment in expected:
        assert fragment.format(ns=namespace) in output, output[-3000:]
    assert "The objects of the scenarios were removed" in output
    assert "Handshake status" not in output.rsplit("Fail, naming the pod", maxsplit=1)[-1]
    assert "Traceback" not in output
    assert scenario_objects(harness, namespace) == []


# -- circuit_breaking measured offline (issue 10, defect 1: fortio's report is on stderr) --------------------------
CB_PLAY = """
- name: Play circuit_breaking against the offline cluster
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Play it.
      ansible.builtin.include_role:
        name: istiolab.mesh.resilience
        tasks_from: circuit_breaking
      vars:
        resilience_namespace: {namespace}
        resilience_istio_namespace: {namespace}
        resilience_settle_seconds: 0
        resilience_replay_proven: false
        routing_kube_context: ""
        routing_artifacts_dir: {artifacts}
    - name: Write the verdict down.
      ansible.builtin.copy:
        content: "{{{{ routing_scenario_results.circuit_breaking | to_json }}}}"
        dest: {out}
        mode: "0600"
"""


def test_circuit_breaking_is_measured_from_fortios_stderr(harness, tmp_path):
    namespace = "cb-" + uuid.uuid4().hex[:8]
    for crd in fake_istioctl.istio_crds():
        harness.client.apply(crd)
    harness.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {"istio-injection": "enabled"}}})
    path = tmp_path / "cb.yml"
    path.write_text(CB_PLAY.format(namespace=namespace, out=tmp_path / "verdict.json", artifacts=tmp_path / "artifacts"))
    with DataPlane(harness.client, namespace=namespace):
        result = harness.playbook(path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["passed"] is True, verdict
    assert verdict["codes"] == {"200": 20, "503": 10} and verdict["overflow"] == 10, verdict


# -- access_control measured offline on a host without `ip` (issue 10, defect 4) ----------------------------------
AC_PLAY = """
- name: Play access_control against the offline cluster
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
        routing_gateway_url: {url}
        routing_kube_context: ""
        routing_artifacts_dir: {artifacts}
    - name: Write the verdict down.
      ansible.builtin.copy:
        content: "{{{{ routing_scenario_results.access_control | to_json }}}}"
        dest: {out}
        mode: "0600"
"""


def path_without_ip(tmp_path):
    """A PATH like this machine's without the `ip` command, as on macOS: every other tool of /usr/bin is linked."""
    directory = tmp_path / "bin-without-ip"
    directory.mkdir()
    for tool in os.listdir("/usr/bin"):
        if tool != "ip":
            os.symlink(os.path.join("/usr/bin", tool), directory / tool)
    return str(directory)


def access_control_namespace(harness, prefix):
    """A namespace of its own for access_control: Istio's real CRDs, the injection label and an ingress gateway Service."""
    namespace = prefix + uuid.uuid4().hex[:8]
    for crd in fake_istioctl.istio_crds():
        harness.client.apply(crd)
    harness.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {"istio-injection": "enabled"}}})
    harness.client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "istio-ingressgateway", "namespace": namespace},
                           "spec": {"type": "NodePort", "selector": {"istio": "ingressgateway"}, "ports": [{"name": "http2", "port": 80}]}})
    return namespace


def test_access_control_is_measured_without_ip_from_both_sources(harness, tmp_path):
    namespace = access_control_namespace(harness, "ac-")
    with DataPlane(harness.client, namespace=namespace, gateway_namespace=namespace) as plane:
        path = tmp_path / "ac.yml"
        path.write_text(AC_PLAY.format(namespace=namespace, url=plane.url, out=tmp_path / "verdict.json", artifacts=tmp_path / "artifacts"))
        bin_dirs = [d for d in harness.env["PATH"].split(os.pathsep) if d and not d.startswith(("/usr", "/bin", "/sbin"))]
        env_path = os.pathsep.join(bin_dirs + [path_without_ip(tmp_path)])
        env = dict(harness.env, PATH=env_path, ANSIBLE_CONFIG=os.path.join(lifecycle.REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        result = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), str(path)], env=env, cwd=lifecycle.REPO,
                                capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["passed"] is True, verdict
    assert verdict["sources"]["control node"]["address"] == "127.0.0.1"
    assert verdict["sources"]["control node"]["status"] in (200, "200")
    assert verdict["sources"]["mesh client"]["status"] in (403, "403")
    assert verdict["status"]["mesh client"] == ["403"] * 10


# -- mirror measured offline: curl in the client pod, the copies counted in httpbin v2's log ----------------------
MIRROR_PLAY = """
- name: Play mirror against the offline cluster
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Play it.
      ansible.builtin.include_role:
        name: istiolab.mesh.routing
        tasks_from: mirror
      vars:
        routing_namespace: {namespace}
        routing_istio_namespace: {namespace}
        routing_settle_seconds: 0
        routing_replay_proven: false
        routing_gateway_url: {url}
        routing_kube_context: ""
        routing_artifacts_dir: {artifacts}
    - name: Write the verdict down.
      ansible.builtin.copy:
        content: "{{{{ routing_scenario_results.mirror | to_json }}}}"
        dest: {out}
        mode: "0600"
"""


def test_mirror_is_measured_from_the_client_pod_and_httpbins_logs(harness, tmp_path):
    namespace = "mirror-" + uuid.uuid4().hex[:8]
    for crd in fake_istioctl.istio_crds():
        harness.client.apply(crd)
    harness.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {"istio-injection": "enabled"}}})
    with DataPlane(harness.client, namespace=namespace, gateway_namespace=namespace) as plane:
        path = tmp_path / "mirror.yml"
        path.write_text(MIRROR_PLAY.format(namespace=namespace, url=plane.url, out=tmp_path / "verdict.json", artifacts=tmp_path / "artifacts"))
        result = harness.playbook(path, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["passed"] is True, verdict
    assert verdict["answers"] == {"v1": 20, "v2": 0} and verdict["logged"] == {"v1": 20, "v2": 20}, verdict
