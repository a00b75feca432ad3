# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sending for ``traffic_probe``: the HTTP client, the sign-in and the labels of the responses.

Standard library only (``urllib``), as the module runs on the control node. Every request opens its
own connection and no cookie a response sets is kept, so the responses are independent samples. A
request that gets no HTTP answer (refused, dropped, over the timeout) is an ``Outcome`` with status 0,
label ``error`` and the time it took; it never raises. What is decided from the outcomes is
``_stats``' job.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.client
import re
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, HTTPSHandler, ProxyHandler, Request, build_opener

from ansible.module_utils.common.text.converters import to_native, to_text

# The productpage is about 10 KiB; a label never needs more than the first MiB of a body.
MAX_BODY = 1024 * 1024


class ProbeError(Exception):
    """The probe cannot run as asked; the message says what failed and what to do."""


class _SameHostRedirect(HTTPRedirectHandler):
    """Follow redirects, carrying the session cookie to the same host only (urllib drops it everywhere)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        follow = HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, headers, newurl)
        cookie = req.unredirected_hdrs.get("Cookie")
        if follow is not None and cookie and urlsplit(follow.full_url).netloc == urlsplit(req.full_url).netloc:
            follow.add_unredirected_header("Cookie", cookie)
        return follow


class _NoRedirect(HTTPRedirectHandler):
    """Make a redirect the answer (urllib raises it as an HTTPError carrying the 3xx status)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Outcome:
    """One request: its status (0 without an HTTP answer), label, latency and, on failure, the reason."""

    __slots__ = ("status", "label", "latency_ms", "error")

    def __init__(self, status, label, latency_ms, error=None):
        self.status = status
        self.label = label
        self.latency_ms = latency_ms
        self.error = error


class Classifier:
    """Turns a response into a label: the ``classify`` rules, then ``label_from_regex``, then ``unmatched``."""

    def __init__(self, rules, label_from_regex):
        self.rules = [self._compile(index, rule) for index, rule in enumerate(rules)]
        self.from_regex = None
        if label_from_regex:
            self.from_regex = _compile("label_from_regex", label_from_regex)
            if self.from_regex.groups != 1:
                raise ValueError("label_from_regex must have exactly one group, whose value is the label; %r has %d"
                                 % (label_from_regex, self.from_regex.groups))

    @staticmethod
    def _compile(index, rule):
        where = "classify[%d]" % index
        kinds = [kind for kind in ("body_regex", "header", "status") if rule.get(kind) is not None]
        if len(kinds) != 1:
            raise ValueError("%s must have exactly one of body_regex, header (with regex) or status; it has %s"
                             % (where, ", ".join(kinds) or "none"))
        kind = kinds[0]
        if kind != "header" and rule.get("regex") is not None:
            raise ValueError("%s: regex goes with header; for the body use body_regex" % where)
        pattern = None
        if kind == "body_regex":
            pattern = _compile(where + ".body_regex", rule["body_regex"])
        elif kind == "header":
            if rule.get("regex") is None:
                raise ValueError("%s: header %r needs a regex to search in its value" % (where, rule["header"]))
            pattern = _compile(where + ".regex", rule["regex"])
        if not rule.get("label") and (pattern is None or "label" not in pattern.groupindex):
            raise ValueError("%s needs a label, or a regex with a named group (?P<label>...)" % where)
        return dict(kind=kind, label=rule.get("label"), pattern=pattern, header=rule.get("header"),
                    status=set(rule.get("status") or []))

    def label(self, status, headers, body):
        for rule in self.rules:
            if rule["kind"] == "status":
                if status in rule["status"]:
                    return rule["label"]
                continue
            text = body if rule["kind"] == "body_regex" else headers.get(rule["header"])
            match = rule["pattern"].search(text) if text is not None else None
            if match:
                return match.groupdict().get("label") or rule["label"]
        if self.from_regex:
            match = self.from_regex.search(body)
            if match:
                return match.group(1)
        return "unmatched"


def _compile(where, pattern):
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError("%s is not a valid regular expression (%s): %r" % (where, exc, pattern))


