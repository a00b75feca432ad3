"""A fake ``minikube`` CLI for the offline cluster: the sub-commands the minikube modules run.

State lives in ``$MESH_HARNESS_DIR/minikube/profiles.json`` (one entry per profile: its
ClusterConfig as ``profile list -o json`` prints it, its state and its addons). ``start`` also
creates the profile's Node objects in the API emulator and a kubeconfig context named after the
profile in ``$KUBECONFIG``, as the real ``minikube start`` does (the cluster CA and the profile's own client
certificate ``$MESH_HARNESS_DIR/.minikube/profiles/<profile>/client.crt`` by path); ``delete`` removes them.

Failures are injected with ``$MESH_HARNESS_DIR/faults.json``::

    {"minikube": {"start": "no_docker"}}            PROVIDER_DOCKER_NOT_RUNNING, exit code 63
    {"minikube": {"start": "insufficient_memory"}}  RSRC_INSUFFICIENT_CONTAINER_MEMORY, exit code 23

The host comes from ``$MESH_HARNESS_DIR/host.json`` (fake_docker.HOST_PROFILES): ``start`` refuses more
memory than the fake Docker engine's MemTotal (RSRC_OVER_ALLOC_MEM, exit code 23), and on the hosts where
minikube's docker driver needs a port-forward (Docker Desktop, rootless) the node IP is unreachable and
``service --url`` behaves as the real tunnel does: it prints a 127.0.0.1 URL where nothing listens and
blocks until it is killed.

Every invocation is recorded with ``client.record_call("minikube", argv)``. Standard library only, but for
the ``cryptography`` package that signs a profile's client certificate.
See fake_minikube.md for each sub-command and the upstream reference of its output format.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
import uuid

from tests.harness import client, fake_docker

COMMIT = "65318f4cfff9c12cc87ec9eb8f4cdd57b25047f3"
DEFAULT_PROFILE = "minikube"
DEFAULT_KUBERNETES = "v1.34.0"
KICBASE = "gcr.io/k8s-minikube/kicbase:v0.0.48"
# The docker driver gives each profile its own network: 192.168.49.0/24, then 58, 67, ...
SUBNETS = (49, 58, 67, 76, 85, 94, 103, 112)
ADDONS = {
    "ambassador": False, "dashboard": False, "default-storageclass": True, "ingress": False, "ingress-dns": False,
    "istio": False, "istio-provisioner": False, "metallb": False, "metrics-server": False, "registry": False,
    "storage-provisioner": True,
}

EX_GUEST_ERROR = 80
EX_GUEST_NOT_FOUND = 85
EX_GUEST_UNAVAILABLE = 89
EX_PROVIDER_NOT_RUNNING = 63
EX_INSUFFICIENT_MEMORY = 23
EX_PROGRAM_ERROR = 10
EX_SVC_NOT_FOUND = 115
EX_SVC_UNAVAILABLE = 119

_FLAGS_WITH_VALUES = {"-p", "--profile", "-o", "--output", "-n", "--namespace"}


class Args:
    """The words of one invocation: sub-command words, the profile, the output format and --flags."""

    def __init__(self, argv):
        self.words, self.flags = [], {}
        i = 0
        while i < len(argv):
            word = argv[i]
            if word.startswith("-"):
                name, has_value, value = word.partition("=")
                if not has_value and name in _FLAGS_WITH_VALUES and i + 1 < len(argv):
                    value, i = argv[i + 1], i + 1
                elif not has_value:
                    value = "true"
                self.flags.setdefault(_canonical(name), []).append(value)
            else:
                self.words.append(word)
            i += 1
        self.profile = self.flag("profile", DEFAULT_PROFILE)
        self.json = self.flag("output", "text").lower() == "json"

    def flag(self, name, default=None):
        values = self.flags.get(name)
        return values[-1] if values else default


def version():
    """The fake's own version: $FAKE_MINIKUBE_VERSION, else the project's pin."""
    return client.pinned_version("mesh_minikube_version", "FAKE_MINIKUBE_VERSION")


def _canonical(name):
    return {"-p": "profile", "-o": "output", "-n": "namespace"}.get(name, name.lstrip("-"))


class Fail(Exception):
    def __init__(self, code, text, stream="stderr"):
        super().__init__(text)
        self.code, self.text, self.stream = code, text, stream


def _state_dir():
    root = os.environ.get("MESH_HARNESS_DIR")
    if not root:
        raise Fail(1, "fake minikube: MESH_HARNESS_DIR is not set; start the harness with `python -m tests.harness up`\n")
    return os.path.join(root, "minikube")


def _profiles_file():
    return os.path.join(_state_dir(), "profiles.json")


def load_profiles():
    """The profiles, or ``None`` when minikube never created its profiles directory."""
    try:
        with open(_profiles_file(), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def save_profiles(profiles):
    os.makedirs(_state_dir(), exist_ok=True)
    tmp = _profiles_file() + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(profiles, handle, indent=1, sort_keys=True)
    os.replace(tmp, _profiles_file())


def _event(kind, data):
    return json.dumps({
        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "https://minikube.sigs.k8s.io/",
        "type": "io.k8s.sigs.minikube." + kind, "datacontenttype": "application/json", "data": data,
    }, separators=(",", ":"))


def _not_found(profile):
    return Fail(
        EX_GUEST_NOT_FOUND,
        '* Profile "%s" not found. Run "minikube profile list" to view all profiles.\n'
        '  - To start a cluster, run: "%s"\n' % (profile, _example(profile, "start")),
        stream="stdout",
    )


def _example(profile, action):
    return "minikube %s" % action if profile == DEFAULT_PROFILE else "minikube %s -p %s" % (action, profile)


def _existing(args):
    profile = (load_profiles() or {}).get(args.profile)
    if profile is None:
        raise _not_found(args.profile)
    return profile


def _must_run(args, profile):
    if profile["state"] == "Stopped":
        raise Fail(
            EX_GUEST_UNAVAILABLE,
            "* The control plane node must be running for this command\n"
            '  - To start a cluster, run: "%s"\n' % _example(args.profile, "start"),
            stream="stdout",
        )


# --- version, profile list, status -----------------------------------------------------------------

def cmd_version(args):
    if args.json:
        return json.dumps({"commit": COMMIT, "minikubeVersion": version()}) + "\n"
    if args.flag("short") == "true":
        return version() + "\n"
    return "minikube version: %s\ncommit: %s\n" % (version(), COMMIT)


_PROFILE_STATUS = {"Running": "OK", "Stopped": "Stopped", "Paused": "Paused"}


def cmd_profile_list(args):
    profiles = load_profiles()
    if profiles is None and args.json:
        path = os.path.join(os.path.expanduser("~"), ".minikube", "profiles")
        raise Fail(EX_GUEST_ERROR, json.dumps({"error": {"Op": "open", "Path": path, "Err": 2}}) + "\n", stream="stdout")
    entries = [
        {"Name": name, "Status": _PROFILE_STATUS[p["state"]], "Config": p["config"], "Active": name == DEFAULT_PROFILE, "ActiveKubeContext": False}
        for name, p in sorted((profiles or {}).items())
    ]
    if args.json:
        return json.dumps({"invalid": [], "valid": entries}, separators=(",", ":")) + "\n"
    if not entries:
        raise Fail(14, "* Exiting due to MK_USAGE_NO_PROFILE: No minikube profile was found.\n")
    rows = [("Profile", "Driver", "Runtime", "IP", "Version", "Status", "Nodes")] + [
        (e["Name"], e["Config"]["Driver"], e["Config"]["KubernetesConfig"]["ContainerRuntime"], e["Config"]["Nodes"][0]["IP"],
         e["Config"]["KubernetesConfig"]["KubernetesVersion"], e["Status"], str(len(e["Config"]["Nodes"])))
        for e in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    line = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    text = [line] + ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows[:1]] + [line]
    text += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows[1:]] + [line]
    return "\n".join(text) + "\n"


def node_statuses(name, profile):
    state = profile["state"]
    statuses = []
    for i, node in enumerate(profile["config"]["Nodes"]):
        node_name = name if i == 0 else "%s-m%02d" % (name, i + 1)
        status = {"Name": node_name, "Host": "Running", "Kubelet": "Running", "APIServer": "Running", "Kubeconfig": "Configured", "Worker": i > 0}
        if state == "Stopped":
            status.update(Host="Stopped", Kubelet="Stopped", APIServer="Stopped", Kubeconfig="Stopped")
        elif state == "Paused":
            status.update(Kubelet="Stopped", APIServer="Paused")
        if i > 0:
            status.update(APIServer="Irrelevant", Kubeconfig="Irrelevant")
        statuses.append(status)
    return statuses


def status_exit_code(statuses):
    code = 0
    for st in statuses:
        if st["Host"] != "Running":
            code |= 1
        if (st["APIServer"] not in ("Running", "Irrelevant")) or st["Kubelet"] != "Running":
            code |= 2
        if st["Kubeconfig"] not in ("Configured", "Irrelevant"):
            code |= 4
    return code


def cmd_status(args):
    profile = _existing(args)
    statuses = node_statuses(args.profile, profile)
    if args.json:
        body = statuses[0] if len(statuses) == 1 else statuses
        text = json.dumps(body, separators=(",", ":"))
    else:
        parts = []
        for st in statuses:
            if st["Worker"]:
                parts.append("%s\ntype: Worker\nhost: %s\nkubelet: %s\n" % (st["Name"], st["Host"], st["Kubelet"]))
            else:
                parts.append("%s\ntype: Control Plane\nhost: %s\nkubelet: %s\napiserver: %s\nkubeconfig: %s\n" % (
                    st["Name"], st["Host"], st["Kubelet"], st["APIServer"], st["Kubeconfig"]))
        text = "\n".join(parts) + "\n"
    code = status_exit_code(statuses)
    if code:
        raise Fail(code, text, stream="stdout")
    return text


# --- start, stop, pause, unpause, delete -------------------------------------------------------------

def _size_mb(value, default):
    if value is None:
        return default
    text = value.strip().lower().rstrip("b").rstrip("i")
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text))


def _new_config(args, name, profiles):
    used = {p["config"]["Nodes"][0]["IP"] for p in profiles.values()}
    subnet = next(s for s in SUBNETS if "192.168.%d.2" % s not in used)
    version = args.flag("kubernetes-version", DEFAULT_KUBERNETES)
    version = version if version.startswith("v") else "v" + version
    runtime = args.flag("container-runtime", "docker")
    runtime = "crio" if runtime == "cri-o" else runtime
    extra = []
    for item in args.flags.get("extra-config", []):
        key, value = item.split("=", 1) if "=" in item else (item, "")
        component, option = key.split(".", 1) if "." in key else (key, "")
        extra.append({"Component": component, "Key": option, "Value": value})
    nodes = [
        {"Name": "" if i == 0 else "m%02d" % (i + 1), "IP": "192.168.%d.%d" % (subnet, i + 2), "Port": 8443 if i == 0 else 0,
         "KubernetesVersion": version, "ContainerRuntime": runtime, "ControlPlane": i == 0, "Worker": True}
        for i in range(int(args.flag("nodes", "1")))
    ]
    return {
        "Name": name, "KeepContext": False, "EmbedCerts": False, "MinikubeISO": "", "KicBaseImage": KICBASE,
        "Memory": _size_mb(args.flag("memory"), 6144), "CPUs": int(args.flag("cpus", "2")),
        "DiskSize": _size_mb(args.flag("disk-size"), 20000), "Driver": args.flag("driver", "docker"),
        "KubernetesConfig": {
            "KubernetesVersion": version, "ClusterName": name, "Namespace": "default", "APIServerName": "minikubeCA",
            "DNSDomain": "cluster.local", "ContainerRuntime": runtime, "NetworkPlugin": "cni",
            "ServiceCIDR": "10.96.0.0/12", "ExtraOptions": extra or None,
        },
        "Nodes": nodes,
        "Addons": {},
    }


def _node_object(name, index, config):
    node = config["Nodes"][index]
    node_name = name if index == 0 else "%s-%s" % (name, node["Name"])
    labels = {
        "kubernetes.io/hostname": node_name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "minikube.k8s.io/name": name, "minikube.k8s.io/version": version(),
        "minikube.k8s.io/primary": "true" if index == 0 else "false",
    }
    if index == 0:
        labels["node-role.kubernetes.io/control-plane"] = ""
    runtime = {"docker": "docker://28.4.0", "containerd": "containerd://1.7.27", "crio": "cri-o://1.29.1"}.get(
        node["ContainerRuntime"], node["ContainerRuntime"])
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node_name, "labels": labels},
        "spec": {"podCIDR": "10.244.%d.0/24" % index},
        "status": {
            "addresses": [{"type": "InternalIP", "address": node["IP"]}, {"type": "Hostname", "address": node_name}],
            "capacity": {"cpu": str(config["CPUs"]), "memory": "%dMi" % config["Memory"], "pods": "110"},
            "allocatable": {"cpu": str(config["CPUs"]), "memory": "%dMi" % config["Memory"], "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
            "nodeInfo": {
                "kubeletVersion": node["KubernetesVersion"], "kubeProxyVersion": node["KubernetesVersion"],
                "containerRuntimeVersion": runtime, "operatingSystem": "linux", "architecture": "amd64",
                "osImage": "Ubuntu 22.04.5 LTS",
            },
        },
    }


def _register_cluster(name, config):
    api = client.HarnessClient.from_env()
    for index in range(len(config["Nodes"])):
        api.apply(_node_object(name, index, config))
    _set_context(name)


def _set_context(name):
    """The profile's context, with its own client pair signed by the cluster CA (made at the first start, as minikube
    does in $MINIKUBE_HOME/.minikube/profiles/<name>/); the fake's MINIKUBE_HOME is the harness directory."""
    from tests.harness.apiserver import certs  # pylint: disable=import-outside-toplevel  # needs `cryptography`
    cert, key = certs.ensure_client(os.environ["MESH_HARNESS_DIR"], name)
    client.set_kube_context(name, client_cert=cert, client_key=key)


