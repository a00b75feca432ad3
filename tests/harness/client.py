"""Standard-library client for the offline cluster, used by the fake CLIs, tests and benchmarks.

It runs under any python3 (no venv needed): it reads ``$MESH_HARNESS_DIR/harness.json`` written by
``python -m tests.harness up`` and talks to the emulator over HTTPS, trusting the cluster CA only and
presenting the ``harness`` client certificate, as kubectl does with the kubeconfig minikube writes.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

from tests.harness.loopback import client_tls_context

DIR_VARIABLE = "MESH_HARNESS_DIR"


class HarnessError(Exception):
    """A failed request: ``status`` is the HTTP code (None when the emulator is unreachable), ``body`` the answer."""

    def __init__(self, message, status=None, body=None):
        super().__init__(message)
        self.status, self.body = status, body


def harness_dir(directory=None):
    directory = directory or os.environ.get(DIR_VARIABLE)
    if not directory:
        raise HarnessError(f"${DIR_VARIABLE} is not set; start the offline cluster with `python -m tests.harness up` and source its env.sh")
    return directory


def read_info(directory=None):
    path = os.path.join(harness_dir(directory), "harness.json")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read {path} ({exc}); is the offline cluster up? Run `python -m tests.harness up`") from exc


class HarnessClient:
    """``ca``/``cert``/``key``: paths of the cluster CA and the client pair (harness.json names them);
    ``token``: a bearer token to send (the emulator knows none, so it is refused: for tests of that)."""

    def __init__(self, server, timeout=30.0, ca=None, cert=None, key=None, token=None):
        self.server, self.timeout, self.token = server.rstrip("/"), timeout, token
        self.ca, self.cert, self.key = ca, cert, key
        self.context = client_tls_context(ca, cert, key) if self.server.startswith("https:") else None
        self._kinds = {}

    @classmethod
    def from_info(cls, info, timeout=30.0, **overrides):
        """A client of the emulator harness.json describes (``overrides``: other ca/cert/key/token)."""
        settings = {"ca": info.get("certificate-authority"), "cert": info.get("client-certificate"), "key": info.get("client-key")}
        settings.update(overrides)
        return cls(info["server"], timeout, **settings)

    @classmethod
    def from_env(cls, directory=None, timeout=30.0):
        return cls.from_info(read_info(directory), timeout)

    def urlopen(self, request, timeout=None):
        """``urllib.request.urlopen`` over this client's TLS settings (for a test's own raw request)."""
        return urllib.request.urlopen(request, timeout=timeout or self.timeout, context=self.context)  # pylint: disable=consider-using-with

    # ---- HTTP ----------------------------------------------------------------------------------
    def request(self, method, path, body=None, content_type="application/json", params=None):
        """One request; returns the decoded JSON (or text) answer, raises HarnessError for HTTP >= 400."""
        url = self.server + path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", "harness-client/1")
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with self.urlopen(request) as response:
                return self._decode(response.read(), response.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as exc:
            answer = self._decode(exc.read(), exc.headers.get("Content-Type", ""))
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise HarnessError(f"{method} {path}: HTTP {exc.code}: {message}", exc.code, answer) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise HarnessError(f"{method} {path}: the emulator at {self.server} did not answer ({exc})") from exc

    @staticmethod
    def _decode(raw, content_type):
        text = raw.decode("utf-8", errors="replace")
        if "json" in content_type:
            try:
                return json.loads(text) if text else None
            except ValueError:
                return text
        return text

    # ---- paths -------------------------------------------------------------------------------
    def _resource(self, api_version, kind):
        """(plural, namespaced) of a kind, from the emulator's discovery (so CRD kinds work too)."""
        key = (api_version, kind)
        if key not in self._kinds:
            prefix = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            for entry in self.request("GET", prefix).get("resources", []):
                if "/" not in entry["name"]:
                    self._kinds[(api_version, entry["kind"])] = (entry["name"], entry["namespaced"])
        if key not in self._kinds:
            raise HarnessError(f"the emulator serves no kind {kind} in {api_version}", 404)
        return self._kinds[key]

    def path_for(self, obj, collection=False):
        """The REST path of an object (or of its collection) from its apiVersion, kind, namespace and name."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        plural, namespaced = self._resource(api_version, kind)
        prefix = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        meta = obj.get("metadata") or {}
        if namespaced:
            prefix += f"/namespaces/{meta.get('namespace') or 'default'}"
        path = f"{prefix}/{plural}"
        return path if collection else f"{path}/{meta['name']}"

    # ---- the contract --------------------------------------------------------------------------
    def get(self, path):
        """The object (or list) at a path, or None when it does not exist."""
        try:
            return self.request("GET", path)
        except HarnessError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, api_path, label_selector=None, field_selector=None):
        """The items of a collection path, each with its apiVersion and kind."""
        params = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        answer = self.request("GET", api_path, params=params or None)
        kind = answer.get("kind", "")[:-len("List")] if answer.get("kind", "").endswith("List") else None
        items = answer.get("items") or []
        for item in items:
            item.setdefault("apiVersion", answer.get("apiVersion"))
            if kind:
                item.setdefault("kind", kind)
        return items

    def create(self, obj):
        return self.request("POST", self.path_for(obj, collection=True), obj)

    def apply(self, obj):
        """Create or replace an object; a ``status`` in it is written through the status subresource too."""
        path = self.path_for(obj)
        current = self.get(path)
        if current is None:
            result = self.create(obj)
        else:
            body = json.loads(json.dumps(obj))
            body.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
            result = self.request("PUT", path, body)
        if obj.get("status") is not None and result.get("status") != obj["status"]:
            body = dict(result, status=obj["status"])
            try:
                result = self.request("PUT", path + "/status", body)
            except HarnessError as exc:
                if exc.status != 404:
                    raise
        return result

    def patch(self, obj_or_path, patch, patch_type="merge"):
        path = obj_or_path if isinstance(obj_or_path, str) else self.path_for(obj_or_path)
        content_type = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json",
                        "json": "application/json-patch+json"}[patch_type]
        return self.request("PATCH", path, patch, content_type)

    def delete(self, obj_or_path, propagation="Background", grace=None):
        """Delete an object; True if it existed, False if it was already gone. ``grace``: DeleteOptions.gracePeriodSeconds."""
        path = obj_or_path if isinstance(obj_or_path, str) else self.path_for(obj_or_path)
        params = {"propagationPolicy": propagation}
        if grace is not None:
            params["gracePeriodSeconds"] = str(grace)
        try:
            self.request("DELETE", path, params=params)
        except HarnessError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def objects(self):
        """Every stored object, with apiVersion and kind."""
        return self.request("GET", "/_harness/objects")["items"]

    def stats(self):
        return self.request("GET", "/_harness/stats")

    def reset_stats(self):
        return self.request("POST", "/_harness/reset-stats", {})

    def set_fault(self, status=None, delay=None, count=1, match=None):
        """Make the next ``count`` API requests (whose path contains ``match``, if given) fail with HTTP
        ``status`` and/or hang for ``delay`` seconds first."""
        spec = {k: v for k, v in (("status", status), ("delay", delay), ("count", count), ("match", match)) if v is not None}
        return self.request("POST", "/_harness/faults", spec)

    def clear_faults(self):
        return self.request("DELETE", "/_harness/faults")

    def set_pod_rules(self, rules, **settings):
        """Replace the pod lifetime rules (README, Pod lifetime rules); ``settings``: backoffSeconds, maxGraceSeconds."""
        return self.request("POST", "/_harness/pod-rules", dict(settings, rules=list(rules)))

    def clear_pod_rules(self):
        return self.request("DELETE", "/_harness/pod-rules")

    def append_log(self, namespace, pod, container, lines):
        """Lines that ``kubectl logs`` (the pods/log subresource) returns after the emulator's start line."""
        return self.request("POST", "/_harness/logs", {"namespace": namespace, "pod": pod, "container": container, "lines": list(lines)})


