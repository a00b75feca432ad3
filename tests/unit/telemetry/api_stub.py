# -*- coding: utf-8 -*-
"""A local HTTP server that answers like the observability tools' APIs, from recorded answer shapes.

``with ApiStub({"/api/v1/query": "prometheus_empty.json"}) as stub:`` serves each path with the JSON
of that fixture (tests/fixtures/telemetry/), or ``(status, fixture)`` for another status, on
127.0.0.1 at a free port, in a thread, for the length of the block. Unknown paths answer 404 with an
Elasticsearch-like error body. ``stub.requests`` holds ``(method, path, query dict, headers)``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "telemetry"


def fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class ApiStub:
    def __init__(self, routes):
        self.routes = {path: (answer if isinstance(answer, tuple) else (200, answer)) for path, answer in routes.items()}
        self.requests = []
        self._server = None
        self._thread = None

    def __enter__(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                stub.requests.append(("GET", parts.path, dict(parse_qsl(parts.query)), dict(self.headers)))
                status, name = stub.routes.get(parts.path, (404, None))
                body = json.dumps(fixture(name) if name else {"error": "no route %s" % parts.path}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self._server.server_address[1]
