# -*- coding: utf-8 -*-
"""A local HTTP server with seeded, known behaviour, for the ``traffic_probe`` tests.

It listens on 127.0.0.1 on a free port, in a thread, for the length of a ``with`` block. Every
request that needs chance takes exactly one draw from one ``random.Random(seed)`` under a lock, so
the multiset of answers to ``n`` requests is the same on every run, however the probe's threads
interleave. Endpoints (weights and shares are percent):

``GET /weighted?v1=50&v3=50``
    A productpage-like page naming the reviews pod, ``Reviews served by: reviews-v1-<pod>``,
    its version drawn by the weights.
``GET /status?200=70&500=10&503=10&429=5&403=5``
    That status, drawn by the shares, with an ``X-Version`` header.
``GET /delay?fast_ms=20&slow_ms=200&slow=30``
    Waits ``slow_ms`` for ``slow`` percent of requests, ``fast_ms`` for the others.
``POST /login``
    Bookinfo's sign-in: a form with ``username`` and ``passwd``; sets the ``session`` cookie and
    redirects to the ``Referer`` (400 without one, as there is nowhere to go back to).
``GET /productpage?signed_in=v2&anonymous=v1&signed_in_delay_ms=0``
    Serves ``signed_in`` to a request whose session cookie names a user, ``anonymous`` otherwise;
    delays signed-in users by ``signed_in_delay_ms`` (the fault injection for jason).
``POST /login-nocookie``
    A sign-in that answers 302 and sets no cookie.
``GET /redirect?to=/weighted?v1=100``
    A 302 to ``to``.
``GET /drop``
    Closes the connection without answering.
"""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from tests.harness.loopback import LoopbackServer

_PAGE = """<html><body>
<h4 class="text-3xl font-semibold">Book Reviews</h4>
<div class="mt-0.5 text-gray-600 font-mono">Reviews served by:
                  reviews-{version}-7f9c6bd5d8-{pod}
</div>
<div class="mt-0.5 text-gray-600 font-mono">Reviews served by:
                  reviews-{version}-7f9c6bd5d8-{pod}
</div>
</body></html>
"""


class ProbeServer:
    """``with ProbeServer(seed) as server:`` ... ``server.url("/weighted?v1=50&v3=50")``."""

    def __init__(self, seed=0):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self.requests = []
        """Every request received: dicts of method, path, headers (lower-case names) and form."""
        self.sessions = {}
        """Session cookie value -> user name, as set by ``/login``."""

    def __enter__(self):
        self._server = LoopbackServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def url(self, path):
        host, port = self._server.server_address[:2]
        return "http://%s:%d%s" % (host, port, path)

    def count(self, path):
        """How many requests reached ``path`` (the part before ``?``)."""
        with self._lock:
            return sum(1 for request in self.requests if request["path"] == path)

    def draw(self, weights):
        """One seeded draw: a key of ``weights`` ``{key: percent}`` in proportion to its weight."""
        with self._lock:
            point = self._rng.random() * sum(weights.values())
        for key, weight in weights.items():
            point -= weight
            if point < 0:
                return key
        return key

    def record(self, entry):
        with self._lock:
            self.requests.append(entry)

    def new_session(self, user):
        with self._lock:
            token = "s%04d" % len(self.sessions)
            self.sessions[token] = user
            return token

    def user_of(self, cookie_header):
        for part in (cookie_header or "").split(";"):
            name, dummy, value = part.strip().partition("=")
            if name == "session":
                with self._lock:
                    return self.sessions.get(value)
        return None


def _weights(query):
    return dict((key, float(value)) for key, value in query.items())


def _handler_for(server):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - the base class names it so
            pass

        def _answer(self, status, body="", headers=None):
            payload = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _receive(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)) if length else {}
            server.record(dict(
                method=self.command,
                path=parts.path,
                headers=dict((name.lower(), value) for name, value in self.headers.items()),
                form=form,
            ))
            return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), form

        def do_POST(self):
            path, _query, form = self._receive()
            if path == "/login":
                referer = self.headers.get("Referer")
                if not referer:
                    self._answer(400, "no Referer to return to")
                    return
                token = server.new_session(form.get("username"))
                self._answer(302, headers={"Location": referer, "Set-Cookie": "session=%s; Path=/; HttpOnly" % token})
            elif path == "/login-nocookie":
                self._answer(302, headers={"Location": "/"})
            else:
                self._answer(404, "not found")

        def do_GET(self):
            path, query, _form = self._receive()
            if path == "/weighted":
                version = server.draw(_weights(query))
                self._answer(200, _PAGE.format(version=version, pod="x2k4p"))
            elif path == "/status":
                status = server.draw(_weights(query))
                self._answer(int(status), "status %s" % status, {"X-Version": "httpbin-v1"})
            elif path == "/delay":
                slow = server.draw({"slow": float(query["slow"]), "fast": 100.0 - float(query["slow"])}) == "slow"
                time.sleep(float(query["slow_ms" if slow else "fast_ms"]) / 1000.0)
                self._answer(200, "slept")
            elif path == "/productpage":
                user = server.user_of(self.headers.get("Cookie"))
                if user:
                    time.sleep(float(query.get("signed_in_delay_ms", 0)) / 1000.0)
                version = query.get("signed_in", "v2") if user else query.get("anonymous", "v1")
                self._answer(200, _PAGE.format(version=version, pod="q8w7e"))
            elif path == "/redirect":
                self._answer(302, headers={"Location": query["to"]})
            elif path == "/drop":
                self.close_connection = True
            else:
                self._answer(404, "not found")

    return Handler
