# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the istio_* modules share: the istioctl runner, parsers of its JSON output, and the
install record kept on the cluster.

Output shapes follow istioctl 1.31: ``version -o json`` (pkg/version: clientVersion, meshVersion,
dataPlaneVersion), ``analyze -o json`` and ``x precheck -o json`` (pkg/config/analysis/diag
messages: code, level, origin, reference, message, documentationUrl) and ``proxy-status -o json``
(the istiod sync-status DiscoveryResponse).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import json
import re

from ansible_collections.istiolab.mesh.plugins.module_utils._cli import CliError, CliRunner, Fmt, ModuleError
from ansible_collections.istiolab.mesh.plugins.module_utils._cli import run_module as cli_run_module

try:
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config import new_client_from_config

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the controller's Python
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

ISTIO_NAMESPACE = "istio-system"
RECORD_NAME = "istiolab-mesh-install-state"
SEVERITIES = ("Error", "Warning", "Info")

# Seconds to connect and to wait for an answer, per request of the install record: the API answers a small
# ConfigMap in well under a second, so one that holds the request this long is not going to answer. Without a
# timeout (the kubernetes client's default) a request the API never answers holds the run for good. urllib3 retries
# an idempotent request (read, replace, delete) up to 3 times, so one call gives up after at most 4 x (10 + 30) s.
REQUEST_TIMEOUT = (10, 30)

INSTALL_HINT = (
    "Install istioctl with the istiolab.mesh.istio role (it downloads the pinned, checksum-verified Istio "
    "release) or with the istiolab.mesh.release_artifact module, and pass the path it returns as binary_path."
)
CLUSTER_HINT = (
    "Check that the cluster is running and that kubeconfig and context (or K8S_AUTH_KUBECONFIG / "
    "K8S_AUTH_CONTEXT) point at it; `kubectl --context <context> get nodes` should answer."
)

# istioctl's and client-go's words for "the API server could not be reached or refused us".
_UNREACHABLE = re.compile(
    r"connection refused|no such host|i/o timeout|dial tcp|context deadline exceeded|Unable to connect|"
    r"unable to connect|connect: no route|the server has asked for the client to provide credentials|"
    r"context \"[^\"]*\" does not exist|invalid configuration|no configuration has been provided|"
    r"x509: certificate|Unauthorized|Forbidden",
)

FORMATS = {
    "version": Fmt.fixed("version"),
    "install": Fmt.fixed("install"),
    "uninstall": Fmt.fixed("uninstall"),
    "manifest_generate": Fmt.fixed("manifest", "generate"),
    "analyze": Fmt.fixed("analyze"),
    "proxy_status": Fmt.fixed("proxy-status"),
    "precheck": Fmt.fixed("x", "precheck"),
    "json": Fmt.fixed("-o", "json"),
    "yes": Fmt.flag("-y"),
    "purge": Fmt.flag("--purge"),
    "set": Fmt.mapping("--set"),
    "filename": Fmt.opt("-f", joined=False),
    "revision": Fmt.opt("--revision"),
    "namespace": Fmt.opt("--namespace"),
    "istio_namespace": Fmt.opt("--istioNamespace"),
    "all_namespaces": Fmt.flag("--all-namespaces"),
    "kubeconfig": Fmt.opt("--kubeconfig"),
    "context": Fmt.opt("--context"),
}
"""Every istioctl word the modules use; cluster flags come last so each command reads naturally."""

KUBE = ["kubeconfig", "context"]


def istioctl_runner(module):
    """The istioctl runner for ``module`` (honours ``binary_path``)."""
    return CliRunner(module, "istioctl", FORMATS, INSTALL_HINT, binary_path=module.params.get("binary_path"))


