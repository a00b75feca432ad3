# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Headless screenshots for the proof report, through a Chromium or Chrome driven with the DevTools protocol.

The browser is started with ``--remote-debugging-pipe``: it reads protocol commands from its file descriptor 3 and
writes answers and events to its file descriptor 4, each message one JSON text ended by a NUL byte. So no
websocket and no debugging port is needed, and nothing listens on the machine. ``find_browser`` looks for one
on PATH (and, on macOS, in /Applications); ``Browser`` opens pages, signs in through a form, and captures PNGs.
Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

try:
    from urllib.parse import urljoin, urlsplit
except ImportError:  # pragma: no cover - Python 2
    from urlparse import urljoin, urlsplit

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MACOS_APPS = ("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
              "/Applications/Chromium.app/Contents/MacOS/Chromium")
# The Istio Mesh Dashboard of Istio's Grafana addon (samples/addons/grafana.yaml, uid of istio-mesh-dashboard.json).
GRAFANA_MESH_DASHBOARD = "/d/1a9a8ea49444aae205c7737573e894f9/istio-mesh-dashboard"
WIDTH, HEIGHT = 1280, 900


class BrowserError(Exception):
    """The browser could not do what was asked; the message says what and why."""


def find_browser(given=None, which=shutil.which, isfile=os.path.isfile):
    """``(path, None)`` of a Chromium or Chrome, or ``(None, why not)``."""
    if given:
        found = which(given) if os.sep not in given else (given if isfile(given) else None)
        return (found, None) if found else (None, "the browser %s is not there" % given)
    for name in NAMES:
        found = which(name)
        if found:
            return found, None
    for path in MACOS_APPS:
        if isfile(path):
            return path, None
    return None, "no Chromium or Chrome found (looked for %s on PATH and in /Applications); install one, e.g. apt-get install chromium" % (
        ", ".join(NAMES))


def pages(urls, user="jason", namespace="bookinfo"):
    """The screenshots the report takes, from the run's URLs: ``[{name, title, url, sign_in, skipped}]``."""
    urls = urls or {}
    out = []
    productpage = urls.get("productpage")
    why = None if productpage else "no productpage URL in this run (the bookinfo role resolves the gateway URL)"
    out.append({"name": "productpage", "title": "Bookinfo productpage, signed out", "url": productpage, "sign_in": None, "skipped": why})
    out.append({"name": "productpage-%s" % user, "title": "Bookinfo productpage, signed in as %s" % user, "url": productpage,
                "sign_in": user, "skipped": why})
    grafana = urls.get("grafana")
    out.append({"name": "grafana", "title": "Grafana: Istio Mesh Dashboard",
                "url": grafana.rstrip("/") + GRAFANA_MESH_DASHBOARD if grafana else None, "sign_in": None,
                "skipped": None if grafana else "no Grafana URL in this run (the telemetry role opens it)"})
    kiali = urls.get("kiali")
    out.append({"name": "kiali", "title": "Kiali: the graph of namespace %s" % namespace,
                "url": kiali.rstrip("/") + "/console/graph/namespaces/?namespaces=%s" % namespace if kiali else None,
                "sign_in": None, "skipped": None if kiali else "no Kiali URL in this run (the telemetry role opens it)"})
    return out


def _high_fd(fd):
    """A copy of ``fd`` numbered 10 or more, so that placing the pipes on 3 and 4 in the child overwrites neither."""
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return copy


