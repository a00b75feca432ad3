"""The HTTP side of the emulator: Kubernetes REST paths, discovery, OpenAPI index, watches, plus the
``/_harness/*`` control endpoints (request statistics, fault injection, object dump, pod log lines).

``Handler`` reads requests and dispatches them; what it serves is in one part per job: ``routing.py``
(Kubernetes paths, discovery, the verbs), ``watch.py`` and ``control.py`` (the ``/_harness/*`` endpoints).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from .. import loopback

from . import authn, exec_stream, protobuf
from .api import Api
from .common import ApiError
from .control import Control, ControlMixin
from .routing import RoutingMixin
from .watch import WatchMixin


class Handler(RoutingMixin, WatchMixin, ControlMixin, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "harness-apiserver"
    api: Api = None
    control: Control = None
    exec_backend: exec_stream.Backend = None

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), format % args))

    # ---- plumbing --------------------------------------------------------------------------------
    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, code, payload, content_type="application/json", headers=None):
        data = payload if isinstance(payload, bytes) else (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers.items() if isinstance(headers, dict) else headers or ()):
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, err):
        self._send(err.code, err.status())

    def do_GET(self):  # noqa: N802 - the names BaseHTTPRequestHandler dispatches to
        self._dispatch()

    def do_POST(self):  # noqa: N802
        self._dispatch()

    def do_PUT(self):  # noqa: N802
        self._dispatch()

    def do_PATCH(self):  # noqa: N802
        self._dispatch()

    def do_DELETE(self):  # noqa: N802
        self._dispatch()

    def _authenticated(self, path, params):
        """False (the answer sent) when kube-apiserver would refuse the request's credentials (see ``authn.py``)."""
        user = authn.user_of(self.connection.getpeercert()) if hasattr(self.connection, "getpeercert") else None
        refusal = None
        if user is None and self.headers.get("Authorization") is not None:
            refusal = authn.unauthorized()  # no token is known: any bearer token is refused
        elif user is None and not authn.anonymous_allowed(path):
            refusal = authn.forbidden(self.command, path, params)
        if refusal:
            self._send(*refusal)
        return refusal is None

    def _dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        body = self._body()
        if not self._authenticated(url.path, params):
            return
        try:
            content_type = self.headers.get("Content-Type", "")
            if "cbor" in content_type:
                # client-go retries a CBOR request as JSON after a 415; it never does so for protobuf.
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: "
                               f"application/json, application/yaml, {protobuf.MEDIA_TYPE}")
            if protobuf.MEDIA_TYPE in content_type and body:
                body = protobuf.to_json(body)
                self.headers.replace_header("Content-Type", "application/json")
            if url.path.startswith("/_harness/"):
                self._control(url.path, body)
            else:
                self._api(url.path, params, body)
        except ApiError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def write_json_atomic(path, data):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)


def serve(directory, tls, port=0):
    """Run the emulator until SIGTERM/SIGINT, announcing itself in DIR/harness.json once it listens.

    ``tls``: ``{"cert", "key", "client_ca"}`` to serve (kube-apiserver's ``--tls-cert-file``, ``--tls-private-key-file``,
    ``--client-ca-file``), plus ``client_cert``/``client_key``, the pair the harness's own clients use (announced only).
    """
    Handler.api = Api()
    Handler.control = Control()
    Handler.exec_backend = exec_stream.Backend()
    context = loopback.server_tls_context(tls["cert"], tls["key"], tls["client_ca"])
    server = loopback.LoopbackServer(("127.0.0.1", port), Handler, context)
    address = f"{server.scheme}://127.0.0.1:{server.server_address[1]}"

    def stop(signum, frame):
        del frame
        sys.stderr.write(f"received signal {signum}, stopping\n")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_json_atomic(os.path.join(directory, "harness.json"), {
        "server": address, "pid": os.getpid(), "dir": directory, "certificate-authority": tls["client_ca"],
        "client-certificate": tls.get("client_cert"), "client-key": tls.get("client_key")})
    sys.stderr.write(f"harness API emulator listening on {address} (pid {os.getpid()})\n")
    sys.stderr.flush()
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    sys.stderr.write("stopped\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.harness.apiserver", description="Kubernetes API emulator (foreground).")
    parser.add_argument("--dir", required=True, help="directory to announce harness.json in")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--tls-cert-file", required=True, help="serving certificate (PEM)")
    parser.add_argument("--tls-private-key-file", required=True, help="its key")
    parser.add_argument("--client-ca-file", required=True, help="CA that signs client certificates (and the serving one)")
    parser.add_argument("--client-certificate", help="client certificate announced in harness.json for the harness's clients")
    parser.add_argument("--client-key", help="its key")
    args = parser.parse_args(argv)
    tls = {"cert": args.tls_cert_file, "key": args.tls_private_key_file, "client_ca": args.client_ca_file,
           "client_cert": args.client_certificate, "client_key": args.client_key}
    serve(os.path.abspath(args.dir), tls, args.port)
    return 0