def explain(error):
    """Add the next step to a CliError raised by a cluster-facing istioctl call."""
    result = error.result
    said = ((result.stderr or "") + (result.stdout or "")) if result is not None else error.message
    if error.hint is None and _UNREACHABLE.search(said):
        error.hint = CLUSTER_HINT
    elif error.hint is None and ("unknown command" in said or "unknown flag" in said):
        error.hint = "This istioctl does not know the command; the modules target istioctl 1.31. " + INSTALL_HINT
    return error


def run_module(module, run):
    """The body of every istio module's ``main()``: ``run(module, runner)`` with the istioctl runner, a failed
    istioctl call explained once (see :func:`explain`)."""
    cli_run_module(module, istioctl_runner(module), run, explain=explain)


def output_json(result, parse=None):
    """What ``result`` printed, parsed by ``parse`` (:func:`first_json` by default), or a CliError that quotes
    the command and what it printed instead."""
    try:
        return (parse or first_json)(result.stdout)
    except ValueError as exc:
        words = " ".join(itertools.takewhile(lambda word: not word.startswith("--"), result.cmd[1:]))
        raise CliError("`istioctl %s` printed output that is not JSON (%s): %s" % (words, exc, result.stdout[:300]), result=result)


def first_json(text):
    """The first JSON document in ``text``: istioctl prints notices such as
    ``no running Istio pods in "istio-system"`` before the JSON of ``version -o json``."""
    text = text or ""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return None
    value, _end = json.JSONDecoder().raw_decode(text[min(starts) :])
    return value


def all_json(text):
    """Every JSON document in ``text``, in order. ``proxy-status -o json`` prints one indented document per
    istiod it asked (istioctl/pkg/writer/pilot/status.go ``printMachineReadable``), one after the other; a
    document that is a list contributes its items. Notice lines before or between documents are skipped."""
    text = text or ""
    decoder = json.JSONDecoder()
    documents = []
    position = 0
    while True:
        match = _DOCUMENT_START.search(text, position)
        if not match:
            return documents
        value, position = decoder.raw_decode(text, match.start(1))
        documents.extend(value if isinstance(value, list) else [value])


_DOCUMENT_START = re.compile(r"(?:^|\n)[ \t]*([{\[])")


def version_tuple(version):
    """``1.31.1`` -> ``(1, 31, 1)``; ``None`` when the text holds no release number."""
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


def parse_versions(data, revision=None):
    """Client, control-plane and data-plane versions from ``istioctl version -o json``.

    The control plane is the istiod (``pilot`` before 1.6) components of ``revision`` (the default
    revision when ``None``); when they disagree, as in the middle of a rollout, the oldest one is the
    control plane's version, so an upgrade is not skipped.
    """
    data = data or {}
    client = (data.get("clientVersion") or {}).get("version")
    wanted = revision or "default"
    components = []
    for item in data.get("meshVersion") or []:
        item_revision = item.get("Revision") or "default"
        if item_revision != wanted:
            continue
        components.append(dict(component=item.get("Component"), revision=item_revision, version=(item.get("Info") or {}).get("version")))
    versions = [c["version"] for c in components if c["version"]]
    known = [v for v in versions if version_tuple(v)]
    control_plane = min(known, key=version_tuple) if known else (versions[0] if versions else None)
    data_plane = [dict(id=item.get("ID"), version=item.get("IstioVersion"), type=item.get("Type")) for item in data.get("dataPlaneVersion") or []]
    return dict(client=client, control_plane=control_plane, control_plane_components=components, data_plane=data_plane)


def parse_messages(data):
    """Analysis messages (``analyze``/``x precheck -o json``) with a count per severity."""
    messages = []
    for item in data or []:
        messages.append(
            dict(
                code=item.get("code"),
                level=item.get("level"),
                origin=item.get("origin"),
                reference=item.get("reference"),
                message=item.get("message"),
                documentation_url=item.get("documentationUrl"),
            )
        )
    counts = dict((level, 0) for level in SEVERITIES)
    for message in messages:
        counts[message["level"]] = counts.get(message["level"], 0) + 1
    return messages, counts


