"""A fake ``istioctl`` 1.31 for the offline cluster.

It renders a small, deterministic control plane from the profile, ``--set`` values, ``-f`` overlay and
``--revision`` (``manifest generate``), applies it to the API emulator (``install``: Istio's CRDs, istiod,
the gateways, the ``istio`` mesh ConfigMap), removes it (``uninstall``), and reads the emulator back for
``version``, ``proxy-status``, ``analyze`` and ``x precheck``, printing what the real CLI prints (JSON where
it has ``-o json``) with its exit codes. See fake_istioctl.md for each subcommand's upstream reference.

The client version is ``$FAKE_ISTIOCTL_VERSION``, else ``mesh_istio_version`` from
inventory/group_vars/all.yml (the project's pin). Failures come from ``$MESH_HARNESS_DIR/faults.json``
key ``istioctl`` (documented in fake_istioctl.md). Every invocation is recorded with
``client.record_call("istioctl", argv)``. Standard library and PyYAML: PyYAML reads Istio's real CRDs
(``fake_istioctl_crds``) and YAML overlays; without it only ``version`` and JSON overlays work.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys

from tests.harness import client, fake_istioctl_crds

try:
    import yaml
except ImportError:  # the fakes may run under a python3 without the venv
    yaml = None

ISTIO_NAMESPACE = "istio-system"
GIT_REVISION = "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"
GO_VERSION = "go1.25.1"
OWNER = "install.operator.istio.io/owning-resource"
COMPONENT = "operator.istio.io/component"
XDS_TYPES = [("Cluster", "cluster"), ("Listener", "listener"), ("RouteConfiguration", "route"), ("ClusterLoadAssignment", "endpoint")]
UNREACHABLE = 'Get "https://127.0.0.1:8443/version?timeout=32s": dial tcp 127.0.0.1:8443: connect: connection refused'

# What each built-in profile enables, and the mesh config it sets (manifests/profiles/*.yaml).
PROFILES = {
    "default": {"ingress": True, "egress": False, "pilot": True, "mesh": {}},
    "demo": {"ingress": True, "egress": True, "pilot": True, "mesh": {"accessLogFile": "/dev/stdout"}},
    "minimal": {"ingress": False, "egress": False, "pilot": True, "mesh": {}},
    "empty": {"ingress": False, "egress": False, "pilot": False, "mesh": {}},
}

VALUE_FLAGS = {
    "--set": "set",
    "-s": "set",
    "--filename": "filename",
    "-f": "filename",
    "--revision": "revision",
    "-r": "revision",
    "--kubeconfig": "kubeconfig",
    "-c": "kubeconfig",
    "--context": "context",
    "--namespace": "namespace",
    "-n": "namespace",
    "--output": "output",
    "-o": "output",
    "--readiness-timeout": "readiness_timeout",
    "--istioNamespace": "istio_namespace",
    "-i": "istio_namespace",
    "--manifests": "manifests",
    "-d": "manifests",
}
BOOL_FLAGS = {
    "-y": "yes",
    "--skip-confirmation": "yes",
    "--purge": "purge",
    "--all-namespaces": "all_namespaces",
    "-A": "all_namespaces",
    "--force": "force",
    "--dry-run": "dry_run",
    "--remote": "remote",
}
REPEATED = {"set", "filename"}


class Failure(Exception):
    def __init__(self, message, code=1, stdout=""):
        super().__init__(message)
        self.message = message
        self.code = code
        self.stdout = stdout


def _write(stream, text):
    # LC_ALL=C gives Python an ASCII stdout; istioctl prints UTF-8 whatever the locale.
    stream.buffer.write(text.encode("utf-8"))
    stream.flush()


def client_version():
    try:
        return client.pinned_version("mesh_istio_version", "FAKE_ISTIOCTL_VERSION")
    except LookupError as exc:
        raise Failure("fake istioctl: %s" % exc, code=2)


def parse(argv):
    words, opts = [], {"set": [], "filename": []}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, inline = arg.partition("=")
        if name in VALUE_FLAGS:
            if eq:
                value = inline
            else:
                i += 1
                if i >= len(argv):
                    raise Failure("Error: flag needs an argument: %s" % name)
                value = argv[i]
            key = VALUE_FLAGS[name]
            if key in REPEATED:
                opts[key].append(value)
            else:
                opts[key] = value
        elif name in BOOL_FLAGS:
            opts[BOOL_FLAGS[name]] = inline.lower() != "false" if eq else True
        elif arg.startswith("-"):
            raise Failure("Error: unknown flag: %s" % name)
        else:
            words.append(arg)
        i += 1
    return words, opts


def check_cluster(opts, fault):
    """Fail as client-go does when the named context is missing or the cluster is unreachable."""
    if fault.get("unreachable"):
        raise Failure("Error: %s" % UNREACHABLE)
    context = opts.get("context")
    path = opts.get("kubeconfig") or os.environ.get("KUBECONFIG")
    if context and path:
        try:
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError):
            return
        if context not in [item.get("name") for item in config.get("contexts") or []]:
            raise Failure('Error: context "%s" does not exist' % context)


# ---------------------------------------------------------------------------------------------- render


def _set_path(tree, path, value):
    """Set ``a.b[0].c`` in ``tree``, as istioctl's --set does."""
    parts = re.findall(r"([^.\[\]]+)(?:\[(\d+)\])?", path)
    node = tree
    for index, (key, position) in enumerate(parts):
        last = index == len(parts) - 1
        if position:
            items = node.setdefault(key, [])
            position = int(position)
            while len(items) <= position:
                items.append({})
            if last:
                items[position] = value
            else:
                node = items[position]
        elif last:
            node[key] = value
        else:
            node = node.setdefault(key, {})