# ---- the project's pinned versions ---------------------------------------------------------------------
_GROUP_VARS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "inventory", "group_vars", "all.yml")


def pinned_version(variable, override_env):
    """A fake CLI's own version: ``$override_env``, else the project's pin ``variable`` in group_vars/all.yml."""
    override = os.environ.get(override_env)
    if override:
        return override
    with open(_GROUP_VARS, encoding="utf-8") as handle:
        match = re.search(r'^%s:\s*"?([^"\s]+)"?' % re.escape(variable), handle.read(), re.MULTILINE)
    if not match:
        raise LookupError("%s not found in %s" % (variable, _GROUP_VARS))
    return match.group(1)


# ---- fake CLI faults --------------------------------------------------------------------------------
def cli_faults(cli, directory=None):
    """The faults $MESH_HARNESS_DIR/faults.json injects into the fake ``cli`` ({} when none)."""
    path = os.path.join(directory or os.environ.get(DIR_VARIABLE, ""), "faults.json")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle).get(cli, {}) or {}
    except FileNotFoundError:
        return {}


# ---- CLI call log ---------------------------------------------------------------------------------
def record_call(cli, argv, directory=None):
    """Append one {"cli", "args"} line to $MESH_HARNESS_DIR/cli-calls.jsonl (a no-op without a harness dir)."""
    directory = directory or os.environ.get(DIR_VARIABLE)
    if not directory:
        return
    line = json.dumps({"cli": cli, "args": list(argv)}) + "\n"
    fd = os.open(os.path.join(directory, "cli-calls.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_calls(directory=None):
    path = os.path.join(harness_dir(directory), "cli-calls.jsonl")
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


# ---- kubeconfig contexts --------------------------------------------------------------------------
def _kubeconfig_path(kubeconfig=None):
    path = kubeconfig or (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0]
    if not path:
        raise HarnessError("$KUBECONFIG is not set; source the harness env.sh first")
    return path


def _load_kubeconfig(path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": [], "current-context": "", "preferences": {}}
    try:
        return json.loads(text) if text.strip() else {"apiVersion": "v1", "kind": "Config"}
    except ValueError as exc:
        raise HarnessError(f"{path} is not a JSON kubeconfig written by the harness; refusing to rewrite it") from exc


def _save_kubeconfig(path, config):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _upsert(entries, name, key, value):
    entries[:] = [e for e in entries if e.get("name") != name] + [{"name": name, key: value}]


def minikube_extension(now=None):
    """The ``cluster_info``/``context_info`` extension minikube writes into its kubeconfig entries
    (pkg/minikube/kubeconfig/extension.go: provider, its version, the time in Go's RFC1123)."""
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime(now))
    return {"last-update": stamp, "provider": "minikube.sigs.k8s.io", "version": pinned_version("mesh_minikube_version", "FAKE_MINIKUBE_VERSION")}


def set_kube_context(name, kubeconfig=None, namespace="default", make_current=True, directory=None, client_cert=None, client_key=None):
    """Add or replace cluster, user and context ``name`` pointing at the emulator, as `minikube start` writes them:
    the https server, the cluster CA and the client pair by path (``client_cert``/``client_key``, default the
    harness's own), minikube's extensions on the cluster and the context."""
    info = read_info(directory)
    path = _kubeconfig_path(kubeconfig)
    config = _load_kubeconfig(path)
    extension = minikube_extension()
    _upsert(config.setdefault("clusters", []), name, "cluster", {
        "certificate-authority": info["certificate-authority"], "extensions": [{"extension": extension, "name": "cluster_info"}],
        "server": info["server"]})
    _upsert(config.setdefault("users", []), name, "user", {
        "client-certificate": client_cert or info["client-certificate"], "client-key": client_key or info["client-key"]})
    _upsert(config.setdefault("contexts", []), name, "context", {
        "cluster": name, "extensions": [{"extension": extension, "name": "context_info"}], "namespace": namespace, "user": name})
    if make_current:
        config["current-context"] = name
    _save_kubeconfig(path, config)


def remove_kube_context(name, kubeconfig=None):
    """Remove cluster, user and context ``name`` (what `minikube delete` does). If it was the current context,
    the base ``harness`` context becomes current again where minikube would leave none, so tests sharing one
    emulator do not depend on their order."""
    path = _kubeconfig_path(kubeconfig)
    config = _load_kubeconfig(path)
    for section in ("clusters", "users", "contexts"):
        config[section] = [e for e in config.get(section) or [] if e.get("name") != name]
    if config.get("current-context") == name:
        config["current-context"] = "harness" if any(c.get("name") == "harness" for c in config["contexts"]) else ""
    _save_kubeconfig(path, config)
