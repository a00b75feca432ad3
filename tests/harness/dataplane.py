"""A stand-in for the Istio ingress gateway and Bookinfo's productpage, on 127.0.0.1, for the offline cluster.

The emulator stores objects but moves no traffic. This server answers what a browser (or the traffic probe)
sees through the real gateway, deciding each answer from the objects stored in the emulator:

* ``GET /productpage`` answers 200 with a page that says ``Reviews served by: reviews-<version>-<pod>``, and
  draws stars the way the current productpage does (v2 black ``text-black-500``, v3 red ``text-red-500``).
  The reviews version follows the ``reviews`` VirtualService of the Bookinfo namespace when there is one:
  the first ``http`` route whose ``match`` fits (``headers: end-user: exact|prefix|regex``; productpage sends
  ``end-user: <name>`` once someone signed in), then a destination drawn by ``weight``, its ``subset`` mapped
  to a ``version`` label through the ``reviews`` DestinationRule. Without a VirtualService, versions take
  turns (v1, v2, v3), as Kubernetes' own load balancing spreads them. A subset that no DestinationRule
  defines makes the reviews call fail, as in Istio, and the page says reviews are unavailable.
* ``POST /login`` (form field ``username``) sets a ``session`` cookie and redirects to /productpage;
  ``GET /logout`` ends the session.

Pod names come from the emulator's Pods (``app=reviews``, ``version=<v>``) when it has them.

Command line (from the checkout, with the harness up)::

    python -m tests.harness.dataplane up [--dir DIR] [--namespace bookinfo]   # background; prints the URL
    python -m tests.harness.dataplane down [--dir DIR]

``up`` records ``{"url", "pid", "namespace"}`` in ``DIR/dataplane.json``. In pytest use :class:`DataPlane`.
"""

import argparse
import html
import http.server
import itertools
import os
import random
import re
import secrets
import sys
import threading
import urllib.parse

from tests.harness.fake_release import harness_dir, serve_until_terminated, start_background, stop_background

STATE_NAME = "dataplane"
VERSIONS = ("v1", "v2", "v3")
STARS = {"v2": "text-black-500", "v3": "text-red-500"}
NETWORKING = "/apis/networking.istio.io/v1/namespaces/%s/%s"