def _scalar(text):
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _merge(base, overlay):
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _load_overlay(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise Failure("Error: could not read %s: %s" % (path, exc.strerror))
    try:
        document = json.loads(text)
    except ValueError:
        if yaml is None:
            raise Failure("fake istioctl: %s is YAML and PyYAML is not importable here; pass JSON" % path, code=2)
        document = yaml.safe_load(text)
    if not isinstance(document, dict) or document.get("kind") != "IstioOperator":
        raise Failure("Error: could not unmarshal %s: expected kind IstioOperator" % path)
    return document.get("spec") or {}


def operator_spec(opts):
    """The IstioOperator spec istioctl would build: overlays left to right, then --set values."""
    spec = {}
    for path in opts["filename"]:
        _merge(spec, _load_overlay(path))
    for item in opts["set"]:
        key, eq, value = item.partition("=")
        if not eq:
            raise Failure('Error: failed to generate config: --set %s: expected "path=value"' % item)
        _set_path(spec, key, _scalar(value))
    if opts.get("revision"):
        spec["revision"] = opts["revision"]
    profile = spec.get("profile", "default")
    if profile not in PROFILES:
        raise Failure('Error: failed to generate config: profile "%s" not found; known profiles: %s' % (profile, ", ".join(sorted(PROFILES))))
    return spec


def _enabled(spec, kind, default):
    for item in (spec.get("components") or {}).get(kind) or []:
        if isinstance(item, dict) and "enabled" in item:
            return bool(item["enabled"])
    return default


def _labels(component, revision, extra=None):
    labels = {OWNER: "unknown", COMPONENT: component, "istio.io/rev": revision}
    labels.update(extra or {})
    return labels


def _deployment(name, labels, selector, container, image, ports):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ISTIO_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": dict(selector, **{"istio.io/rev": labels["istio.io/rev"]}), "annotations": {"sidecar.istio.io/inject": "false"}},
                "spec": {"containers": [{"name": container, "image": image, "ports": [{"containerPort": p} for p in ports]}]},
            },
        },
    }


def _service(name, labels, selector, ports, kind="ClusterIP"):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ISTIO_NAMESPACE, "labels": labels},
        "spec": {"type": kind, "selector": selector, "ports": [{"name": n, "port": p, "targetPort": t, "protocol": "TCP"} for n, p, t in ports]},
    }


