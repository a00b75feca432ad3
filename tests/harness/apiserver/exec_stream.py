"""``pods/exec`` of the emulator: the WebSocket stream kube-apiserver serves, on the standard library.

What a client sees (the python ``kubernetes`` client's ``stream()`` behind kubernetes.core ``k8s_exec``, and
kubectl 1.37's WebSocket executor):

* A GET (or POST) on ``/api/v1/namespaces/<ns>/pods/<name>/exec?command=..&command=..&container=..&stdout=1``
  with ``Upgrade: websocket``. A missing pod answers 404, a missing or unnamed container 400, as plain HTTP
  Status objects before any upgrade (what the real API server's ``ExecLocation`` does).
* ``101 Switching Protocols`` with the first of ``v5.channel.k8s.io``, ``v4.channel.k8s.io`` the client offers.
* Binary frames whose first byte is the channel: 1 stdout, 2 stderr, 3 the error channel, which carries a
  ``metav1.Status`` JSON: ``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and the exit code as
  ``details.causes[{reason: ExitCode, message: "N"}]``. Then a close frame (1000).

Who answers the command: the data-plane stand-in registers itself with ``POST /_harness/exec-backend
{"url": ...}`` and gets ``POST <url>/_dataplane/exec {namespace, pod, container, command, labels, podIP}``,
plus the pod's ``annotations`` and ``images``, answering ``{"stdout", "stderr", "code"}``. Without one, every command exits 126 with a message on stderr.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import urllib.parse
import urllib.request

from .common import ApiError

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# The server's preference, newest first (kube-apiserver prefers v5 too).
SUBPROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT, STDERR, ERROR = 1, 2, 3
FRAME_LIMIT = 64 * 1024


class Backend:
    """Where exec'd commands are answered: the URL the data-plane stand-in registered (None: none)."""

    def __init__(self):
        self.url = None

    def run(self, request):
        """``(stdout bytes, stderr bytes, exit code)`` of one command."""
        if not self.url:
            return b"", ("harness: no data-plane stand-in is registered to run %s in %s/%s; start tests.harness.dataplane\n"
                         % (json.dumps(request["command"]), request["pod"], request["container"])).encode(), 126
        data = json.dumps(request).encode()
        req = urllib.request.Request(self.url.rstrip("/") + "/_dataplane/exec", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=600) as answer:
                result = json.loads(answer.read())
        except (OSError, ValueError) as exc:
            return b"", ("harness: the data-plane stand-in at %s did not answer the exec: %s\n" % (self.url, exc)).encode(), 126
        return result.get("stdout", "").encode(), result.get("stderr", "").encode(), int(result.get("code", 0))


def wants_upgrade(headers):
    return headers.get("Upgrade", "").lower() == "websocket" and "upgrade" in headers.get("Connection", "").lower()


def images(pod):
    """``{container: image}`` over the containers an exec may name: app, init (native sidecars) and ephemeral."""
    spec = pod.get("spec") or {}
    return {c["name"]: c.get("image", "") for kind in ("containers", "initContainers", "ephemeralContainers")
            for c in spec.get(kind) or []}


def _container(pod, name):
    """The container an exec runs in, or the 400 kube-apiserver answers."""
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    pod_name = pod["metadata"]["name"]
    if not name:
        if len(containers) == 1:
            return containers[0]
        raise ApiError(400, "BadRequest", "a container name must be specified for pod %s, choose one of: [%s]" % (pod_name, " ".join(containers)))
    if name not in images(pod):
        raise ApiError(400, "BadRequest", "container %s is not valid for pod %s" % (name, pod_name))
    return name


def status_of(code, command):
    """The error channel's metav1.Status for an exit code, as the kubelet writes it."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": "command terminated with non-zero exit code: error executing command [%s], exit code %d" % (" ".join(command), code),
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def frame(payload, opcode=0x2):
    """One unmasked, final WebSocket frame (a server never masks)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()


def serve(handler, pod, backend):
    """Answer one exec request on ``handler`` (a BaseHTTPRequestHandler) for the stored ``pod``."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query, keep_blank_values=True)
    command = query.get("command") or []
    container = _container(pod, (query.get("container") or [""])[-1])
    if not command:
        raise ApiError(400, "BadRequest", "you must specify at least 1 command")
    if not wants_upgrade(handler.headers):
        upgrade = handler.headers.get("Upgrade", "")
        raise ApiError(400, "BadRequest", "Upgrade request required" if not upgrade else
                       "the harness serves pods/exec over WebSocket only, not %s" % upgrade)
    offered = [p.strip() for p in handler.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    chosen = next((p for p in SUBPROTOCOLS if p in offered), None)
    key = handler.headers.get("Sec-WebSocket-Key", "")
    if chosen is None or not key:
        raise ApiError(400, "BadRequest", "the harness serves exec over WebSocket subprotocols %s; offered: %s"
                       % (", ".join(SUBPROTOCOLS), ", ".join(offered) or "none"))
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(key))
    handler.send_header("Sec-WebSocket-Protocol", chosen)
    handler.end_headers()
    handler.close_connection = True
    meta = pod["metadata"]
    stdout, stderr, code = backend.run({"namespace": meta.get("namespace"), "pod": meta["name"], "container": container,
                                        "command": command, "labels": meta.get("labels") or {},
                                        "annotations": meta.get("annotations") or {}, "images": images(pod),
                                        "podIP": (pod.get("status") or {}).get("podIP")})
    out = handler.wfile
    try:
        for channel, data, wanted in ((STDOUT, stdout, "stdout"), (STDERR, stderr, "stderr")):
            if (query.get(wanted) or ["0"])[-1] not in ("1", "true"):
                continue
            for start in range(0, len(data), FRAME_LIMIT):
                out.write(frame(bytes([channel]) + data[start:start + FRAME_LIMIT]))
        out.write(frame(bytes([ERROR]) + json.dumps(status_of(code, command)).encode()))
        out.write(frame(struct.pack("!H", 1000), opcode=0x8))
        out.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass
