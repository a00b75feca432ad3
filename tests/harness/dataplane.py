"""A stand-in for the Istio ingress gateway, Bookinfo and httpbin, on 127.0.0.1, for the offline cluster.

The emulator stores objects but moves no traffic. This server answers what a client sees through the real
mesh, deciding each answer from the objects stored in the emulator at the time of the request (so a change
applied by a role shows on the next request). What it emulates, and what it does not, is listed in the
"Data plane" section of tests/harness/README.md; in short:

* ``GET /productpage``: the page names ``Reviews served by: reviews-<version>-<pod>`` and draws stars the way
  the current productpage does (v2 black ``text-black-500``, v3 red ``text-red-500``). The reviews version
  follows the ``reviews`` VirtualService (first ``http`` route whose ``match`` fits ``end-user``, a destination
  drawn by ``weight``, its ``subset`` mapped to a ``version`` through the DestinationRule). reviews v2 and v3
  call ratings, through the ``ratings`` VirtualService and its ``fault`` (``delay``, ``abort``).
  productpage waits ``productpage_timeout`` seconds (Bookinfo: 3) for reviews and tries twice.
* ``POST /login`` (form field ``username``) sets a ``session`` cookie; productpage then sends ``end-user``.
* Gateway filters in the gateway's namespace, in Envoy's order: an EnvoyFilter ``local_ratelimit`` (429) and
  AuthorizationPolicies with IP blocks (403 ``RBAC: access denied``).
* A request with ``Host: httpbin[:8000]`` is a call from inside the mesh to httpbin: routed by the ``httpbin``
  VirtualService, copied by its ``mirror``, answered by ``/hostname`` etc., and logged as one line per
  request in the answering pod's log (``kubectl logs``), as go-httpbin does.
* ``POST /_dataplane/exec``: a command the emulator's ``pods/exec`` runs in a pod (:class:`Exec`), answered as
  the container's tool would (curl, ``fortio load`` with its report on stderr, ``pilot-agent request GET stats``),
  with its stdout, stderr and exit code. The gateway judges the TCP peer (Istio's default of 0 trusted
  X-Forwarded-For hops): the connection's source, or for a curl exec'd in a pod, that pod's address.

Command line (from the checkout, with the harness up)::

    python -m tests.harness.dataplane up [--dir DIR] [--namespace bookinfo] [--productpage-timeout 3]
    python -m tests.harness.dataplane down [--dir DIR]

``up`` records ``{"url", "pid", "namespace", "productpage_timeout"}`` in ``DIR/dataplane.json`` and restarts a
running stand-in whose settings differ. In pytest use :class:`DataPlane`.
"""

import argparse
import datetime
import html
import http.client
import http.server
import ipaddress
import itertools
import json
import os
import re
import secrets
import shlex
import sys
import threading
import time
import urllib.parse

from tests.harness.client import HarnessError
from tests.harness.loopback import BackgroundServer
from tests.harness import service

STATE_NAME = "dataplane"
HEALTH_PATH = "/_dataplane/healthz"
EXEC_PATH = "/_dataplane/exec"
PORTFORWARD_PATH = "/_dataplane/portforward"
# The ingress gateway container's port behind the Service's http2 port 80: what this stand-in answers for.
GATEWAY_HTTP_PORT = 8080
# Set only on the stand-in's requests to itself for a command exec'd in a pod: the pod's address, the TCP peer
# a gateway would see for that request. Requests from outside carry their real peer (client_address).
PEER_HEADER = "X-Dataplane-Pod-Peer"
# Versions a service has when the emulator holds no pods of it (Bookinfo's own Deployments).
DEFAULT_VERSIONS = {"reviews": ("v1", "v2", "v3")}
STARS = {"v2": "text-black-500", "v3": "text-red-500"}
NETWORKING = "/apis/networking.istio.io/v1/namespaces/%s/%s"
ENVOY_FILTERS = "/apis/networking.istio.io/v1alpha3/namespaces/%s/envoyfilters"
AUTHORIZATION_POLICIES = "/apis/security.istio.io/v1/namespaces/%s/authorizationpolicies"
# The labels of the ingress gateway's pods in Istio's default installation, which selectors match.
GATEWAY_LABELS = {"app": "istio-ingressgateway", "istio": "ingressgateway"}
# Bookinfo: productpage gives reviews 3 s per try and tries twice; reviews v2/v3 give ratings 10 s.
PRODUCTPAGE_TIMEOUT = 3.0
PRODUCTPAGE_TRIES = 2
RATINGS_TIMEOUT = 10.0
LOCAL_RATELIMIT = "envoy.filters.http.local_ratelimit"
DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(h|m|s|ms|us|µs|ns)$")
DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
DENOMINATORS = {"HUNDRED": 100, "TEN_THOUSAND": 10000, "MILLION": 1000000}