def istio_crds():
    """Istio's real CRDs (crd-all.gen.yaml of the release), labelled as `istioctl install` labels its Base component."""
    if yaml is None:
        raise Failure("Error: the fake istioctl needs PyYAML to read Istio's CRDs (crd-all.gen.yaml); run it with the venv's python")
    try:
        crds = fake_istioctl_crds.load(sys.argv[0] if sys.argv and sys.argv[0].endswith("istioctl") else None)
    except (OSError, ValueError) as exc:
        raise Failure("Error: %s" % exc) from exc
    for crd in crds:
        labels = crd["metadata"].setdefault("labels", {})
        labels.update(_labels("Base", "default", {"app": "istio-pilot"}))
    return crds


def manifest(spec, version):
    """The objects `istioctl install` applies for ``spec``, in apply order."""
    profile = PROFILES[spec.get("profile", "default")]
    revision = spec.get("revision") or "default"
    suffix = "" if revision == "default" else "-" + revision
    hub, tag = spec.get("hub", "docker.io/istio"), spec.get("tag", version)
    objects = istio_crds() if revision == "default" else []
    if _enabled(spec, "pilot", profile["pilot"]):
        mesh = _merge(
            {
                "defaultConfig": {"discoveryAddress": "istiod%s.%s.svc:15012" % (suffix, ISTIO_NAMESPACE)},
                "enablePrometheusMerge": True,
                "rootNamespace": ISTIO_NAMESPACE,
                "trustDomain": "cluster.local",
            },
            profile["mesh"],
        )
        _merge(mesh, spec.get("meshConfig") or {})
        labels = _labels("Pilot", revision, {"app": "istiod", "istio": "pilot"})
        objects += [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "istiod" + suffix, "namespace": ISTIO_NAMESPACE, "labels": labels}},
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "istio" + suffix, "namespace": ISTIO_NAMESPACE, "labels": labels},
                "data": {"mesh": to_yaml(mesh).rstrip("\n"), "meshNetworks": "networks: {}"},
            },
            _deployment("istiod" + suffix, labels, {"app": "istiod", "istio.io/rev": revision}, "discovery", "%s/pilot:%s" % (hub, tag), [8080, 15010, 15017]),
            _service(
                "istiod" + suffix,
                labels,
                {"app": "istiod", "istio.io/rev": revision},
                [("grpc-xds", 15010, 15010), ("https-dns", 15012, 15012), ("https-webhook", 443, 15017), ("http-monitoring", 15014, 15014)],
            ),
        ]
    gateways = (spec.get("values") or {}).get("gateways") or {}
    for enabled, name, component, istio_label, ports, default_type in (
        (
            _enabled(spec, "ingressGateways", profile["ingress"]),
            "istio-ingressgateway",
            "IngressGateways",
            "ingressgateway",
            [("status-port", 15021, 15021), ("http2", 80, 8080), ("https", 443, 8443)],
            "LoadBalancer",
        ),
        (
            _enabled(spec, "egressGateways", profile["egress"]),
            "istio-egressgateway",
            "EgressGateways",
            "egressgateway",
            [("http2", 80, 8080), ("https", 443, 8443)],
            "ClusterIP",
        ),
    ):
        if not enabled:
            continue
        selector = {"app": name, "istio": istio_label}
        labels = _labels(component, revision, selector)
        kind = (gateways.get(name) or {}).get("type", default_type)
        objects += [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name + "-service-account", "namespace": ISTIO_NAMESPACE, "labels": labels}},
            _deployment(name, labels, selector, "istio-proxy", "%s/proxyv2:%s" % (hub, tag), [t for _n, _p, t in ports]),
            _service(name, labels, selector, ports, kind),
        ]
    return objects


