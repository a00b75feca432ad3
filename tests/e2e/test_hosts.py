"""The demo on each kind of host the fakes can be (tests/harness host profiles: plain Linux Docker, Docker Desktop on
macOS and Linux, rootless Docker): how the gateway is reached, which tools preflight asks for, how the cluster is
sized, and the whole default demo."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from tests.e2e._demo import FULL_DEMO, SUMMARY_TASK, OfflineDemo
from tests.harness import fake_docker
from tests.harness.apiserver.lifecycle import REPO
from tests.harness.fixtures import VENV_BIN

PROFILE = "hosts"
PORT_FORWARD_HOSTS = ("darwin-docker-desktop", "linux-docker-desktop", "linux-rootless")
GATEWAY_PLAY = textwrap.dedent("""\
    - name: Resolve the gateway URL as the demo does
      hosts: localhost
      gather_facts: false
      tasks:
        - name: Resolve it
          ansible.builtin.include_role:
            name: istiolab.mesh.bookinfo
            tasks_from: gateway_url
        - name: Save what was chosen
          ansible.builtin.copy:
            content: "{{ {'url': bookinfo_resolved_gateway_url, 'mode': bookinfo_resolved_gateway_mode,
                          'reason': bookinfo_gateway_mode_reason} | to_json }}"
            dest: "{{ result_file }}"
            mode: "0600"