def _unregister_cluster(name, config):
    api = client.HarnessClient.from_env()
    for index in range(len(config["Nodes"])):
        node_name = name if index == 0 else "%s-%s" % (name, config["Nodes"][index]["Name"])
        api.delete("/api/v1/nodes/%s" % node_name)
    client.remove_kube_context(name)
    from tests.harness.apiserver import certs  # pylint: disable=import-outside-toplevel
    shutil.rmtree(certs.profile_dir(os.environ["MESH_HARNESS_DIR"], name), ignore_errors=True)


def _start_failure(args, fault):
    if fault == "no_docker":
        reason, code, advice = "PROVIDER_DOCKER_NOT_RUNNING", EX_PROVIDER_NOT_RUNNING, "Start the Docker service"
        message = ('"docker version --format {{.Server.Os}}-{{.Server.Version}}:{{.Server.Platform.Name}}" exit status 1: '
                   "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
        url = "https://minikube.sigs.k8s.io/docs/drivers/docker/"
    elif fault == "insufficient_memory":
        reason, code, advice, url = "RSRC_INSUFFICIENT_CONTAINER_MEMORY", EX_INSUFFICIENT_MEMORY, "", ""
        message = "docker only has 1024MiB available, less than the required 1800MiB for Kubernetes"
    else:
        raise Fail(2, "fake minikube: unknown start fault %r in faults.json (known: no_docker, insufficient_memory)\n" % fault)
    if args.json:
        setup = "[%s] minikube %s on Debian 12" % (args.profile, version())
        lines = [
            _event("step", {"currentstep": "0", "message": setup, "name": "Initial Minikube Setup", "totalsteps": "19"}),
            _event("step", {"currentstep": "1", "message": "Using the docker driver based on user configuration",
                            "name": "Selecting Driver", "totalsteps": "19"}),
            _event("error", {"advice": advice, "exitcode": str(code), "issues": "", "message": message, "name": reason, "url": url}),
        ]
        raise Fail(code, "\n".join(lines) + "\n", stream="stdout")
    text = "\nX Exiting due to %s: %s\n" % (reason, message)
    if advice:
        text += "* Suggestion: %s\n" % advice
    if url:
        text += "* Documentation: %s\n" % url
    raise Fail(code, text)


def _check_memory(args):
    """minikube's validateRequestedMemorySize for the docker driver: no more than the engine's MemTotal."""
    requested = args.flag("memory")
    if requested is None or args.flag("driver", "docker") != "docker":
        return
    limit = fake_docker.engine_settings()["mem_total"] // (1024 * 1024)
    wanted = _size_mb(requested, 0)
    if wanted <= limit:
        return
    message = "Requested memory allocation %dMB is more than your system limit %dMB." % (wanted, limit)
    if args.json:
        raise Fail(EX_INSUFFICIENT_MEMORY, _event("error", {
            "advice": "Start minikube with less memory allocated: 'minikube start --memory=%dmb'" % limit,
            "exitcode": str(EX_INSUFFICIENT_MEMORY), "issues": "", "message": message, "name": "RSRC_OVER_ALLOC_MEM", "url": "",
        }) + "\n", stream="stdout")
    raise Fail(EX_INSUFFICIENT_MEMORY, "\nX Exiting due to RSRC_OVER_ALLOC_MEM: %s\n" % message)


def cmd_start(args):
    fault = client.cli_faults("minikube").get("start")
    if fault:
        _start_failure(args, fault)
    profiles = load_profiles() or {}
    name = args.profile
    existing = profiles.get(name)
    if existing is None:
        _check_memory(args)
    steps = [("Initial Minikube Setup", "[%s] minikube %s on Debian 12" % (name, version()))]
    if existing is None:
        existing = {"config": _new_config(args, name, profiles), "addons": dict(ADDONS)}
        config = existing["config"]
        steps.append(("Selecting Driver", "Using the %s driver based on user configuration" % config["Driver"]))
        steps.append(("Creating Container", "Creating %s container (CPUs=%d, Memory=%dMB) ..." % (config["Driver"], config["CPUs"], config["Memory"])))
    else:
        config = existing["config"]
        steps.append(("Selecting Driver", "Using the %s driver based on existing profile" % config["Driver"]))
        for flag, key, label in (("cpus", "CPUs", "CPUs"), ("memory", "Memory", "memory size")):
            requested = args.flag(flag)
            if requested is not None and config[key] != (_size_mb(requested, 0) if flag == "memory" else int(requested)):
                steps.append(("Selecting Driver", "You cannot change the %s for an existing minikube cluster. Please first delete the cluster." % label))
        steps.append(("Starting Node", 'Restarting existing %s container for "%s" ...' % (config["Driver"], name)))
    existing["state"] = "Running"
    profiles[name] = existing
    save_profiles(profiles)
    _register_cluster(name, config)
    steps.append(("Done", 'Done! kubectl is now configured to use "%s" cluster and "default" namespace by default' % name))
    if args.json:
        return "".join(_event("step", {"currentstep": str(i), "message": message, "name": step, "totalsteps": "19"}) + "\n"
                       for i, (step, message) in enumerate(steps))
    return "".join("* %s\n" % message for _step, message in steps)


def _set_state(args, state):
    profiles = load_profiles() or {}
    profile = profiles.get(args.profile)
    if profile is None:
        raise _not_found(args.profile)
    _must_run(args, profile)
    profile["state"] = state
    save_profiles(profiles)


def cmd_stop(args):
    profile = _existing(args)
    count = len(profile["config"]["Nodes"])
    if profile["state"] == "Stopped":
        return '* Profile "%s" is already stopped.\n* %d node stopped.\n' % (args.profile, 0)
    _set_state(args, "Stopped")
    return '* Stopping node "%s"  ...\n* Powering off "%s" via SSH ...\n* %d node%s stopped.\n' % (
        args.profile, args.profile, count, "" if count == 1 else "s")


def cmd_pause(args):
    _set_state(args, "Paused")
    return "* Pausing node %s ... \n* Paused 14 containers in: kube-system, kubernetes-dashboard, istio-system\n" % args.profile


def cmd_unpause(args):
    _set_state(args, "Running")
    return "* Unpausing node %s ... \n* Unpaused 14 containers in: kube-system, kubernetes-dashboard, istio-system\n" % args.profile


def cmd_delete(args):
    profiles = load_profiles() or {}
    profile = profiles.pop(args.profile, None)
    if profile is None:
        return ('* Profile "%s" not found. Run "minikube profile list" to view all profiles.\n'
                '* Removed all traces of the "%s" cluster.\n' % (args.profile, args.profile))
    save_profiles(profiles)
    _unregister_cluster(args.profile, profile["config"])
    return ('* Deleting "%s" in docker ...\n* Removing %s/.minikube/machines/%s ...\n* Removed all traces of the "%s" cluster.\n'
            % (args.profile, os.path.expanduser("~"), args.profile, args.profile))


# --- ip, update-context, addons, service -------------------------------------------------------------

def cmd_ip(args):
    profile = _existing(args)
    _must_run(args, profile)
    return profile["config"]["Nodes"][0]["IP"] + "\n"


def cmd_update_context(args):
    profile = _existing(args)
    _must_run(args, profile)
    _set_context(args.profile)
    return '* "%s" context has been updated to point to %s:8443\n* Current context is "%s"\n' % (
        args.profile, profile["config"]["Nodes"][0]["IP"], args.profile)


def cmd_addons(args):
    action = args.words[1] if len(args.words) > 1 else "list"
    profiles = load_profiles() or {}
    profile = profiles.get(args.profile)
    if profile is None:
        raise _not_found(args.profile)
    if action == "list":
        if args.json:
            return json.dumps({name: {"Profile": args.profile, "Status": "enabled" if on else "disabled"}
                               for name, on in sorted(profile["addons"].items())}, separators=(",", ":")) + "\n"
        return "".join("- %s: %s\n" % (name, "enabled" if on else "disabled") for name, on in sorted(profile["addons"].items()))
    if action not in ("enable", "disable") or len(args.words) < 3:
        raise Fail(14, "X Exiting due to MK_USAGE: usage: minikube addons enable|disable ADDON_NAME\n")
    name = args.words[2]
    if name not in profile["addons"]:
        raise Fail(EX_PROGRAM_ERROR, "X Exiting due to MK_ADDON_%s: %s failed: run callbacks: %s is not a valid addon\n" % (
            action.upper(), action, name))
    profile["addons"][name] = action == "enable"
    profile["config"]["Addons"][name] = action == "enable"
    save_profiles(profiles)
    if action == "enable":
        return "* The '%s' addon is enabled\n" % name
    return "* \"The '%s' addon is disabled\"\n" % name


def cmd_service(args):
    if len(args.words) < 2:
        raise Fail(14, "X Exiting due to MK_USAGE: You must specify a service name\n")
    name, namespace = args.words[1], args.flag("namespace", "default")
    profile = _existing(args)
    _must_run(args, profile)
    service = client.HarnessClient.from_env().get("/api/v1/namespaces/%s/services/%s" % (namespace, name))
    if not service:
        raise Fail(EX_SVC_NOT_FOUND, (
            "X Exiting due to SVC_NOT_FOUND: Service '%s' was not found in '%s' namespace.\n"
            "You may select another namespace by using 'minikube service %s -n <namespace>'. Or list out all the services using 'minikube service list'\n"
        ) % (name, namespace, name))
    ports = [p["nodePort"] for p in (service.get("spec") or {}).get("ports") or [] if p.get("nodePort")]
    if not ports:
        raise Fail(EX_SVC_UNAVAILABLE, "X Exiting due to SVC_UNREACHABLE: service not available: no node port\n")
    ip = profile["config"]["Nodes"][0]["IP"]
    host = fake_docker.host_profile_name()
    if fake_docker.HOST_PROFILES[host]["needs_port_forward"] and profile["config"]["Driver"] == "docker":
        _block_like_a_tunnel(host, ports)
    if args.flag("url") == "true":
        return "".join("http://%s:%d\n" % (ip, port) for port in ports)
    return "".join("* Opening service %s/%s in default browser...\nhttp://%s:%d\n" % (namespace, name, ip, port) for port in ports)


def _unused_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _block_like_a_tunnel(host, ports):
    """On a NeedsPortForward host the real `minikube service --url` opens a tunnel, prints its 127.0.0.1 URL and
    keeps running until it is interrupted; this one prints a URL where nothing listens and never returns."""
    system = "darwin" if host.startswith("darwin") else "linux"
    sys.stdout.write("".join("http://127.0.0.1:%d\n" % _unused_port() for _port in ports))
    sys.stdout.flush()
    sys.stderr.write("! Because you are using a Docker driver on %s, the terminal needs to be open to run it.\n" % system)
    sys.stderr.flush()
    while True:
        time.sleep(3600)


COMMANDS = {
    "version": cmd_version, "status": cmd_status, "start": cmd_start, "stop": cmd_stop, "pause": cmd_pause,
    "unpause": cmd_unpause, "delete": cmd_delete, "ip": cmd_ip, "update-context": cmd_update_context,
    "addons": cmd_addons, "service": cmd_service,
}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    client.record_call("minikube", argv)
    args = Args(argv)
    try:
        fake_docker.host_profile_name()
    except fake_docker.UnknownHostProfile as error:
        sys.stderr.write("%s\n" % error)
        return 2
    command = args.words[0] if args.words else ""
    if command == "profile" and args.words[1:2] == ["list"]:
        handler = cmd_profile_list
    else:
        handler = COMMANDS.get(command)
    if handler is None:
        sys.stderr.write('Error: unknown command "%s" for "minikube"\nRun \'minikube --help\' for usage.\n' % command)
        return 1
    try:
        sys.stdout.write(handler(args))
    except Fail as failure:
        (sys.stdout if failure.stream == "stdout" else sys.stderr).write(failure.text)
        return failure.code
    return 0