def at_least(level, threshold):
    """Whether severity ``level`` is ``threshold`` or worse (Error > Warning > Info)."""
    if level not in SEVERITIES:
        return False
    return SEVERITIES.index(level) <= SEVERITIES.index(threshold)


_XDS_SHORT = {
    "envoy.config.cluster.v3.Cluster": "CDS",
    "envoy.config.listener.v3.Listener": "LDS",
    "envoy.config.endpoint.v3.ClusterLoadAssignment": "EDS",
    "envoy.config.route.v3.RouteConfiguration": "RDS",
    "envoy.config.core.v3.TypedExtensionConfig": "ECDS",
}


def parse_proxy_status(data):
    """Proxies from ``proxy-status -o json``: the sync-status responses of every istiod (see ``all_json``),
    as a list, or one response."""
    responses = data if isinstance(data, list) else [data] if data else []
    proxies = []
    for response in responses:
        istiod = None
        identifier = (response.get("controlPlane") or {}).get("identifier")
        if identifier:
            try:
                istiod = json.loads(identifier).get("ID")
            except ValueError:
                istiod = identifier
        for resource in response.get("resources") or []:
            node = resource.get("node") or {}
            metadata = node.get("metadata") or {}
            status = {}
            for config in resource.get("genericXdsConfigs") or []:
                short = _XDS_SHORT.get((config.get("typeUrl") or "").rsplit("/", 1)[-1])
                if short:
                    status[short] = config.get("configStatus") or "NOT_SENT"
            proxies.append(
                dict(
                    name=node.get("id"),
                    cluster=metadata.get("CLUSTER_ID"),
                    version=metadata.get("ISTIO_VERSION"),
                    istiod=istiod,
                    status=status,
                    synced=all(value in ("SYNCED", "NOT_SENT") for value in status.values()),
                )
            )
    return sorted(proxies, key=lambda p: p["name"] or "")


def record_name(revision=None):
    """The ConfigMap that records the last install of ``revision``."""
    return "%s-%s" % (RECORD_NAME, revision) if revision else RECORD_NAME


class _CoreApi:
    """A plain ``CoreV1Api`` on the module's kubeconfig/context (the ones istioctl uses), made on first use.
    kubernetes.core's ``get_api_client`` would first run API discovery, requests without a timeout."""

    def __init__(self, module):
        self.module = module
        self._api = None

    @property
    def api(self):
        if self._api is None:
            if not HAS_KUBERNETES:
                raise ModuleError(
                    "The kubernetes Python client is required to read the install record and the istiod pods (%s)." % KUBERNETES_IMPORT_ERROR,
                    hint="Install it with `pip install kubernetes` in the Python that runs the modules.",
                )
            try:
                # persist_config=False: refreshed credentials are not written back into the user's kubeconfig.
                client = new_client_from_config(
                    config_file=self.module.params.get("kubeconfig"), context=self.module.params.get("context"), persist_config=False
                )
            except Exception as exc:
                raise ModuleError("Could not load the cluster configuration: %s." % exc, hint=CLUSTER_HINT)
            self._api = CoreV1Api(api_client=client)
        return self._api


VERSION_LABEL = "app.kubernetes.io/version"