class NotEmulated(Exception):
    """A stored object uses a field the stand-in does not emulate; the request answers 500 naming it."""


def seconds(duration):
    """An Istio/protobuf duration (``7s``, ``500ms``, ``1m``) in seconds."""
    found = DURATION.match(str(duration).strip())
    if not found:
        raise NotEmulated("duration %r is not a number with a unit h, m, s, ms, us or ns" % (duration,))
    return float(found.group(1)) * DURATION_UNITS[found.group(2)]


def _percentage(value, default=100.0):
    """Istio's ``percentage: {value: p}`` as a fraction; a missing one means ``default`` percent."""
    if value is None:
        return default / 100.0
    return float(value.get("value", 0)) / 100.0


def _runtime_fraction(value):
    """Envoy's RuntimeFractionalPercent ``default_value``; a missing one is 0, as Envoy defaults it for safety."""
    fraction = (value or {}).get("default_value") or {}
    return float(fraction.get("numerator", 0)) / DENOMINATORS[fraction.get("denominator", "HUNDRED")]


class Routing:
    """Decides routes, faults and gateway filters for one request from the objects stored in the emulator."""

    def __init__(self, harness, namespace, gateway_namespace="istio-system"):
        self.harness = harness
        self.namespace = namespace
        self.gateway_namespace = gateway_namespace
        self._spreads = {}
        self._turns = {}
        self._buckets = {}
        self._lock = threading.Lock()
        self._reads = threading.Lock()

    def _items(self, path):
        # One read at a time: the emulator listens with a small backlog, and a burst of concurrent pages would
        # overflow it and wait for TCP's one-second retry, a latency that is the emulator's, not the mesh's.
        with self._reads:
            return (self.harness.get(path) or {}).get("items") or []

    def _spread(self, key, weights):
        """The index chosen for this request by smooth weighted round robin over ``weights``.

        Envoy draws at random; the stand-in spreads evenly instead, so every run of requests has the configured
        shares (to within one request) and a probe's statistical test passes or fails by the configuration, never
        by chance. The statistics themselves are tested in traffic_probe's unit tests, against random servers.
        """
        with self._lock:
            current = self._spreads.setdefault(key, [0.0] * len(weights))
            for index, weight in enumerate(weights):
                current[index] += weight
            chosen = max(range(len(weights)), key=current.__getitem__)
            current[chosen] -= sum(weights)
            return chosen

    def _happens(self, key, fraction):
        """Whether an event of that share of the requests (a fault, a mirrored copy) happens to this one."""
        if fraction <= 0 or fraction >= 1:
            return fraction >= 1
        return self._spread(key, [fraction, 1 - fraction]) == 0

    def is_host(self, service, host):
        """Whether ``host`` (short or ``<name>.<namespace>...``) names ``service`` of the namespace."""
        short = host.split(".")
        return short[0] == service and (len(short) == 1 or short[1] == self.namespace)

    # -- Routes ------------------------------------------------------------------------------------
    def virtual_service(self, service="reviews"):
        services = [
            vs
            for vs in self._items(NETWORKING % (self.namespace, "virtualservices"))
            if any(self.is_host(service, host) for host in (vs.get("spec") or {}).get("hosts") or [])
        ]
        return min(services, key=lambda vs: vs["metadata"]["name"]) if services else None

    def subsets(self, service="reviews"):
        for rule in self._items(NETWORKING % (self.namespace, "destinationrules")):
            spec = rule.get("spec") or {}
            if self.is_host(service, spec.get("host", "")):
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
        return destinations[self._spread(("route", json.dumps(destinations, sort_keys=True)), weights)]

    def route(self, service, headers):
        """The ``http`` route of ``service`` that fits the request: ``{}`` without a VirtualService, ``None`` when none fits."""
        vs = self.virtual_service(service)
        if vs is None:
            return {}
        for route in (vs.get("spec") or {}).get("http") or []:
            if any(self._fits(m, headers) for m in route.get("match") or [{}]):
                return route
        return None

    def _take_turn(self, service):
        versions = sorted({
            (p["metadata"].get("labels") or {}).get("version")
            for p in self._items("/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s" % (self.namespace, service))
        } - {None}) or DEFAULT_VERSIONS.get(service, ("v1",))
        with self._lock:
            turns = self._turns.setdefault((service, tuple(versions)), itertools.cycle(versions))
            return next(turns)

    def destination_version(self, service, destination):
        """The version a destination leads to, or ``None`` when its subset is defined by no DestinationRule."""
        if "subset" not in destination:
            # No subset: the Service balances over every version, as Kubernetes does.
            return self._take_turn(service)
        return self.subsets(service).get(destination["subset"])

    def routed_version(self, service, route):
        """The version a fitting route (``{}``: no VirtualService) sends one request to; ``None`` for an undefined subset."""
        if not route:
            return self._take_turn(service)
        return self.destination_version(service, self._draw(route.get("route") or [{}]).get("destination") or {})

    def version(self, headers, service="reviews"):
        """The version serving this request, or ``None`` when the route leads nowhere (no route, a missing subset)."""
        route = self.route(service, headers)
        return None if route is None else self.routed_version(service, route)

    def fault(self, route):
        """The fault a route injects into one call: ``(delay seconds, abort status or None)``."""
        fault = (route or {}).get("fault") or {}
        key = json.dumps(route, sort_keys=True)
        delay, abort = 0.0, None
        if "delay" in fault and self._happens(("delay", key), _percentage(fault["delay"].get("percentage"))):
            delay = seconds(fault["delay"].get("fixedDelay", "0s"))
        if "abort" in fault and self._happens(("abort", key), _percentage(fault["abort"].get("percentage"))):
            abort = int(fault["abort"].get("httpStatus", 503))
        return delay, abort

    def pod(self, service, version):
        selector = "app%%3D%s%%2Cversion%%3D%s" % (service, version)
        pods = self._items("/api/v1/namespaces/%s/pods?labelSelector=%s" % (self.namespace, selector))
        names = sorted(p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp"))
        return names[0] if names else None

    # -- Bookinfo ------------------------------------------------------------------------------------
    def ratings_call(self, headers):
        """One call from reviews to ratings: ``(seconds it took, whether ratings answered)``."""
        route = self.route("ratings", headers)
        if route is None:
            return 0.0, False
        delay, abort = self.fault(route)
        if abort is not None:
            return delay, False
        if delay >= RATINGS_TIMEOUT:
            return RATINGS_TIMEOUT, False
        if self.routed_version("ratings", route) is None:
            return delay, False
        return delay, True

    def reviews(self, headers, timeout):
        """productpage's calls to reviews: ``(seconds the page waited, version or None, ratings answered)``."""
        waited = 0.0
        for _attempt in range(PRODUCTPAGE_TRIES):
            version = self.version(headers)
            if version is None:
                continue
            took, rated = self.ratings_call(headers) if version in STARS else (0.0, True)
            if took < timeout:
                return waited + took, version, rated
            waited += timeout
        return waited, None, False

    # -- Gateway filters -----------------------------------------------------------------------------
    def _selects_gateway(self, selector):
        return (selector or {}).items() <= GATEWAY_LABELS.items()

    def rate_limited(self):
        """The headers of a 429 when a local rate limit at the gateway has no token left, else ``None``."""
        for envoy_filter in self._items(ENVOY_FILTERS % self.gateway_namespace):
            spec = envoy_filter.get("spec") or {}
            if not self._selects_gateway((spec.get("workloadSelector") or {}).get("labels")):
                continue
            for number, patch in enumerate(spec.get("configPatches") or []):
                value = (patch.get("patch") or {}).get("value") or {}
                if patch.get("applyTo") != "HTTP_FILTER" or value.get("name") != LOCAL_RATELIMIT:
                    continue
                config = value.get("typed_config") or {}
                key = (envoy_filter["metadata"].get("uid"), envoy_filter["metadata"].get("resourceVersion"), number)
                if self._take_token(key, config.get("token_bucket") or {}):
                    continue
                if self._happens(("enabled",) + key, _runtime_fraction(config.get("filter_enabled"))) and \
                        self._happens(("enforced",) + key, _runtime_fraction(config.get("filter_enforced"))):
                    return {h["header"]["key"]: h["header"]["value"] for h in config.get("response_headers_to_add") or []}
        return None

    def _take_token(self, key, bucket):
        """Envoy's token bucket: starts full, gains tokens_per_fill every fill_interval up to max_tokens."""
        most = int(bucket.get("max_tokens", 1))
        per_fill = int(bucket.get("tokens_per_fill", 1))
        interval = seconds(bucket.get("fill_interval", "1s"))
        now = time.monotonic()
        with self._lock:
            tokens, since = self._buckets.get(key, (most, now))
            fills = int((now - since) // interval)
            if fills:
                tokens, since = min(most, tokens + fills * per_fill), since + fills * interval
            taken = tokens > 0
            self._buckets[key] = (tokens - 1 if taken else tokens, since)
            return taken

    def authorized(self, peer, remote, path, method):
        """Whether the gateway's AuthorizationPolicies let the request through (DENY first, then ALLOW)."""
        allow = []
        for policy in self._items(AUTHORIZATION_POLICIES % self.gateway_namespace):
            spec = policy.get("spec") or {}
            if "targetRef" in spec or "targetRefs" in spec:
                raise NotEmulated("AuthorizationPolicy %s: targetRefs" % policy["metadata"]["name"])
            if not self._selects_gateway((spec.get("selector") or {}).get("matchLabels")):
                continue
            action = spec.get("action", "ALLOW")
            if action == "CUSTOM":
                raise NotEmulated("AuthorizationPolicy %s: action CUSTOM" % policy["metadata"]["name"])
            matched = any(self._rule_fits(rule, peer, remote, path, method, policy) for rule in spec.get("rules") or [])
            if action == "DENY" and matched:
                return False
            if action == "ALLOW":
                allow.append(matched)
        return not allow or any(allow)

    @staticmethod
    def _rule_fits(rule, peer, remote, path, method, policy):
        unknown = set(rule) - {"from", "to"}
        if unknown:
            raise NotEmulated("AuthorizationPolicy %s: rule fields %s" % (policy["metadata"]["name"], ", ".join(sorted(unknown))))

        def within(address, blocks):
            return any(ipaddress.ip_address(address) in ipaddress.ip_network(block, strict=False) for block in blocks)

        def source_fits(source):
            addresses = {"ipBlocks": peer, "remoteIpBlocks": remote}
            unknown = set(source) - {"ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"}
            if unknown:
                raise NotEmulated("AuthorizationPolicy %s: source fields %s" % (policy["metadata"]["name"], ", ".join(sorted(unknown))))
            return all(within(addresses[field], source[field]) for field in addresses if field in source) and not any(
                within(addresses[field[3].lower() + field[4:]], source[field]) for field in ("notIpBlocks", "notRemoteIpBlocks")
                if field in source)

        def value_fits(value, patterns):
            return any(p == "*" or value == p or (p.endswith("*") and value.startswith(p[:-1]))
                       or (p.startswith("*") and value.endswith(p[1:])) for p in patterns)

        def operation_fits(operation):
            unknown = set(operation) - {"paths", "notPaths", "methods", "notMethods"}
            if unknown:
                raise NotEmulated("AuthorizationPolicy %s: operation fields %s" % (policy["metadata"]["name"], ", ".join(sorted(unknown))))
            values = {"paths": path, "methods": method}
            return all(value_fits(values[f], operation[f]) for f in values if f in operation) and not any(
                value_fits(values[f], operation["not" + f.capitalize()]) for f in values if "not" + f.capitalize() in operation)

        sources = [entry.get("source") or {} for entry in rule.get("from") or [{}]]
        operations = [entry.get("operation") or {} for entry in rule.get("to") or [{}]]
        return any(source_fits(s) for s in sources) and any(operation_fits(o) for o in operations)

    # -- httpbin -----------------------------------------------------------------------------------
    def mirrors(self, route):
        """The destinations a route copies this request to (``mirror`` + ``mirrorPercentage``, or ``mirrors``)."""
        copies = []
        key = json.dumps(route, sort_keys=True)
        if route and "mirror" in route and self._happens(("mirror", key), _percentage(route.get("mirrorPercentage"))):
            copies.append(route["mirror"])
        for number, mirror in enumerate((route or {}).get("mirrors") or []):
            if self._happens(("mirrors", number, key), _percentage(mirror.get("percentage"))):
                copies.append(mirror.get("destination") or {})
        return copies


def productpage(user, version, pod, rated=True):
    """The parts of productpage's HTML that a probe classifies."""
    who = '<p class="user">%s</p>' % html.escape(user) if user else '<button>Sign in</button>'
    if version is None:
        reviews = "<p>Sorry, product reviews are currently unavailable for this book.</p>"
    else:
        stars = ""
        if version in STARS:
            if rated:
                stars = '<span class="%s">&#9733;</span>' % STARS[version] * 5
            else:
                stars = '<p><i>Ratings service is currently unavailable</i></p>'
        reviews = "<p>An extremely entertaining play by Shakespeare.</p>%s<dl><dt>Reviews served by:</dt><dd><u>%s</u></dd></dl>" % (
            stars, html.escape(pod))
    return "<!DOCTYPE html><html><head><title>Simple Bookstore App</title></head><body>%s<h3>The Comedy of Errors</h3>%s</body></html>" % (
        who, reviews)


def httpbin_log_line(status, method, uri, size, user_agent, client):
    """One request line in the shape of go-httpbin's request log."""
    return 'time="%s" status=%d method="%s" uri="%s" size_bytes=%d duration_ms=0.05 user_agent="%s" client_ip=%s' % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), status, method, uri, size, user_agent, client)