def _reason(exc):
    return to_native(getattr(exc, "reason", exc))


class Client:
    """The connection settings every request shares: timeout (seconds), TLS verification, proxy, redirects."""

    def __init__(self, timeout, validate_certs=True, use_proxy=False, follow_redirects=True):
        self.timeout = timeout
        self.follow_redirects = follow_redirects
        context = ssl.create_default_context()
        if not validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self.handlers = [HTTPSHandler(context=context)]
        if not use_proxy:
            self.handlers.append(ProxyHandler({}))

    def opener(self, follow_redirects, *extra):
        redirects = _SameHostRedirect() if follow_redirects else _NoRedirect()
        return build_opener(*(self.handlers + [redirects] + list(extra)))

    def cookie_header(self, url, login, cookies):
        """The Cookie header for ``url``: the sign-in's (``login`` ``{url, fields}`` or None), then ``cookies``."""
        parts = [self.sign_in(login["url"], login["fields"], url)] if login else []
        parts.extend("%s=%s" % (name, to_text(value)) for name, value in cookies.items())
        return "; ".join(parts)

    def sign_in(self, login_url, fields, url):
        """Post the form ``fields`` to ``login_url`` and return the Cookie header its cookies make for ``url``."""
        jar = CookieJar()
        form = urlencode(dict((k, "" if v is None else to_text(v)) for k, v in fields.items())).encode("utf-8")
        # Bookinfo's /login redirects to request.referrer; without a Referer that redirect has no target.
        request = Request(login_url, data=form, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Referer": url})
        try:
            try:
                response = self.opener(False, HTTPCookieProcessor(jar)).open(request, timeout=self.timeout)
            except HTTPError as exc:
                response = exc
            with response:
                status = response.getcode()
                excerpt = to_text(response.read(300), errors="replace")
        except (URLError, http.client.HTTPException, OSError) as exc:
            raise ProbeError("Sign-in at %s failed: %s. Check login.url and that the gateway answers."
                             % (login_url, _reason(exc)))
        if status >= 400:
            raise ProbeError("Sign-in at %s answered HTTP %d: %s. Check login.url and login.fields."
                             % (login_url, status, excerpt.strip()))
        probe = Request(url)
        jar.add_cookie_header(probe)
        cookie = probe.get_header("Cookie")
        if not cookie:
            raise ProbeError("Sign-in at %s answered HTTP %d but set no cookie that applies to %s "
                             "(cookies set: %d). Check login.url and login.fields."
                             % (login_url, status, url, len(jar)))
        return cookie

    def send_all(self, url, count, concurrency, label, method="GET", headers=None, body=None, cookie=""):
        """Send ``count`` requests, ``concurrency`` at a time; return ``([Outcome], seconds)``.

        ``label(status, headers, body_text)`` names each answered response. ``body`` is text sent
        as UTF-8; ``cookie`` a Cookie header that follows redirects to the same host only.
        """
        opener = self.opener(self.follow_redirects)
        data = body.encode("utf-8") if body is not None else None
        headers = dict((k, to_text(v)) for k, v in (headers or {}).items())

        def send(_index):
            request = Request(url, data=data, headers=headers, method=method)
            if cookie:
                # Unredirected: a redirect to another host must not carry the session (_SameHostRedirect).
                request.add_unredirected_header("Cookie", cookie)
            started = time.monotonic()
            try:
                try:
                    response = opener.open(request, timeout=self.timeout)
                except HTTPError as exc:
                    response = exc
                with response:
                    content = response.read(MAX_BODY)
                    status = response.getcode()
                    response_headers = response.headers
            except (URLError, http.client.HTTPException, OSError) as exc:
                latency = (time.monotonic() - started) * 1000.0
                return Outcome(0, "error", latency, _reason(exc) or type(exc).__name__)
            latency = (time.monotonic() - started) * 1000.0
            return Outcome(status, label(status, response_headers, to_text(content, errors="replace")), latency)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, count))) as pool:
            outcomes = list(pool.map(send, range(count)))
        return outcomes, time.monotonic() - started