def to_yaml(value, indent=0):
    """A small deterministic YAML writer (keys in insertion order) for manifest output."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}\n"
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append("%s%s:\n%s" % (pad, key, to_yaml(item, indent + 1)))
            else:
                lines.append("%s%s: %s" % (pad, key, to_yaml(item, indent + 1).strip()) + "\n")
        return "".join(lines)
    if isinstance(value, list):
        if not value:
            return "[]\n"
        lines = []
        for item in value:
            text = to_yaml(item, indent + 1)
            lines.append("%s- %s" % (pad, text.lstrip()) if isinstance(item, (dict, list)) and item else "%s- %s\n" % (pad, text.strip()))
        return "".join(lines)
    if value is True or value is False:
        return "true\n" if value else "false\n"
    if value is None:
        return "null\n"
    if isinstance(value, (int, float)):
        return "%s\n" % value
    if "\n" in value and not value[0].isspace() and not value.endswith("\n"):  # else `|-` would not give it back
        body = "".join("%s  %s\n" % (pad, line) for line in value.split("\n"))
        return "|-\n" + body
    return json.dumps(value) + "\n"


# ---------------------------------------------------------------------------------------------- cluster


def _items(listing):
    if isinstance(listing, dict):
        return listing.get("items") or []
    return listing or []


def _get(harness, path):
    try:
        return harness.get(path)
    except Exception:
        return None


def _tag(image):
    return image.rsplit(":", 1)[-1] if ":" in (image or "") else None


def control_plane(harness):
    """istiod components as `istioctl version` reports them: one per istiod Deployment."""
    found = []
    for deployment in _items(harness.list("/apis/apps/v1/namespaces/%s/deployments" % ISTIO_NAMESPACE)):
        labels = deployment["metadata"].get("labels") or {}
        if labels.get("app") != "istiod":
            continue
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        found.append((labels.get("istio.io/rev", "default"), _tag(image), deployment["metadata"]["name"]))
    return sorted(found)


def proxies(harness):
    """Pods with an istio-proxy container: (pod.namespace, version, type)."""
    found = []
    for pod in _items(harness.list("/api/v1/pods")):
        spec = pod.get("spec") or {}
        # Istio >= 1.27 injects a native sidecar: istio-proxy is an init container that keeps running.
        sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        for container in (spec.get("containers") or []) + sidecars:
            if container.get("name") == "istio-proxy":
                labels = pod["metadata"].get("labels") or {}
                kind = "gateway" if labels.get("istio") in ("ingressgateway", "egressgateway") else "sidecar"
                found.append(("%s.%s" % (pod["metadata"]["name"], pod["metadata"].get("namespace")), _tag(container.get("image")), kind))
    return sorted(found)


def analysis_url(version):
    return "https://istio.io/v%s/docs/reference/config/analysis" % ".".join(version.split(".")[:2])


def istiod_pod(harness, deployment):
    """The name of a running istiod pod (what proxy-status reports as ISTIOD)."""
    for pod in _items(harness.list("/api/v1/namespaces/%s/pods" % ISTIO_NAMESPACE)):
        if pod["metadata"]["name"].startswith(deployment + "-"):
            return pod["metadata"]["name"]
    return deployment


def build_info(version):
    return {"version": version, "revision": GIT_REVISION, "golang_version": GO_VERSION, "status": "Clean", "tag": version}


# ---------------------------------------------------------------------------------------------- commands


def cmd_version(opts, fault, version):
    document = {"clientVersion": build_info(version)}
    out, err = "", ""
    if opts.get("remote", True):
        check_cluster(opts, fault)
        harness = client.HarnessClient.from_env()
        components = control_plane(harness)
        if opts.get("revision"):
            components = [c for c in components if c[0] == opts["revision"]]
        if components:
            document["meshVersion"] = [
                {"Component": "istiod", "Revision": rev, "Info": dict(build_info(tag), golang_version="")} for rev, tag, _name in components
            ]
            document["dataPlaneVersion"] = [{"ID": pid, "IstioVersion": tag or components[0][1], "Type": kind} for pid, tag, kind in proxies(harness)]
        else:
            err = 'Istio is not present in the cluster: no running Istio pods in namespace "%s"\n' % ISTIO_NAMESPACE
    if opts.get("output") == "json":
        out = json.dumps(document, indent=2) + "\n"
    else:
        out = "client version: %s\n" % version
        if "meshVersion" in document:
            out += "control plane version: %s\n" % document["meshVersion"][0]["Info"]["version"]
            out += "data plane version: %s (%d proxies)\n" % (version, len(document["dataPlaneVersion"]))
    return out, err, 0


def cmd_manifest_generate(opts, fault, version):
    spec = operator_spec(opts)
    return "---\n".join(to_yaml(obj) for obj in manifest(spec, version)), "", 0


def _confirm(prompt):
    _write(sys.stdout, prompt + " ")
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise Failure("Cancelled.", stdout="Cancelled.\n")


def cmd_install(opts, fault, version):
    spec = operator_spec(opts)
    check_cluster(opts, fault)
    if not opts.get("yes"):
        _confirm('This will install the Istio %s profile "%s" into the cluster. Proceed? (y/N)' % (version, spec.get("profile", "default")))
    harness = client.HarnessClient.from_env()
    if not _get(harness, "/api/v1/namespaces/%s" % ISTIO_NAMESPACE):
        harness.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ISTIO_NAMESPACE}})
    out = ""
    objects = manifest(spec, version)
    for component, words in (
        ("Base", "Istio core installed \u26f5\ufe0f"),
        ("Pilot", "Istiod installed \U0001f9e0"),
        ("EgressGateways", "Egress gateways installed \U0001f6eb"),
        ("IngressGateways", "Ingress gateways installed \U0001f6ec"),
    ):
        part = [obj for obj in objects if obj["metadata"]["labels"][COMPONENT] == component]
        if not part:
            continue
        if fault.get("install") == "timeout" and component == "Pilot":
            out += (
                "\u2718 Istiod encountered an error: failed to wait for resource: resources not ready after 5m0s: "
                "context deadline exceeded\nDeployment/istio-system/istiod (container failed to start: ImagePullBackOff)\n"
            )
            raise Failure("Error: failed to install manifests: errors occurred during operation", stdout=out)
        for obj in part:
            harness.apply(obj)
        out += "\u2714 %s\n" % words
    out += "\u2714 Installation complete\n"
    if (spec.get("revision") or "default") == "default":
        out += "Made this installation the default for cluster-wide operations.\n"
    return out, "", 0


def cmd_uninstall(opts, fault, version):
    check_cluster(opts, fault)
    revision = opts.get("revision")
    if not (opts.get("purge") or revision or opts["filename"]):
        raise Failure("Error: at least one of the --revision (or --set revision=<revision>), --filename or --purge flags must be set")
    if opts.get("purge") and revision:
        raise Failure("Error: --purge and --revision are mutually exclusive, please use only one of them")
    if not opts.get("yes"):
        _confirm("All Istio resources will be pruned from the cluster\nProceed? (y/N)")
    harness = client.HarnessClient.from_env()
    out = "All Istio resources will be pruned from the cluster\n" if opts.get("purge") else "  Removed revision %s.\n" % revision
    for obj in _items(harness.objects()):
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if OWNER not in labels:
            continue
        if revision and labels.get("istio.io/rev") != revision:
            continue
        harness.delete(obj)
    return out + "\u2714 Uninstall complete\n", "", 0


def _messages(items, version):
    messages = []
    for item in items:
        message = {
            "code": item["code"],
            "level": item.get("level", "Error"),
            "origin": item.get("origin", ""),
            "reference": item.get("reference", ""),
            "message": item.get("message", ""),
        }
        message["documentationUrl"] = "%s/%s/?ref=istioctl-analyze" % (analysis_url(version), item["code"].lower())
        messages.append(message)
    return messages


def cmd_analyze(opts, fault, version):
    check_cluster(opts, fault)
    target = "all namespaces" if opts.get("all_namespaces") else "namespace: %s" % (opts.get("namespace") or "default")
    messages = _messages(fault.get("analyze") or [], version)
    if opts.get("output") == "json":
        err = "" if messages else "\u2714 No validation issues found when analyzing %s.\n" % target
        return json.dumps(messages, indent=2) + "\n", err, 0
    lines = "".join("%s [%s] (%s) %s\n" % (m["level"], m["code"], m["origin"], m["message"]) for m in messages)
    if any(m["level"] == "Error" for m in messages):
        err = "Error: Analyzers found issues when analyzing %s.\nSee %s for more information about causes and resolutions.\n" % (target, analysis_url(version))
        return lines, err, 79
    return lines, "" if messages else "\u2714 No validation issues found when analyzing %s.\n" % target, 0


def cmd_precheck(opts, fault, version):
    check_cluster(opts, fault)
    messages = _messages(fault.get("precheck") or [], version)
    if not messages:
        return (
            "",
            (
                "\u2714 No issues found when checking the cluster. Istio is safe to install or upgrade!\n"
                "  To get started, check out https://istio.io/latest/docs/setup/getting-started/.\n"
            ),
            0,
        )
    if opts.get("output") == "json":
        out = json.dumps(messages, indent=2) + "\n"
    else:
        out = "".join("%s [%s] (%s) %s\n" % (m["level"], m["code"], m["origin"], m["message"]) for m in messages)
    err = (
        "Error: Issues found when checking the cluster. Istio may not be safe to install or upgrade.\n"
        "See %s for more information about causes and resolutions.\n" % analysis_url(version)
    )
    return out, err, 1


def cmd_proxy_status(opts, fault, version):
    check_cluster(opts, fault)
    harness = client.HarnessClient.from_env()
    components = [c for c in control_plane(harness) if c[0] == (opts.get("revision") or "default")]
    if not components:
        raise Failure('Error: no running Istio pods in "%s"' % ISTIO_NAMESPACE)
    _revision, tag, name = components[0]
    istiod_id = istiod_pod(harness, name)
    found = proxies(harness)
    if opts.get("namespace"):
        found = [p for p in found if p[0].rsplit(".", 1)[-1] == opts["namespace"]]
    if opts.get("output") == "json":
        response = {
            "versionInfo": tag,
            "resources": [
                {
                    "@type": "type.googleapis.com/envoy.service.status.v3.ClientConfig",
                    "node": {"id": pid, "metadata": {"CLUSTER_ID": "Kubernetes", "ISTIO_VERSION": ptag or tag}},
                    "genericXdsConfigs": [
                        {"typeUrl": "type.googleapis.com/envoy.config.%s.v3.%s" % (package, kind), "configStatus": "SYNCED"} for kind, package in XDS_TYPES
                    ],
                }
                for pid, ptag, _kind in found
            ],
            "typeUrl": "type.googleapis.com/envoy.service.status.v3.ClientConfig",
            "controlPlane": {"identifier": json.dumps({"Component": "istiod", "ID": istiod_id, "Info": build_info(tag)}, separators=(",", ":"))},
        }
        return json.dumps(response, indent=2) + "\n", "", 0
    rows = [("NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION")]
    rows += [(pid, "Kubernetes", "SYNCED", "SYNCED", "SYNCED", "SYNCED", "IGNORED", istiod_id, ptag or tag) for pid, ptag, _kind in found]
    widths = [max(len(row[i]) for row in rows) + 5 for i in range(len(rows[0]))]
    return "".join("".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n" for row in rows), "", 0


COMMANDS = {
    ("version",): cmd_version,
    ("manifest", "generate"): cmd_manifest_generate,
    ("install",): cmd_install,
    ("apply",): cmd_install,
    ("uninstall",): cmd_uninstall,
    ("analyze",): cmd_analyze,
    ("x", "precheck"): cmd_precheck,
    ("experimental", "precheck"): cmd_precheck,
    ("proxy-status",): cmd_proxy_status,
    ("ps",): cmd_proxy_status,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    client.record_call("istioctl", argv)
    try:
        words, opts = parse(argv)
        handler = COMMANDS.get(tuple(words[:2])) or COMMANDS.get(tuple(words[:1]))
        if handler is None:
            raise Failure('Error: unknown command "%s" for "istioctl"\nRun \'istioctl --help\' for usage.' % " ".join(words[:1]))
        out, err, code = handler(opts, client.cli_faults("istioctl"), client_version())
    except Failure as exc:
        _write(sys.stdout, exc.stdout)
        _write(sys.stderr, exc.message + "\n")
        return exc.code
    _write(sys.stdout, out)
    _write(sys.stderr, err)
    return code