class Browser:
    """A headless browser on a fresh profile, driven over its DevTools pipe."""

    def __init__(self, binary, timeout=30.0, width=WIDTH, height=HEIGHT):
        self.timeout = float(timeout)
        self.profile = tempfile.mkdtemp(prefix="mesh-report-browser-")
        commands_read, commands_write = os.pipe()
        answers_read, answers_write = os.pipe()
        commands_read, answers_write = _high_fd(commands_read), _high_fd(answers_write)
        argv = [binary, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--hide-scrollbars", "--mute-audio",
                "--user-data-dir=%s" % self.profile, "--window-size=%d,%d" % (width, height), "--remote-debugging-pipe"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--no-sandbox")  # Chromium refuses to run its sandbox as root
        argv.append("about:blank")

        def child_fds():
            os.dup2(commands_read, 3)
            os.dup2(answers_write, 4)

        try:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                            preexec_fn=child_fds, pass_fds=(3, 4))
        except OSError as exc:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise BrowserError("cannot start %s: %s" % (binary, exc))
        finally:
            os.close(commands_read)
            os.close(answers_write)
        self._out = commands_write
        self._in = answers_read
        self._buffer = b""
        self._next = 0
        self.events = []
        self.session = None

    # -- the pipe ---------------------------------------------------------------------------------------
    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.time()
            if left <= 0:
                raise BrowserError("the browser did not answer within %d s" % self.timeout)
            ready = select.select([self._in], [], [], left)[0]
            if not ready:
                continue
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise BrowserError("the browser exited (%s)" % self._stderr_tail())
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message.decode("utf-8"))

    def _stderr_tail(self):
        try:
            self.process.wait(timeout=5)
            return (self.process.stderr.read() or b"").decode("utf-8", "replace").strip()[-300:] or "no message"
        except (subprocess.TimeoutExpired, OSError, ValueError):
            return "no message"

    def call(self, method, params=None, session=True, timeout=None):
        """Send one command and return its result; events that arrive meanwhile are kept in ``events``."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        try:
            os.write(self._out, json.dumps(message).encode("utf-8") + b"\0")
        except OSError as exc:
            raise BrowserError("the browser closed its pipe: %s" % exc)
        deadline = time.time() + (timeout or self.timeout)
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise BrowserError("%s failed: %s" % (method, answer["error"].get("message", answer["error"])))
                return answer.get("result") or {}
            if "method" in answer:
                self.events.append(answer)

    def wait_event(self, method, timeout=None):
        deadline = time.time() + (timeout or self.timeout)
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(index)
            answer = self._read_message(deadline)
            if "method" in answer:
                self.events.append(answer)

    # -- pages ----------------------------------------------------------------------------------------
    def open_tab(self):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        self.call("Page.enable")

    def evaluate(self, expression):
        answer = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if answer.get("exceptionDetails"):
            raise BrowserError("the page's script failed: %s" % answer["exceptionDetails"].get("text"))
        return (answer.get("result") or {}).get("value")

    def _loaded(self, what):
        self.wait_event("Page.loadEventFired")
        status = self.evaluate("(performance.getEntriesByType('navigation')[0] || {}).responseStatus || 0")
        if status and int(status) >= 400:
            raise BrowserError("%s answered HTTP %s" % (what, status))

    def navigate(self, url):
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        answer = self.call("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise BrowserError("%s did not answer (%s)" % (url, answer["errorText"]))
        self._loaded(url)

    def sign_in(self, page_url, user):
        """Sign in through the page's form (Bookinfo's productpage: POST /login with ``username``) and wait for its answer.

        The page's own form with a ``username`` field is filled and submitted; a page without one (its sign-in is a
        dialog drawn later) gets the same form, posted to ``login`` beside the page.
        """
        action = urljoin(page_url, "login")
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        self.evaluate(
            "(function(){var field=document.querySelector('form input[name=username]');var f=field&&field.form;"
            "if(!f){f=document.createElement('form');f.method='POST';f.action=%s;"
            "var i=document.createElement('input');i.type='hidden';i.name='username';f.appendChild(i);"
            "document.documentElement.appendChild(f);}"
            "f.elements.username.value=%s;if(f.elements.passwd){f.elements.passwd.value='';}"
            "HTMLFormElement.prototype.submit.call(f);return true;})()"
            % (json.dumps(action), json.dumps(user)))
        self._loaded("the sign-in at %s" % action)

    def screenshot(self, path, settle=2.0):
        # A dashboard draws after its load event (its own requests for data): give it a moment.
        if settle:
            time.sleep(settle)
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        content = base64.b64decode(data)
        with open(path, "wb") as handle:
            handle.write(content)
        return content

    def close(self):
        try:
            if self.process.poll() is None:
                try:
                    self.call("Browser.close", session=False, timeout=5)
                except BrowserError:
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            for fd in (self._out, self._in):
                try:
                    os.close(fd)
                except OSError:
                    pass
            if self.process.stderr:
                self.process.stderr.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _loopback_or_named(url):
    return bool(url) and urlsplit(url).scheme in ("http", "https")


def take(shots, dest, binary=None, timeout=30.0, settle=2.0, browser_factory=Browser, finder=find_browser):
    """Take each shot of ``pages()`` into ``dest``; return ``[{name, title, url, file, skipped}]``, one per shot.

    ``file`` is the PNG's name in ``dest`` (or None), ``skipped`` why there is none (or None). A shot that fails is
    skipped with the browser's reason; the others are still taken.
    """
    results = [{"name": s["name"], "title": s["title"], "url": s.get("url"), "file": None, "skipped": s.get("skipped")}
               for s in shots]
    todo = [(r, s) for r, s in zip(results, shots) if not r["skipped"]]
    for result, shot in todo:
        if not _loopback_or_named(shot.get("url")):
            result["skipped"] = "%s is not an http(s) URL" % shot.get("url")
    todo = [(r, s) for r, s in todo if not r["skipped"]]
    if not todo:
        return results
    found, why = finder(binary)
    if not found:
        for result, _shot in todo:
            result["skipped"] = why
        return results
    try:
        browser = browser_factory(found, timeout=timeout)
    except BrowserError as exc:
        for result, _shot in todo:
            result["skipped"] = str(exc)
        return results
    with browser:
        for result, shot in todo:
            filename = "%s.png" % shot["name"]
            try:
                browser.open_tab()
                browser.navigate(shot["url"])
                if shot.get("sign_in"):
                    browser.sign_in(shot["url"], shot["sign_in"])
                browser.screenshot(os.path.join(dest, filename), settle=settle)
                result["file"] = filename
            except BrowserError as exc:
                result["skipped"] = str(exc)
    return results
