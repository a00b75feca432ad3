"""The opt-in steps of minikube's start guide (full-demo tags `smoke` and `dashboard`) on the offline cluster.

The emulator's pods/portforward reaches only the gateway stand-in (nothing listens in the echo server's pod), so the
runs here point minikube_kubectl at a stand-in written by the test: it does what `kubectl port-forward --address
127.0.0.1 ... service/NAME LOCAL:PORT` does for the play - it refuses when the Service is not in the emulator (asked
with the real kubectl), listens on 127.0.0.1:LOCAL and answers HTTP there - and records its arguments. The host
profile is a port-forward host (rootless Docker), where the node IP is unreachable and `minikube service --url`
blocks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from tests.e2e._demo import FULL_DEMO, TEARDOWN, TEARDOWN_REPORT_TASK, OfflineDemo, PlaybookRun, processes_of
from tests.harness.apiserver import lifecycle
from tests.harness.fixtures import VENV_BIN

PROFILE = "istiolab"
PORT_FORWARD_STAND_IN = textwrap.dedent("""\
    #!{python}
    import http.server, json, subprocess, sys
    args = sys.argv[1:]
    with open({record!r}, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(args) + "\\n")
    if "port-forward" not in args:
        sys.exit("stand-in kubectl: only port-forward")
    connection = [a for a in args if a.startswith(("--kubeconfig=", "--context="))]
    namespace = args[args.index("-n") + 1]
    target = [a for a in args if a.startswith("service/")][0]
    local, remote = [a for a in args if ":" in a and a[0].isdigit()][0].split(":")
    assert args[args.index("--address") + 1] == "127.0.0.1", args
    found = subprocess.run([{kubectl!r}, *connection, "get", "-n", namespace, target, "-o", "json"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        sys.exit("error: " + found.stderr.strip())
    with open({record!r} + ".service", "w", encoding="utf-8") as handle:
        handle.write(found.stdout)

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("Request served by " + target + " (port " + remote + ")\\n").encode()
            self.send_response({status})
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    print("Forwarding from 127.0.0.1:%s -> %s" % (local, remote), flush=True)
    http.server.HTTPServer(("127.0.0.1", int(local)), Echo).serve_forever()
""")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stand_in_kubectl(directory, status=200):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "kubectl")
    record = os.path.join(directory, "kubectl-calls.jsonl")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(PORT_FORWARD_STAND_IN.format(python=sys.executable, record=record, status=status,
                                                  kubectl=os.path.join(VENV_BIN, "kubectl")))
    os.chmod(path, 0o755)
    return path, record


def calls_of(record):
    if not os.path.exists(record):
        return []
    with open(record, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def start_cluster(demo, host="linux-rootless"):
    with open(os.path.join(demo.dir, "host.json"), "w", encoding="utf-8") as handle:
        json.dump({"profile": host}, handle)
    demo.harness.run(["minikube", "start", "-p", PROFILE])


def run_leaving(demo, playbook, *args, timeout=180):
    """Run a playbook; return it with the processes of the demo it left running (then killed, by OfflineDemo)."""
    process = demo.spawn(playbook, *args)
    stdout, stderr = process.communicate(timeout=timeout)
    emulator = (lifecycle.read_info(demo.dir) or {}).get("pid")
    left = processes_of(demo.dir, exclude={emulator})
    return PlaybookRun.parse(playbook, process.argv, process.returncode, 0.0, stdout, stderr), left


def echo_objects(demo):
    return [(obj["kind"], obj["metadata"]["name"]) for obj in demo.client.objects()
            if obj["metadata"].get("name") == "hello-minikube" and obj["kind"] in ("Deployment", "Service", "ReplicaSet", "Pod")]


@pytest.fixture
def demo(tmp_path):
    with OfflineDemo(tmp_path / "demo", mesh_artifacts_dir=str(tmp_path / "artifacts")) as offline:
        start_cluster(offline)
        yield offline


def test_smoke_tag_proves_a_200_through_a_127_port_forward_and_removes_everything(demo, tmp_path):
    kubectl, record = stand_in_kubectl(str(tmp_path / "kubectl"))
    port = free_port()
    demo.write_vars(minikube_kubectl=kubectl, minikube_smoke_local_port=port)
    run, left = run_leaving(demo, FULL_DEMO, "--tags", "smoke")
    assert run.returncode == 0, run.explain()
    probe = run.task("Ask the echo server for a 200.")
    assert probe is not None and probe.result["status"] == 200, run.explain()
    assert probe.result["url"] == f"http://127.0.0.1:{port}/"
    # The echo server that was deployed, and its NodePort Service, which the port-forward found in the emulator.
    deployed = run.task("Deploy the echo server docker.io/kicbase/echo-server:1.0.")
    assert deployed.changed and deployed.result["result"]["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/kicbase/echo-server:1.0"
    with open(record + ".service", encoding="utf-8") as handle:
        service = json.load(handle)
    assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["port"] == 8080
    (forward,) = calls_of(record)
    expected = ["port-forward", "--address", "127.0.0.1", "-n", "default", "service/hello-minikube", f"{port}:8080"]
    assert forward[forward.index("port-forward"):] == expected
    # Cleaned up: no objects, no process, no pid file; minikube's blocking `service --url` never ran.
    assert echo_objects(demo) == []
    assert left == [], left
    assert not os.listdir(os.path.join(demo.cache_dir, "run"))
    assert not [call["args"] for call in demo.calls() if call["args"][:1] == ["service"]]
    assert "Smoke test passed: HTTP 200" in run.task("Report the smoke test.").msg

    # A second run does the same and leaves nothing either.
    again, left = run_leaving(demo, FULL_DEMO, "--tags", "smoke")
    assert again.returncode == 0, again.explain()
    assert echo_objects(demo) == [] and left == []


def test_smoke_fails_on_an_answer_other_than_200_and_still_cleans_up(demo, tmp_path):
    kubectl, _record = stand_in_kubectl(str(tmp_path / "kubectl"), status=503)
    demo.write_vars(minikube_kubectl=kubectl, minikube_smoke_local_port=free_port(), minikube_smoke_retries=1,
                    minikube_smoke_delay=1)
    run, left = run_leaving(demo, FULL_DEMO, "--tags", "smoke")
    assert run.returncode != 0
    failed = run.task("Ask the echo server for a 200.")
    assert failed.failed and failed.result["status"] == 503, run.explain()
    said = run.failure_message()
    assert 'failed at "Ask the echo server for a 200."' in said and "Status code was 503" in said, said
    assert "kubectl get pods -n default -l app=hello-minikube" in said
    assert echo_objects(demo) == []
    assert left == [], left


def list_tasks(demo, *args):
    env = dict(demo.environment(), ANSIBLE_STDOUT_CALLBACK="default")
    listed = subprocess.run(demo.argv(FULL_DEMO, "--list-tasks", *args), cwd=lifecycle.REPO, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    return listed.stdout


def test_smoke_and_dashboard_are_opt_in(demo):
    """A run without --tags (or with --tags all) lists neither step; each tag lists its own step only."""
    smoke, dashboard = "Smoke-test the cluster with an echo server", "Open minikube's dashboard on 127.0.0.1"
    for default in (list_tasks(demo), list_tasks(demo, "--tags", "all")):
        assert smoke not in default and dashboard not in default
        assert "Scenario all_v1" in default
    listed = list_tasks(demo, "--tags", "smoke")
    assert smoke in listed and dashboard not in listed
    listed = list_tasks(demo, "--tags", "dashboard")
    assert dashboard in listed and smoke not in listed


def test_dashboard_tag_enables_the_addon_opens_127_without_blocking_and_teardown_stops_it(demo, tmp_path):
    client = demo.client
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kubernetes-dashboard"}})
    client.apply({"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "kubernetes-dashboard", "namespace": "kubernetes-dashboard"},
                  "spec": {"selector": {"k8s-app": "kubernetes-dashboard"}, "ports": [{"port": 80, "targetPort": 9090}]}})
    client.apply({"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "kubernetes-dashboard", "namespace": "kubernetes-dashboard"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"k8s-app": "kubernetes-dashboard"}},
                           "template": {"metadata": {"labels": {"k8s-app": "kubernetes-dashboard"}},
                                        "spec": {"containers": [{"name": "kubernetes-dashboard",
                                                                 "image": "docker.io/kubernetesui/dashboard:v2.7.0"}]}}}})
    kubectl, record = stand_in_kubectl(str(tmp_path / "kubectl"))
    port = free_port()
    # Its own directory of pid files, apart from the telemetry role's: teardown must look there too.
    state_dir = str(tmp_path / "minikube-run")
    demo.write_vars(minikube_kubectl=kubectl, minikube_dashboard_local_port=port, minikube_state_dir=state_dir)
    run, left = run_leaving(demo, FULL_DEMO, "--tags", "dashboard", timeout=120)
    try:
        assert run.returncode == 0, run.explain()
        assert ["addons", "enable", "dashboard", "-p", PROFILE] in [call["args"][:5] for call in demo.calls()], demo.calls()
        assert f"Dashboard: http://127.0.0.1:{port}/" in run.task("Say where the dashboard is.").msg
        (forward,) = calls_of(record)
        expected = ["port-forward", "--address", "127.0.0.1", "-n", "kubernetes-dashboard",
                    "service/kubernetes-dashboard", f"{port}:80"]
        assert forward[forward.index("port-forward"):] == expected
        # The play ended with the port-forward still running, its pid in the file teardown reads.
        pid_file = os.path.join(state_dir, "dashboard.port-forward.pid")
        with open(pid_file, encoding="utf-8") as handle:
            assert int(handle.read()) in left, left

        # A second run keeps the running port-forward.
        again, _left = run_leaving(demo, FULL_DEMO, "--tags", "dashboard", timeout=120)
        assert again.returncode == 0, again.explain()
        assert len(calls_of(record)) == 1
        assert not again.task("Enable the dashboard addon.").changed and not again.changed_tasks(), again.explain()

        down, left = run_leaving(demo, TEARDOWN, timeout=240)
        assert down.returncode == 0, down.explain()
        assert "port-forward dashboard" in " ".join(down.lines(TEARDOWN_REPORT_TASK))
        assert left == [], left
        assert not os.path.exists(pid_file)
    finally:
        demo.kill_all()


def test_smoke_on_a_node_port_host_probes_the_node_ip_and_the_service_node_port(demo, tmp_path):
    """Plain Linux Docker reaches the node IP: no port-forward, the URL is the node IP and the Service's node port.
    The harness's node IP answers nothing, so the probe fails, and the objects are still removed."""
    with open(os.path.join(demo.dir, "host.json"), "w", encoding="utf-8") as handle:
        json.dump({"profile": "linux-docker"}, handle)
    kubectl, record = stand_in_kubectl(str(tmp_path / "kubectl"))
    demo.write_vars(minikube_kubectl=kubectl, minikube_smoke_retries=0)
    run, left = run_leaving(demo, FULL_DEMO, "--tags", "smoke")
    assert run.returncode != 0
    exposed = run.task("Expose it as a NodePort Service on port 8080.")
    node_port = exposed.result["result"]["spec"]["ports"][0]["nodePort"]
    probe = run.task("Ask the echo server for a 200.")
    assert probe.failed and probe.result["url"] == f"http://192.168.49.2:{node_port}/", run.explain()
    assert calls_of(record) == []
    assert echo_objects(demo) == [] and left == []
    assert not [call["args"] for call in demo.calls() if call["args"][:1] == ["service"]]


def test_smoke_probes_minikube_smoke_url_when_it_is_given(demo, tmp_path):
    import http.server
    import threading

    class Answer(http.server.BaseHTTPRequestHandler):
        paths = []

        def do_GET(self):
            Answer.paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        kubectl, record = stand_in_kubectl(str(tmp_path / "kubectl"))
        url = f"http://127.0.0.1:{server.server_port}"
        demo.write_vars(minikube_kubectl=kubectl, minikube_smoke_url=url)
        run, left = run_leaving(demo, FULL_DEMO, "--tags", "smoke")
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 0, run.explain()
    assert run.task("Ask the echo server for a 200.").result["url"] == url + "/"
    assert Answer.paths and calls_of(record) == []
    assert echo_objects(demo) == [] and left == []


def test_smoke_in_check_mode_applies_starts_and_probes_nothing(demo, tmp_path):
    kubectl, record = stand_in_kubectl(str(tmp_path / "kubectl"))
    demo.write_vars(minikube_kubectl=kubectl, minikube_smoke_local_port=free_port())
    before = demo.snapshot()
    run, left = run_leaving(demo, FULL_DEMO, "--tags", "smoke", "--check")
    assert run.returncode == 0, run.explain()
    assert run.task("Ask the echo server for a 200.").skipped
    assert "Check mode: the echo server would be deployed" in run.task("Report the smoke test.").msg
    assert calls_of(record) == [] and left == [] and echo_objects(demo) == []
    assert not before.diff(demo.snapshot()), before.diff(demo.snapshot())


def test_dashboard_in_check_mode_enables_and_starts_nothing(demo, tmp_path):
    kubectl, record = stand_in_kubectl(str(tmp_path / "kubectl"))
    port = free_port()
    demo.write_vars(minikube_kubectl=kubectl, minikube_dashboard_local_port=port)
    before = demo.snapshot()
    run, left = run_leaving(demo, FULL_DEMO, "--tags", "dashboard", "--check")
    assert run.returncode == 0, run.explain()
    assert run.task("Enable the dashboard addon.").result["actions"] == ["enable dashboard"]
    assert not [call["args"] for call in demo.calls() if call["args"][:2] == ["addons", "enable"]]
    assert f"Check mode: the dashboard would open at http://127.0.0.1:{port}/" in run.task("Say where the dashboard is.").msg
    assert calls_of(record) == [] and left == []
    assert not before.diff(demo.snapshot())