class Routing:
    """Picks the reviews version for one request from the objects stored in the emulator."""

    def __init__(self, harness, namespace, rng=None):
        self.harness = harness
        self.namespace = namespace
        self.rng = rng or random.Random()
        self._turns = itertools.cycle(VERSIONS)
        self._lock = threading.Lock()

    def _items(self, path):
        return (self.harness.get(path) or {}).get("items") or []

    def _is_reviews(self, host):
        short = host.split(".")
        return short[0] == "reviews" and (len(short) == 1 or short[1] == self.namespace)

    def virtual_service(self):
        services = [
            vs
            for vs in self._items(NETWORKING % (self.namespace, "virtualservices"))
            if any(self._is_reviews(host) for host in (vs.get("spec") or {}).get("hosts") or [])
        ]
        return min(services, key=lambda vs: vs["metadata"]["name"]) if services else None

    def subsets(self):
        for rule in self._items(NETWORKING % (self.namespace, "destinationrules")):
            spec = rule.get("spec") or {}
            if self._is_reviews(spec.get("host", "")):
                return {s["name"]: (s.get("labels") or {}).get("version") for s in spec.get("subsets") or []}
        return {}

    @staticmethod
    def _fits(match, headers):
        for name, rule in (match.get("headers") or {}).items():
            value = headers.get(name)
            if value is None:
                return False
            if "exact" in rule and value != rule["exact"]:
                return False
            if "prefix" in rule and not value.startswith(rule["prefix"]):
                return False
            if "regex" in rule and not re.fullmatch(rule["regex"], value):
                return False
        return True

    def _draw(self, destinations):
        weights = [d.get("weight", 0) for d in destinations]
        if not any(weights):
            weights = [1] * len(destinations)
        with self._lock:
            return self.rng.choices(destinations, weights=weights)[0]

    def version(self, headers):
        """The version serving this request, or ``None`` when the route leads nowhere (a missing subset)."""
        vs = self.virtual_service()
        if vs is None:
            with self._lock:
                return next(self._turns)
        for route in (vs.get("spec") or {}).get("http") or []:
            matches = route.get("match") or [{}]
            if not any(self._fits(m, headers) for m in matches):
                continue
            destination = self._draw(route.get("route") or [{}]).get("destination") or {}
            if "subset" not in destination:
                with self._lock:
                    return next(self._turns)
            return self.subsets().get(destination["subset"])
        return None

    def pod(self, version):
        pods = self._items("/api/v1/namespaces/%s/pods?labelSelector=app%%3Dreviews%%2Cversion%%3D%s" % (self.namespace, version))
        names = sorted(p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp"))
        return names[0] if names else "reviews-%s-dataplane" % version


def productpage(user, version, pod):
    """The parts of productpage's HTML that a probe classifies."""
    who = '<p class="user">%s</p>' % html.escape(user) if user else '<button>Sign in</button>'
    if version is None:
        reviews = "<p>Sorry, product reviews are currently unavailable for this book.</p>"
    else:
        stars = ""
        if version in STARS:
            stars = "".join('<span class="%s">&#9733;</span>' % STARS[version] for _ in range(5))
        reviews = "<p>An extremely entertaining play by Shakespeare.</p>%s<dl><dt>Reviews served by:</dt><dd><u>%s</u></dd></dl>" % (
            stars, html.escape(pod))
    return "<!DOCTYPE html><html><head><title>Simple Bookstore App</title></head><body>%s<h3>The Comedy of Errors</h3>%s</body></html>" % (
        who, reviews)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "istio-envoy"
    routing = None
    sessions = None

    def log_message(self, format, *args):  # noqa: A002 - the name http.server uses
        pass

    def _send(self, status, body=b"", headers=None, content_type="text/html; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _user(self):
        cookies = dict(
            part.strip().split("=", 1) for part in (self.headers.get("Cookie") or "").split(";") if "=" in part
        )
        return self.sessions.get(cookies.get("session", ""))

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/productpage":
            user = self._user()
            version = self.routing.version({"end-user": user} if user else {})
            pod = self.routing.pod(version) if version else None
            self._send(200, productpage(user, version, pod).encode())
        elif path == "/logout":
            self._send(302, headers={"Location": "/productpage", "Set-Cookie": "session=; Max-Age=0; Path=/"})
        else:
            self._send(404, b"", content_type="text/plain")

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path != "/login":
            self._send(404, b"", content_type="text/plain")
            return
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        user = (form.get("username") or [""])[0]
        if not user:
            self._send(400, b"username is required", content_type="text/plain")
            return
        token = secrets.token_hex(16)
        self.sessions[token] = user
        self._send(302, headers={"Location": "/productpage", "Set-Cookie": "session=%s; Path=/; HttpOnly" % token})


class DataPlane:
    """The server, bound to 127.0.0.1 on a free port; ``url`` is the gateway URL to give the roles."""

    def __init__(self, harness, namespace="bookinfo", rng=None, port=0):
        handler = type("Handler", (_Handler,), {"routing": Routing(harness, namespace, rng), "sessions": {}})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.harness.dataplane", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "serve"):
        command = sub.add_parser(name)
        command.add_argument("--dir")
        if name != "down":
            command.add_argument("--namespace", default="bookinfo")
        if name == "serve":
            command.add_argument("--port-file")
    args = parser.parse_args(argv)
    directory = harness_dir(args.dir)
    if args.command == "serve":
        from tests.harness.client import HarnessClient  # only the served process talks to the emulator

        os.environ["MESH_HARNESS_DIR"] = directory
        plane = DataPlane(HarnessClient.from_env(), args.namespace)
        return serve_until_terminated(plane.httpd, args.port_file, plane.url)
    if args.command == "down":
        stop_background(directory, STATE_NAME)
        return 0
    state = start_background(
        directory, STATE_NAME, ["tests.harness.dataplane", "serve", "--dir", directory, "--namespace", args.namespace],
        "/productpage", extra={"namespace": args.namespace},
    )
    print(state["url"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