def serving_istiod_versions(pods, revision=None):
    """``[{pod, version}]`` of the istiod pods of ``revision`` that serve: the Ready condition True and no
    deletionTimestamp. ``pods`` are Pod objects as the API returns them (dicts); the version is the pod's
    ``app.kubernetes.io/version`` label, which Istio's charts set to the release. A pod without it is left out.

    ``istioctl version`` asks every Running istiod pod whose containers are ready, so right after an in-place
    upgrade it may still count an old pod that is draining; these pods are the ones that answer from now on.
    """
    wanted = revision or "default"
    serving = []
    for pod in pods or []:
        metadata = pod.get("metadata") or {}
        labels = metadata.get("labels") or {}
        if labels.get("app") != "istiod" or (labels.get("istio.io/rev") or "default") != wanted:
            continue
        if metadata.get("deletionTimestamp"):
            continue
        conditions = (pod.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            continue
        if labels.get(VERSION_LABEL):
            serving.append(dict(pod=metadata.get("name"), version=labels[VERSION_LABEL]))
    return sorted(serving, key=lambda item: item["pod"] or "")


def judge_control_plane(versions, pods, revision=None):
    """``versions`` (from ``parse_versions``) with the control-plane version judged from the serving istiod
    pods of ``revision`` (the oldest of them, as ``parse_versions`` does), and those pods as
    ``control_plane_pods``. When no serving pod carries a version label, istioctl's answer stands."""
    judged = dict(versions)
    serving = serving_istiod_versions(pods, revision)
    judged["control_plane_pods"] = serving
    if versions.get("control_plane") is None or not serving:
        return judged
    known = [item["version"] for item in serving if version_tuple(item["version"])]
    if known:
        judged["control_plane"] = min(known, key=version_tuple)
    return judged


class ControlPlanePods(_CoreApi):
    """The istiod pods in the control plane's ``namespace`` (istio-system by default), read with the ``kubernetes`` client."""

    def __init__(self, module, namespace=ISTIO_NAMESPACE):
        _CoreApi.__init__(self, module)
        self.namespace = namespace

    def list(self, revision=None):
        selector = "app=istiod,istio.io/rev=%s" % (revision or "default")
        try:
            found = self.api.list_namespaced_pod(self.namespace, label_selector=selector, _request_timeout=REQUEST_TIMEOUT)
        except Exception as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            raise ModuleError("Could not list the istiod pods (%s) in %s: %s." % (selector, self.namespace, reason), hint=CLUSTER_HINT)
        return self.api.api_client.sanitize_for_serialization(found).get("items") or []


class InstallRecord(_CoreApi):
    """The record of the last install, a ConfigMap in the control plane's ``namespace`` (istio-system by
    default) read and written with the ``kubernetes`` client (same kubeconfig/context as istioctl).

    istioctl keeps no record of what it installed since 1.21 (the ``installed-state`` IstioOperator
    was dropped, istio/istio#47860), so the module keeps its own.
    """

    def __init__(self, module, revision=None, namespace=ISTIO_NAMESPACE):
        _CoreApi.__init__(self, module)
        self.name = record_name(revision)
        self.namespace = namespace

    def _fail(self, action, exc):
        reason = getattr(exc, "reason", None) or str(exc)
        return ModuleError("Could not %s ConfigMap %s/%s: %s." % (action, self.namespace, self.name, reason), hint=CLUSTER_HINT)

    def read(self):
        """The recorded ``{version, digest, profile, revision}``, or ``None`` when there is none."""
        try:
            found = self.api.read_namespaced_config_map(self.name, self.namespace, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise self._fail("read", exc)
        except Exception as exc:
            raise self._fail("read", exc)
        return dict(found.data or {})

    def write(self, data):
        body = dict(
            apiVersion="v1",
            kind="ConfigMap",
            metadata=dict(
                name=self.name,
                namespace=self.namespace,
                labels={"app.kubernetes.io/managed-by": "istiolab.mesh.istio_install"},
            ),
            data=dict((key, "" if value is None else str(value)) for key, value in data.items()),
        )
        try:
            try:
                self.api.replace_namespaced_config_map(self.name, self.namespace, body, _request_timeout=REQUEST_TIMEOUT)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                self.api.create_namespaced_config_map(self.namespace, body, _request_timeout=REQUEST_TIMEOUT)
        except Exception as exc:
            raise self._fail("write", exc)

    def delete(self):
        try:
            self.api.delete_namespaced_config_map(self.name, self.namespace, _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status != 404:
                raise self._fail("delete", exc)
        except Exception as exc:
            raise self._fail("delete", exc)
