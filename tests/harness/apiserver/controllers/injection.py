"""Istio's sidecar injector, as an installed istiod's webhook would mutate a pod."""

from __future__ import annotations

import json

from .base import FALLBACK_PROXY_TAG
from .podspec import default_container


def _istiod_settings(api):
    """(proxy image tag, native sidecars?) as an installed istiod would inject them."""
    istiod = api.find("apps", "deployments", "istio-system", "istiod")
    tag, native = FALLBACK_PROXY_TAG, True
    if istiod:
        for container in istiod["spec"]["template"]["spec"].get("containers", []):
            image = container.get("image", "")
            if ":" in image.rsplit("/", 1)[-1]:
                tag = image.rsplit(":", 1)[1]
            for env in container.get("env") or []:
                if env.get("name") == "ENABLE_NATIVE_SIDECARS":
                    native = str(env.get("value", "")).lower() == "true"
    return tag, native


def injection_wanted(namespace_obj, pod):
    ns_labels = (namespace_obj or {}).get("metadata", {}).get("labels") or {}
    meta = pod["metadata"]
    pod_choice = (meta.get("labels") or {}).get("sidecar.istio.io/inject") or (meta.get("annotations") or {}).get("sidecar.istio.io/inject")
    if ns_labels.get("istio-injection") == "disabled" or pod_choice == "false" or pod["spec"].get("hostNetwork"):
        return False
    return ns_labels.get("istio-injection") == "enabled" or "istio.io/rev" in ns_labels or pod_choice == "true"


def inject_sidecar(api, pod):
    """Add Istio's proxy the way istiod's injection webhook does (Istio 1.27+ defaults to a native sidecar:
    an init container with ``restartPolicy: Always``; istiod's ENABLE_NATIVE_SIDECARS=false or the pod
    annotation ``sidecar.istio.io/nativeSidecar: "false"`` gives the classic extra container)."""
    meta, spec = pod["metadata"], pod["spec"]
    if not injection_wanted(api.find("", "namespaces", "", meta["namespace"]), pod):
        return
    if any(c["name"] == "istio-proxy" for c in spec.get("containers", []) + spec.get("initContainers", [])):
        return
    tag, native = _istiod_settings(api)
    annotations = meta.setdefault("annotations", {})
    if "sidecar.istio.io/nativeSidecar" in annotations:
        native = annotations["sidecar.istio.io/nativeSidecar"] == "true"
    image = f"docker.io/istio/proxyv2:{tag}"
    iptables = ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT",
                "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020", "--log_output_level=default:info"]
    init = {"name": "istio-init", "image": image, "args": iptables,
            "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}, "runAsUser": 0, "runAsNonRoot": False}}
    proxy = {"name": "istio-proxy", "image": image, "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
             "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
             "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 15, "failureThreshold": 4},
             "securityContext": {"runAsUser": 1337, "runAsGroup": 1337, "runAsNonRoot": True},
             "volumeMounts": [{"name": "istio-envoy", "mountPath": "/etc/istio/proxy"}, {"name": "istio-data", "mountPath": "/var/lib/istio/data"}]}
    for container in (init, proxy):
        default_container(container)
    app = spec["containers"][0]["name"]
    if native:
        proxy["restartPolicy"] = "Always"
        spec["initContainers"] = [init, proxy] + spec.get("initContainers", [])
    else:
        spec["initContainers"] = [init] + spec.get("initContainers", [])
        spec["containers"].append(proxy)
    spec.setdefault("volumes", []).extend([{"name": "istio-envoy", "emptyDir": {"medium": "Memory"}}, {"name": "istio-data", "emptyDir": {}}])
    annotations.update({
        "sidecar.istio.io/status": json.dumps({"initContainers": ["istio-init"] + (["istio-proxy"] if native else []),
                                               "containers": [] if native else ["istio-proxy"],
                                               "volumes": ["istio-envoy", "istio-data"], "imagePullSecrets": None, "revision": "default"}),
        "kubectl.kubernetes.io/default-container": app, "kubectl.kubernetes.io/default-logs-container": app,
        "istio.io/rev": "default", "prometheus.io/path": "/stats/prometheus", "prometheus.io/port": "15020", "prometheus.io/scrape": "true",
    })
    labels = meta.setdefault("labels", {})
    labels.setdefault("security.istio.io/tlsMode", "istio")
    canonical = labels.get("app.kubernetes.io/name") or labels.get("app") or meta.get("generateName", meta["name"]).rstrip("-")
    labels.setdefault("service.istio.io/canonical-name", canonical)
    labels.setdefault("service.istio.io/canonical-revision", labels.get("app.kubernetes.io/version") or labels.get("version") or "latest")