""")


def set_host(directory, profile):
    with open(os.path.join(directory, "host.json"), "w", encoding="utf-8") as handle:
        json.dump({"profile": profile}, handle)


@pytest.fixture
def gateway_cluster(fresh_harness):
    """A running fake minikube profile with the ingress gateway Service (node port for port 80) in the emulator."""
    fresh_harness.run(["minikube", "start", "-p", PROFILE])
    fresh_harness.client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    fresh_harness.client.apply({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
        "spec": {"type": "LoadBalancer", "selector": {"istio": "ingressgateway"},
                 "ports": [{"name": "http2", "port": 80, "targetPort": 8080}]},
    })
    return fresh_harness


def resolve_gateway(harness, tmp_path, *extra):
    play = tmp_path / "gateway.yml"
    play.write_text(GATEWAY_PLAY)
    result = tmp_path / "gateway.json"
    run = harness.playbook(play, "-e", f"result_file={result}", "-e", f"mesh_minikube_profile={PROFILE}", *extra, timeout=120)
    return json.loads(result.read_text()), run


def test_plain_linux_docker_gets_the_node_port(gateway_cluster, tmp_path):
    set_host(gateway_cluster.dir, "linux-docker")
    service = gateway_cluster.client.get("/api/v1/namespaces/istio-system/services/istio-ingressgateway")
    node_port = service["spec"]["ports"][0]["nodePort"]
    chosen, run = resolve_gateway(gateway_cluster, tmp_path)
    assert chosen["mode"] == "nodeport", run.stdout
    assert chosen["url"] == f"http://192.168.49.2:{node_port}"
    assert "runs as root" in chosen["reason"]
    assert "Gateway mode nodeport: the docker engine runs as root" in run.stdout


@pytest.mark.parametrize("host", PORT_FORWARD_HOSTS)
def test_port_forward_hosts_do_not_get_the_unreachable_node_ip(gateway_cluster, tmp_path, host):
    set_host(gateway_cluster.dir, host)
    # A given URL keeps the play from starting the port-forward (test_demo_in_port_forward_mode_... runs it), but the
    # role still says what auto chooses on this host, and why.
    chosen, run = resolve_gateway(gateway_cluster, tmp_path, "-e", "bookinfo_gateway_url=http://127.0.0.1:9")
    assert chosen["mode"] == "given"
    assert "auto would choose port-forward" in chosen["reason"], chosen
    expected = {"darwin-docker-desktop": "Docker Desktop on Linux", "linux-docker-desktop": "Docker Desktop on Linux",
                "linux-rootless": "rootless"}[host]
    # The controller runs on Linux here, so the darwin profile is told apart by its engine (Docker Desktop), as
    # minikube would on a Linux client talking to Docker Desktop.
    assert expected in chosen["reason"], chosen
    assert fake_docker.HOST_PROFILES[host]["needs_port_forward"]
    # minikube's `service --url` blocks on these hosts: the role must never call it.
    calls = [json.loads(line)["args"] for line in open(os.path.join(gateway_cluster.dir, "cli-calls.jsonl"), encoding="utf-8")]
    assert not [args for args in calls if args[:1] == ["service"]], calls


def test_port_forward_mode_writes_its_pid_file_under_a_tilde_path(gateway_cluster, tmp_path):
    """The default pid file is under ~/.cache: the shell that starts kubectl must get it expanded, or it cannot
    write there and the port-forward mode (every port-forward host's default) fails before kubectl runs."""
    play = tmp_path / "gateway.yml"
    play.write_text(GATEWAY_PLAY)
    home = tmp_path / "home"
    home.mkdir()
    env = dict(gateway_cluster.env, HOME=str(home), ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    run = subprocess.run(
        [os.path.join(VENV_BIN, "ansible-playbook"), str(play), "-e", f"result_file={tmp_path / 'gateway.json'}",
         "-e", f"mesh_minikube_profile={PROFILE}", "-e", "bookinfo_gateway_mode=port-forward",
         "-e", "bookinfo_port_forward_pid_file=~/.cache/istiolab-mesh/run/bookinfo-port-forward.pid"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    # kubectl itself ran (its pid and log are where the role looks), whatever the emulator then answered.
    pid_file = home / ".cache" / "istiolab-mesh" / "run" / "bookinfo-port-forward.pid"
    assert pid_file.is_file() and pid_file.read_text().strip().isdigit(), run.stdout[-3000:]
    assert "Directory nonexistent" not in run.stdout, run.stdout[-3000:]
    assert not (tmp_path / "~").exists() and not os.path.exists(os.path.join(REPO, "~"))


# ---- a runtime-only machine: what `make demo` leaves (requirements.txt in .venv), no test tools on PATH -------------

def runtime_distributions(requirements=os.path.join(REPO, "requirements.txt")):
    """The distributions requirements.txt installs, with everything they require (markers evaluated here)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    wanted, seen = [], set()
    with open(requirements, encoding="utf-8") as handle:
        wanted = [Requirement(line.split("#")[0].strip()) for line in handle if line.split("#")[0].strip()]
    while wanted:
        requirement = wanted.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue
        wanted.extend(Requirement(text) for text in distribution.requires or [])
    return seen


def runtime_bin(directory):
    """A directory with links to the venv's python and to the executables of the runtime distributions only."""
    from importlib import metadata

    os.makedirs(directory, exist_ok=True)
    names = runtime_distributions()
    venv_bin = os.path.realpath(VENV_BIN)
    for distribution in metadata.distributions():
        if distribution.metadata["Name"].lower().replace("_", "-") not in names:
            continue
        for file in distribution.files or []:
            path = os.path.realpath(str(distribution.locate_file(file)))
            if os.path.dirname(path) == venv_bin and not os.path.exists(os.path.join(directory, os.path.basename(path))):
                os.symlink(path, os.path.join(directory, os.path.basename(path)))
    for name in ("python", "python3"):
        os.symlink(sys.executable, os.path.join(directory, name))
    return directory


# What a fresh machine does not have: this one may (a kubectl in /usr/bin would hide defect 2).
NOT_ON_A_FRESH_MACHINE = {"kubectl", "minikube", "istioctl", "docker", "podman", "helm", "kind", "python", "pytest"}


def system_bin(directory):
    """/usr/bin and /bin as links, without the cluster and test tools a fresh machine lacks."""
    os.makedirs(directory, exist_ok=True)
    for top in ("/usr/bin", "/bin"):
        for name in sorted(os.listdir(top)):
            target = os.path.join(directory, name)
            if name not in NOT_ON_A_FRESH_MACHINE and not os.path.lexists(target):
                os.symlink(os.path.join(top, name), target)
    return directory


def runtime_path(tmp_path, runtime=True):
    """tests/harness/bin (the fakes), the runtime entry points (or only python), the system's own tools."""
    from tests.harness.apiserver import lifecycle

    if runtime:
        tools = runtime_bin(str(tmp_path / "runtime-bin"))
    else:
        tools = str(tmp_path / "python-bin")
        os.makedirs(tools)
        os.symlink(sys.executable, os.path.join(tools, "python"))
    return os.pathsep.join([lifecycle.BIN_DIR, tools, system_bin(str(tmp_path / "system-bin"))])


def test_the_runtime_requirements_bring_kubectl_and_leave_the_test_tools_out(tmp_path):
    directory = runtime_bin(str(tmp_path / "runtime-bin"))
    present = set(os.listdir(directory))
    assert {"ansible-playbook", "kubectl"} <= present, sorted(present)
    assert not present & {"pytest", "molecule", "ansible-lint", "yamllint", "antsibull-changelog"}, sorted(present)


def test_preflight_names_kubectl_when_a_port_forward_needs_it_and_it_is_missing(tmp_path):
    with OfflineDemo(tmp_path / "demo", path=runtime_path(tmp_path, runtime=False), telemetry_port_forward=True) as demo:
        run = demo.run(FULL_DEMO, "--tags", "preflight", timeout=180)
    assert run.returncode != 0, run.explain()
    message = run.failure_message()
    assert "kubectl (kubectl) does not run here" in message and "the telemetry dashboards" in message, message
    assert "Install kubectl" in message and "requirements.txt" in message, message


def test_full_demo_runs_with_only_the_runtime_requirements_on_path(tmp_path):
    with OfflineDemo(tmp_path / "demo", path=runtime_path(tmp_path), telemetry_port_forward=True) as demo:
        preflight = demo.run(FULL_DEMO, "--tags", "preflight", timeout=180)
        assert preflight.returncode == 0, preflight.explain()
        assert preflight.task("Report a missing kubectl.").skipped, preflight.explain()
        # The whole demo (the port-forwards stay off: nothing answers them offline; see _demo.OfflineDemo.variables).
        demo.write_vars(telemetry_port_forward=False)
        run = demo.run(FULL_DEMO, timeout=400)
    assert run.returncode == 0 and run.failures == 0, run.explain()
    assert any(line.startswith("Verified productpage through the gateway: passed") for line in run.lines(SUMMARY_TASK))


# ---- memory: sized from the enabled components and what Docker offers ---------------------------------------------

def preflight_report(run):
    """The first preflight report of the run (the minikube role's verify prints a second one, of its version check)."""
    task = next(t for t in run.tasks if t.name.endswith(" : Print the preflight report."))
    value = task.result.get("msg", [])
    return "\n".join(map(str, value if isinstance(value, list) else [value]))


FULL_MINIMUM = 2048 + 2048 + 1536 + 2048 + 4096  # kubernetes, istio, bookinfo, observability, elk (preflight defaults)


def test_a_16_gb_laptop_gets_a_cluster_that_fits_with_a_warning(tmp_path):
    """Rootless Docker on a 16 GB laptop offers 15660 MiB: the old fixed 16384 MB made minikube exit RSRC_OVER_ALLOC_MEM."""
    with OfflineDemo(tmp_path / "demo", mesh_elk_enabled=True) as demo:
        set_host(demo.dir, "linux-rootless")
        run = demo.run(FULL_DEMO, "--tags", "preflight,minikube", timeout=240)
        assert run.returncode == 0, run.explain()
        offered = fake_docker.HOST_PROFILES["linux-rootless"]["mem_total"] // 1048576
        size = offered - 1024
        assert demo.profiles()["istiolab"]["config"]["Memory"] == size
        report = preflight_report(run)
        assert f"minikube_memory=auto gives the cluster {size} MB, below the recommended size" in report, report
        assert f"the Docker engine offers {offered} MB" in report and f"at least {FULL_MINIMUM} MB" in report, report
        assert "BLOCKING" not in report, report


def test_too_little_docker_memory_is_refused_with_the_numbers(tmp_path):
    with OfflineDemo(tmp_path / "demo", mesh_elk_enabled=True) as demo:
        demo.set_faults({"docker": {"mem_total": 8 * 1024**3}})
        run = demo.run(FULL_DEMO, "--tags", "preflight,minikube", timeout=240)
        assert run.returncode != 0, run.explain()
        message = run.failure_message()
        assert "minikube_memory=auto cannot fit the cluster: the Docker engine offers 8192 MB" in message, message
        assert f"at least {FULL_MINIMUM} MB" in message and f"Give Docker at least {FULL_MINIMUM + 1024} MB" in message, message
        assert demo.profiles() == {}


def test_an_explicit_memory_is_kept(tmp_path):
    with OfflineDemo(tmp_path / "demo", mesh_minikube_memory=9000) as demo:
        run = demo.run(FULL_DEMO, "--tags", "preflight,minikube", timeout=240)
        assert run.returncode == 0, run.explain()
        assert demo.profiles()["istiolab"]["config"]["Memory"] == 9000


# ---- the default demo on each host ------------------------------------------------------------------------------

@pytest.mark.parametrize("host", sorted(fake_docker.HOST_PROFILES))
def test_default_demo_on_each_host(tmp_path, host):
    """The default demo (the offline variables only point it at the fakes) passes on every host profile, sizes the
    cluster to what that host's Docker offers, and says how auto reaches the gateway there. The gateway stand-in's
    URL is given, so the mode is reported, not used (test_demo_in_port_forward_mode_... uses the port-forward)."""
    with OfflineDemo(tmp_path / "demo") as demo:
        set_host(demo.dir, host)
        run = demo.run(FULL_DEMO, timeout=480)
        assert run.returncode == 0 and run.failures == 0, run.explain()
        summary = run.lines(SUMMARY_TASK)
        assert any(line.startswith("Verified productpage through the gateway: passed") for line in summary), summary
        expected = "port-forward" if fake_docker.HOST_PROFILES[host]["needs_port_forward"] else "nodeport"
        mode = run.task("Report the gateway mode and why it was chosen.")
        assert mode is not None and f"auto would choose {expected}:" in mode.msg, run.explain()
        offered = fake_docker.engine_settings(demo.dir)["mem_total"] // 1048576
        # ELK is off offline: kubernetes, istio, bookinfo, observability, plus the spare, or what Docker offers.
        assert demo.profiles()["istiolab"]["config"]["Memory"] == min(7680 + 4096, offered - 1024)
        calls = demo.calls()
        assert not [c for c in calls if c["cli"] == "minikube" and c["args"][:1] == ["service"]], calls
        # One `docker info` a run: preflight asks, and the bookinfo role decides the mode above from that answer.
        engine = [c for c in calls if c["cli"] == "docker" and c["args"][:1] == ["info"]]
        assert len(engine) == 1, engine


def test_the_minikube_role_alone_sizes_auto_memory_itself(tmp_path):
    """--tags minikube (no preflight in the play), as the minikube molecule scenario converges the role alone."""
    with OfflineDemo(tmp_path / "demo") as demo:
        set_host(demo.dir, "linux-rootless")
        run = demo.run(FULL_DEMO, "--tags", "minikube", timeout=240)
        assert run.returncode == 0, run.explain()
        assert run.task("Publish the memory the minikube role gives the cluster.") is not None, run.explain()
        assert demo.profiles()["istiolab"]["config"]["Memory"] == 7680 + 4096


# ---- the port-forward mode, end to end through the emulator's pods/portforward ----------------------------------

def test_demo_in_port_forward_mode_reaches_the_gateway_through_kubectl(tmp_path):
    """bookinfo_gateway_mode=port-forward with no URL given: the role starts the real kubectl port-forward (its pid file
    under a ~ path), and every probe of the demo goes through it to the gateway stand-in."""
    home = tmp_path / "home"
    home.mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        local_port = sock.getsockname()[1]
    with OfflineDemo(tmp_path / "demo", bookinfo_gateway_url="", bookinfo_gateway_mode="port-forward",
                     bookinfo_port_forward_port=local_port,
                     bookinfo_port_forward_pid_file="~/.cache/istiolab-mesh/run/bookinfo-port-forward.pid") as demo:
        demo.harness.env["HOME"] = str(home)
        set_host(demo.dir, "linux-rootless")
        before = demo.client.request("GET", "/_harness/stats")["by_verb"].get("get/portforward", 0)
        run = demo.run(FULL_DEMO, timeout=480)
        upgrades = demo.client.request("GET", "/_harness/stats")["by_verb"].get("get/portforward", 0) - before
    assert run.returncode == 0 and run.failures == 0, run.explain()
    mode = run.task("Report the gateway mode and why it was chosen.")
    assert mode is not None and "Gateway mode port-forward: bookinfo_gateway_mode=port-forward was asked for" in mode.msg, run.explain()
    summary = run.lines(SUMMARY_TASK)
    assert any(line.startswith("Verified productpage through the gateway: passed") for line in summary), summary
    assert any(f"http://127.0.0.1:{local_port}" in line for line in summary), summary
    # One kubectl port-forward, over the WebSocket tunnel (a GET upgrade), carried the probes.
    assert upgrades == 1, run.explain()
    run_dir = home / ".cache" / "istiolab-mesh" / "run"
    assert (run_dir / "bookinfo-port-forward.pid").read_text().strip().isdigit()
    log = (run_dir / "bookinfo-port-forward.pid.log").read_text()
    assert f"Forwarding from 127.0.0.1:{local_port} -> 8080" in log and f"Handling connection for {local_port}" in log, log