# -- Commands exec'd in pods (pods/exec of the emulator) -----------------------------------------------
SHELLS = ("sh", "/bin/sh", "bash", "/bin/bash", "ash", "/bin/ash")
# What each image has on its PATH: curlimages/curl is Alpine with busybox, fortio/fortio and go-httpbin are
# a single static binary with no shell, Istio's proxyv2 is Ubuntu with pilot-agent and envoy.
BUSYBOX = {"sh", "echo", "seq", "true", "false", "cat", "hostname"}
TOOLS = (("curlimages/curl", BUSYBOX | {"curl"}), ("fortio/fortio", {"fortio"}), ("go-httpbin", {"go-httpbin"}),
         ("istio/proxyv2", BUSYBOX | {"pilot-agent", "envoy", "curl"}))
FOR_SEQ = re.compile(r"^\s*for\s+(\w+)\s+in\s+\$\(seq\s+(\d+)\)\s*;\s*do\s+(.*?);?\s*done\s*$", re.S)
UNLIMITED = 2 ** 32 - 1
OVERFLOW_STAT = "upstream_rq_pending_overflow"


def _split_top(script, separators=";\n"):
    """A shell script's commands, split at separators outside quotes."""
    parts, current, quote = [], "", None
    for char in script:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in separators:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


class Exec:
    """One command run in a pod's container, answered as the container's own tool would: ``{stdout, stderr, code}``.

    Emulated: ``sh -c`` with ``;``-separated commands and ``for VAR in $(seq N); do ...; done``; ``echo``;
    ``curl [-s] [-S] [-o FILE] [-w FMT] [-H H] URL`` to httpbin or the ingress gateway's Service (the gateway
    sees the pod's address as the TCP peer); ``fortio load`` (its report on stderr, as fortio writes it), whose
    503s follow the connection pool of the stored DestinationRule; ``pilot-agent request GET stats`` (stdout).
    Anything else exits 127 with a shell's message on stderr.
    """

    stats = {}  # (namespace, pod) -> {stat name: value}, the pod proxy's counters since the stand-in started
    stats_lock = threading.Lock()

    def __init__(self, routing, port, request):
        self.routing, self.port, self.request = routing, port, request
        self.namespace = request.get("namespace") or routing.namespace
        self.container = request.get("container", "")
        image = (request.get("images") or {}).get(self.container, "")
        self.tools = next((tools for name, tools in TOOLS if name in image), BUSYBOX)
        self.stdout, self.stderr = [], []

    def run(self):
        argv = list(self.request.get("command") or [])
        if argv[:1] and argv[0] in SHELLS and argv[0].rsplit("/", 1)[-1] in self.tools:
            if argv[1:2] != ["-c"] or len(argv) < 3:
                code = self._fail("%s: interactive shells are not emulated (give -c SCRIPT)\n" % argv[0], 2)
            else:
                code = self._script(argv[2])
        elif argv[:1] and argv[0] in SHELLS:
            code = self._fail('exec: "%s": executable file not found in $PATH\n' % argv[0], 127)
        else:
            code = self._command(argv, shell=False)
        return {"stdout": "".join(self.stdout), "stderr": "".join(self.stderr), "code": code}

    def _fail(self, message, code):
        self.stderr.append(message)
        return code

    def _script(self, script):
        loop = FOR_SEQ.match(script)
        commands, times = (_split_top(loop.group(3)), int(loop.group(2))) if loop else (_split_top(script), 1)
        code = 0
        for _turn in range(times):
            for command in commands:
                try:
                    argv = shlex.split(command)
                except ValueError:
                    return self._fail("sh: syntax error: unterminated quoted string\n", 2)
                code = self._command(argv, shell=True)
        return code

    def _command(self, argv, shell):
        name = argv[0] if argv else ""
        if name.rsplit("/", 1)[-1] not in self.tools:
            if shell:
                return self._fail("sh: %s: not found\n" % name, 127)
            return self._fail('exec: "%s": executable file not found in $PATH\n' % name, 127)
        tool = name.rsplit("/", 1)[-1]
        if tool == "echo":
            args = argv[1:]
            newline = not (args[:1] == ["-n"])
            self.stdout.append(" ".join(args[0 if newline else 1:]) + ("\n" if newline else ""))
            return 0
        if tool in ("true", "false"):
            return 0 if tool == "true" else 1
        if tool == "hostname":
            self.stdout.append(self.request.get("pod", "") + "\n")
            return 0
        handler = getattr(self, "_" + tool.replace("-", "_"), None)
        if handler is None:
            return self._fail("%s: not emulated by tests/harness/dataplane.py\n" % tool, 126)
        return handler(argv[1:])

    # -- curl ------------------------------------------------------------------------------------
    def _resolve(self, host):
        """What a cluster name leads to: ``"httpbin"``, ``"gateway"`` or None (no such Service)."""
        parts = host.split(".")
        namespace = parts[1] if len(parts) > 1 else self.namespace
        if parts[2:] and parts[2:] not in (["svc"], ["svc", "cluster", "local"]):
            return None
        if parts[0] == "httpbin" and namespace == self.routing.namespace:
            return "httpbin"
        if namespace == self.routing.gateway_namespace and self.routing.harness.get(
                "/api/v1/namespaces/%s/services/%s" % (namespace, parts[0])):
            return "gateway"
        return None

    def _curl(self, args):
        silent = show = False
        output = write_out = None
        method, headers, url = "GET", {}, None
        rest = list(args)
        while rest:
            arg = rest.pop(0)
            if arg in ("-o", "--output", "-w", "--write-out", "-H", "--header", "-X", "--request"):
                if not rest:
                    return self._fail("curl: option %s: requires parameter\n" % arg, 2)
                value = rest.pop(0)
                if arg in ("-o", "--output"):
                    output = value
                elif arg in ("-w", "--write-out"):
                    write_out = value
                elif arg in ("-H", "--header"):
                    key, _colon, header_value = value.partition(":")
                    headers[key.strip()] = header_value.strip()
                else:
                    method = value
            elif arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) <= set("sSfL"):
                silent = silent or "s" in arg
                show = show or "S" in arg
            elif arg in ("--silent", "--show-error"):
                silent, show = silent or arg == "--silent", show or arg == "--show-error"
            elif arg.startswith("-"):
                return self._fail("curl: option %s: is unknown\n" % arg, 2)
            else:
                url = arg
        if url is None:
            return self._fail("curl: no URL specified\n", 2)
        parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        host = parts.hostname or ""
        target = self._resolve(host)
        if target is None:
            if show or not silent:
                self.stderr.append("curl: (6) Could not resolve host: %s\n" % host)
            return 6
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = dict({"Host": parts.netloc, "User-Agent": "curl/8.11.1", "Accept": "*/*",
                        PEER_HEADER: self.request.get("podIP") or "10.244.0.1"}, **headers)
        connection.request(method, (parts.path or "/") + ("?" + parts.query if parts.query else ""), headers=headers)
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        if output in (None, "-"):
            self.stdout.append(body.decode("utf-8", "replace"))
        if write_out is not None:
            self.stdout.append(write_out.replace("%{http_code}", "%03d" % answer.status).replace("\\n", "\n"))
        return 0

    # -- fortio -------------------------------------------------------------------------------------
    def _fortio(self, args):
        if args[:1] != ["load"]:
            return self._fail("fortio: only `fortio load` is emulated by tests/harness/dataplane.py\n", 1)
        options, url, rest = {"-c": "4", "-n": "0", "-qps": "8"}, None, list(args[1:])
        while rest:
            arg = rest.pop(0)
            if arg.startswith("-") and rest:
                options["-" + arg.lstrip("-")] = rest.pop(0)
            else:
                url = arg
        concurrency, calls = int(options["-c"]), int(options["-n"])
        if url is None or calls <= 0:
            return self._fail("fortio: give -n CALLS and a URL (a duration-bound load is not emulated)\n", 1)
        host = urllib.parse.urlsplit(url).hostname or ""
        if self._resolve(host) != "httpbin":
            return self._fail("Unable to lookup '%s' : lookup %s: no such host\nAborting because of error\n" % (host, host), 1)
        admitted_ok, refused = self._connection_pool(concurrency, calls)
        fqdn = "httpbin.%s.svc.cluster.local" % self.namespace
        self._count(fqdn, urllib.parse.urlsplit(url).port or 80, refused)
        version = next((image.rsplit(":", 1)[-1] for image in (self.request.get("images") or {}).values() if "fortio/fortio" in image), "1.69.4")
        per = calls // concurrency
        lines = ["Fortio %s running at %s queries per second, 2->2 procs, for %d calls: %s" % (version, options["-qps"], calls, url),
                 "Starting at max qps with %d thread(s) [gomax 2] for exactly %d calls (%d per thread + %d)"
                 % (concurrency, calls, per, calls - per * concurrency),
                 "Ended after 71.05365ms : %d calls. qps=%.2f" % (calls, calls / 0.07105365),
                 "IP addresses distribution:", "10.96.94.152:8000: %d" % concurrency]
        for code, count in ((200, admitted_ok), (503, refused)):
            if count:
                lines.append("Code %d : %d (%.1f %%)" % (code, count, 100.0 * count / calls))
        lines.append("All done %d calls (plus 0 warmup) 5.336 ms avg, %.1f qps" % (calls, calls / 0.07105365))
        self.stderr.append("\n".join(lines) + "\n")
        return 0

    def _connection_pool(self, concurrency, calls):
        """(answered, refused with 503) for calls sent ``concurrency`` at a time, by the stored DestinationRule.

        Envoy admits one request per connection up to maxConnections and queues up to http1MaxPendingRequests
        more; a request beyond both is refused at once (upstream_rq_pending_overflow).
        """
        pool = {}
        for rule in self.routing._items(NETWORKING % (self.namespace, "destinationrules")):  # pylint: disable=protected-access
            spec = rule.get("spec") or {}
            if self.routing.is_host("httpbin", spec.get("host", "")):
                pool = (spec.get("trafficPolicy") or {}).get("connectionPool") or {}
        capacity = int((pool.get("tcp") or {}).get("maxConnections", UNLIMITED)) + int(
            (pool.get("http") or {}).get("http1MaxPendingRequests", UNLIMITED))
        answered = refused = 0
        for start in range(0, calls, concurrency):
            in_flight = min(concurrency, calls - start)
            answered += min(in_flight, capacity)
            refused += in_flight - min(in_flight, capacity)
        return answered, refused

    def _count(self, fqdn, port, refused):
        key = (self.namespace, self.request.get("pod", ""))
        with self.stats_lock:
            counters = self.stats.setdefault(key, {})
            name = "cluster.outbound|%d||%s.%s" % (port, fqdn, OVERFLOW_STAT)
            counters[name] = counters.get(name, 0) + refused

    # -- pilot-agent ------------------------------------------------------------------------------
    def _pilot_agent(self, args):
        if args[:2] != ["request", "GET"] or len(args) != 3:
            return self._fail("Error: only `pilot-agent request GET <path>` is emulated by tests/harness/dataplane.py\n", 1)
        if args[2].lstrip("/").split("?")[0] != "stats":
            return self._fail("Error: received unexpected status: 404 Not Found\n", 1)
        config = (self.request.get("annotations") or {}).get("proxy.istio.io/config", "")
        kept = "cluster.outbound" in config
        lines = ["server.live: 1", "server.state: 0"]
        if kept:
            counters = dict(self.stats.get((self.namespace, self.request.get("pod", "")), {}))
            counters.setdefault("cluster.outbound|8000||httpbin.%s.svc.cluster.local.%s" % (self.namespace, OVERFLOW_STAT), 0)
            lines += ["%s: %d" % item for item in sorted(counters.items())]
        self.stdout.append("\n".join(sorted(lines)) + "\n")
        return 0


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "istio-envoy"
    routing = None
    sessions = None
    productpage_timeout = PRODUCTPAGE_TIMEOUT

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

    def _handle(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            if url.path == HEALTH_PATH:
                self._send(200, b"ok", content_type="text/plain")
            elif url.path == EXEC_PATH and self.command == "POST":
                answer = Exec(self.routing, self.server.server_address[1], json.loads(body)).run()
                self._send(200, json.dumps(answer).encode(), content_type="application/json")
            elif url.path == PORTFORWARD_PATH and self.command == "POST":
                self._send(200, json.dumps(self._listener(json.loads(body))).encode(), content_type="application/json")
            elif self.routing.is_host("httpbin", (self.headers.get("Host") or "").split(":")[0]):
                self._httpbin(url)
            elif self._through_gateway(url):
                self._bookinfo(url, body)
        except NotEmulated as exc:
            self._send(500, ("dataplane: not emulated: %s (see tests/harness/README.md, Data plane)" % exc).encode(),
                       content_type="text/plain")

    do_GET = do_POST = _handle

    def _listener(self, request):
        """Where the emulator's pods/portforward connects for ``{namespace, pod, labels, port}``: this server for
        the ingress gateway's HTTP port, nothing (``{}``) for any other pod or port."""
        labels = request.get("labels") or {}
        if (request.get("namespace") == self.routing.gateway_namespace and request.get("port") == GATEWAY_HTTP_PORT
                and all(labels.get(key) == value for key, value in GATEWAY_LABELS.items())):
            host, port = self.server.server_address[:2]
            return {"host": host, "port": port}
        return {}

    def _through_gateway(self, url):
        """The gateway's filters, in Envoy's order: the local rate limit first, then RBAC. False when one answered."""
        limited = self.routing.rate_limited()
        if limited is not None:
            self._send(429, b"local_rate_limited", headers=limited, content_type="text/plain")
            return False
        # The TCP peer: the pod's address for a request exec'd in a pod, else the connection's source address.
        peer = self.headers.get(PEER_HEADER) or self.client_address[0]
        # Istio's default, 0 trusted proxies (numTrustedProxies): X-Forwarded-For is not trusted, so the remote
        # address that remoteIpBlocks judge is the TCP peer too.
        if not self.routing.authorized(peer, peer, url.path, self.command):
            self._send(403, b"RBAC: access denied", content_type="text/plain")
            return False
        return True

    def _bookinfo(self, url, body):
        if url.path == "/productpage" and self.command == "GET":
            user = self._user()
            waited, version, rated = self.routing.reviews({"end-user": user} if user else {}, self.productpage_timeout)
            pod = (self.routing.pod("reviews", version) or "reviews-%s-dataplane" % version) if version else None
            time.sleep(waited)
            self._send(200, productpage(user, version, pod, rated).encode())
        elif url.path == "/login" and self.command == "POST":
            user = (urllib.parse.parse_qs(body.decode()).get("username") or [""])[0]
            if not user:
                self._send(400, b"username is required", content_type="text/plain")
                return
            token = secrets.token_hex(16)
            self.sessions[token] = user
            self._send(302, headers={"Location": "/productpage", "Set-Cookie": "session=%s; Path=/; HttpOnly" % token})
        elif url.path == "/logout":
            self._send(302, headers={"Location": "/productpage", "Set-Cookie": "session=; Max-Age=0; Path=/"})
        else:
            self._send(404, b"", content_type="text/plain")

    def _httpbin(self, url):
        routing = self.routing
        route = routing.route("httpbin", {k.lower(): v for k, v in self.headers.items()})
        version = routing.routed_version("httpbin", route) if route is not None else None
        pod = routing.pod("httpbin", version) if version else None
        if pod is None:
            self._send(503, b"no healthy upstream", content_type="text/plain")
            return
        delay, abort = routing.fault(route)
        for mirror in routing.mirrors(route):
            copy = routing.pod("httpbin", routing.destination_version("httpbin", mirror) or "")
            if copy:
                self._log_httpbin(copy, 200, url, 0)
        time.sleep(delay)
        if abort is not None:
            self._send(abort, b"fault filter abort", content_type="text/plain")
            return
        status, answer = 200, {"url": url.path}
        if url.path == "/hostname":
            answer = {"hostname": pod}
        elif url.path.startswith("/status/") and url.path[8:].isdigit():
            status, answer = int(url.path[8:]), {}
        elif url.path == "/headers":
            answer = {"headers": dict(self.headers.items())}
        payload = json.dumps(answer).encode()
        self._log_httpbin(pod, status, url, len(payload))
        self._send(status, payload, content_type="application/json")

    def _log_httpbin(self, pod, status, url, size):
        target = url.path + ("?" + url.query if url.query else "")
        line = httpbin_log_line(status, self.command, target, size, self.headers.get("User-Agent", ""),
                                self.headers.get(PEER_HEADER) or self.client_address[0])
        self.routing.harness.append_log(self.routing.namespace, pod, "httpbin", [line])


class DataPlane(BackgroundServer):
    """The server, bound to 127.0.0.1 on a free port; ``url`` is the gateway URL to give the roles."""

    def __init__(self, harness, namespace="bookinfo", port=0, productpage_timeout=PRODUCTPAGE_TIMEOUT,
                 gateway_namespace="istio-system"):
        handler = type("Handler", (_Handler,), {
            "routing": Routing(harness, namespace, gateway_namespace), "sessions": {},
            "productpage_timeout": float(productpage_timeout)})
        super().__init__(handler, port)
        self.harness = harness

    def register(self):
        """Make the emulator's pods/exec answer through this stand-in (the last one registered answers)."""
        self.harness.request("POST", "/_harness/exec-backend", {"url": self.url})
        return self

    def start(self):
        super().start()
        return self.register()

    def stop(self):
        try:
            self.harness.request("DELETE", "/_harness/exec-backend")
        except HarnessError:  # the emulator may be gone first; nothing to undo then
            pass
        super().stop()


def harness_dir(value=None):
    return os.path.abspath(value or os.environ.get("MESH_HARNESS_DIR") or os.path.join(service.REPO, ".harness"))


def up(directory, namespace="bookinfo", productpage_timeout=PRODUCTPAGE_TIMEOUT):
    """Serve the stand-in for the emulator of DIR in the background; return its state.

    A stand-in that already answers with the same settings is kept; one with other settings is restarted.
    """
    directory = os.path.abspath(directory)
    settings = {"namespace": namespace, "productpage_timeout": float(productpage_timeout)}
    running = service.read_state(service.state_path(directory, STATE_NAME))
    if running and any(running.get(key) != value for key, value in settings.items()):
        service.stop(directory, STATE_NAME)
    return service.start(
        directory, STATE_NAME,
        ["tests.harness.dataplane", "serve", "--dir", directory, "--namespace", namespace,
         "--productpage-timeout", str(float(productpage_timeout))],
        HEALTH_PATH, extra=settings, what="the data-plane stand-in")


def down(directory):
    """Stop the stand-in of DIR; False when none was running."""
    return service.stop(os.path.abspath(directory), STATE_NAME)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.harness.dataplane", description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "serve"):
        command = sub.add_parser(name)
        command.add_argument("--dir")
        if name != "down":
            command.add_argument("--namespace", default="bookinfo")
            command.add_argument("--productpage-timeout", type=float, default=PRODUCTPAGE_TIMEOUT,
                                 help="seconds productpage waits for reviews per try (it tries twice); Bookinfo's is 3")
        if name == "serve":
            command.add_argument("--port-file")
    args = parser.parse_args(argv)
    directory = harness_dir(args.dir)
    if args.command == "serve":
        from tests.harness.client import HarnessClient  # only the served process talks to the emulator

        os.environ["MESH_HARNESS_DIR"] = directory
        plane = DataPlane(HarnessClient.from_env(), args.namespace, productpage_timeout=args.productpage_timeout).register()
        return service.serve_until_terminated(plane.httpd, args.port_file, plane.url)
    if args.command == "down":
        down(directory)
        return 0
    print(up(directory, args.namespace, args.productpage_timeout)["url"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
