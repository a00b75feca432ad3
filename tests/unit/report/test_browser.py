"""The report's screenshots: a fake browser for the paths that skip, and Debian's headless Chromium (driven over its
DevTools pipe) against a local server that serves a Bookinfo-like sign-in form.

Without Chromium the real-browser tests fail, not skip, like tests/e2e/test_report_browser.py (`apt-get install -y chromium`;
MESH_CHROMIUM points at another Chromium or Chrome).
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import parse_qs

import jsonschema
import pytest

from ansible_collections.istiolab.mesh.plugins.module_utils import _browser, _report
from tests.tools import chromium, png

REPO = Path(__file__).resolve().parents[3]
SIGNED_IN_RGB = (0x17, 0x6F, 0x2C)


def pixel(content: bytes, x: int, y: int) -> tuple[int, int, int]:
    width, _height, rows = png.decode(content, y)
    size = len(rows[0]) // width
    return tuple(rows[y][x * size:x * size + 3])


class Bookinfo(http.server.BaseHTTPRequestHandler):
    """productpage with the sign-in form Bookinfo's page has (POST login, fields username and passwd)."""

    posted: list = []
    status = 200

    def do_GET(self):
        if self.path.startswith("/down"):
            self._send(503, b"no healthy upstream")
            return
        user = None
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _sep, value = part.strip().partition("=")
            if name == "session" and value:
                user = value
        colour = "#%02x%02x%02x" % SIGNED_IN_RGB if user else "#ffffff"
        page = ("<html><body style='background:%s'><h1>%s</h1><form method='post' action='login' name='login_form'>"
                "<input type='text' name='username'><input type='password' name='passwd'></form></body></html>"
                % (colour, "signed in as %s" % user if user else "Sign in"))
        self._send(200, page.encode(), "text/html")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        type(self).posted.append((self.path, form))
        user = (form.get("username") or [""])[0]
        self.send_response(302)
        self.send_header("Location", "/productpage")
        self.send_header("Set-Cookie", "session=%s; Path=/" % user)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, code, body, kind="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def bookinfo():
    Bookinfo.posted = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bookinfo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the paths that skip, with a fake browser --------------------------------------------------------------------

def test_no_browser_on_the_machine_skips_each_shot_and_says_why(tmp_path):
    found, why = _browser.find_browser(which=lambda name: None, isfile=lambda path: False)
    assert found is None
    assert "chromium, chromium-browser, google-chrome, google-chrome-stable" in why and "/Applications" in why
    shots = _browser.pages({"productpage": "http://127.0.0.1:18080/productpage", "grafana": "http://127.0.0.1:3000"})
    taken = _browser.take(shots, str(tmp_path), finder=lambda given: (None, why))
    assert {t["name"]: t["skipped"] for t in taken} == {
        "productpage": why, "productpage-jason": why, "grafana": why,
        "kiali": "no Kiali URL in this run (the telemetry role opens it)"}
    assert all(t["file"] is None for t in taken) and list(tmp_path.iterdir()) == []


def test_the_browser_is_found_by_name_then_on_macos():
    on_path = {"google-chrome-stable": "/usr/bin/google-chrome-stable"}
    assert _browser.find_browser(which=on_path.get, isfile=lambda p: False) == ("/usr/bin/google-chrome-stable", None)
    mac = "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"
    assert _browser.find_browser(which=lambda n: None, isfile=lambda p: p == mac) == (mac, None)
    assert _browser.find_browser("/opt/none/chrome", isfile=lambda p: False) == (None, "the browser /opt/none/chrome is not there")


class FakeBrowser:
    """Answers like Browser: ``fail`` maps a URL to the error its page gives."""

    fail: dict = {}
    opened: list = []

    def __init__(self, binary, timeout):
        self.binary = binary

    def open_tab(self):
        pass

    def navigate(self, url):
        type(self).opened.append(url)
        if url in self.fail:
            raise _browser.BrowserError(self.fail[url])

    def sign_in(self, url, user):
        type(self).opened.append("sign in %s" % user)

    def screenshot(self, path, settle):
        Path(path).write_bytes(b"png")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def test_a_page_that_does_not_answer_is_skipped_and_the_others_are_taken(tmp_path):
    urls = {"productpage": "http://127.0.0.1:18080/productpage", "grafana": "http://127.0.0.1:3000", "kiali": "http://127.0.0.1:20001/kiali"}
    shots = _browser.pages(urls)
    kiali = "http://127.0.0.1:20001/kiali/console/graph/namespaces/?namespaces=bookinfo"
    FakeBrowser.fail = {kiali: "%s did not answer (net::ERR_CONNECTION_REFUSED)" % kiali}
    FakeBrowser.opened = []
    taken = _browser.take(shots, str(tmp_path), finder=lambda given: ("/usr/bin/chromium", None), browser_factory=FakeBrowser)
    assert [(t["name"], t["file"], t["skipped"]) for t in taken] == [
        ("productpage", "productpage.png", None), ("productpage-jason", "productpage-jason.png", None),
        ("grafana", "grafana.png", None), ("kiali", None, FakeBrowser.fail[kiali])]
    assert FakeBrowser.opened == [urls["productpage"], urls["productpage"], "sign in jason",
                                  "http://127.0.0.1:3000/d/1a9a8ea49444aae205c7737573e894f9/istio-mesh-dashboard", kiali]


def test_without_urls_nothing_starts_a_browser(tmp_path):
    def finder(given):
        raise AssertionError("no URL to open, yet a browser was looked for")
    taken = _browser.take(_browser.pages({}), str(tmp_path), finder=finder)
    assert [t["skipped"].split(" (")[0] for t in taken] == ["no productpage URL in this run"] * 2 + [
        "no Grafana URL in this run", "no Kiali URL in this run"]


def test_the_summary_and_page_say_why_each_shot_is_missing():
    summary = _report.build_summary(None, screenshots={"browser": None, "shots": [
        {"name": "grafana", "title": "Grafana", "url": "http://127.0.0.1:3000/d/x", "file": None, "skipped": "no Chromium <found>"},
        {"name": "productpage", "title": "productpage", "url": "http://127.0.0.1:18080/productpage", "file": "productpage.png"}]})
    jsonschema.Draft202012Validator(_report.load_schema()).validate(summary)
    page = _report.render_html(summary)
    assert '<p class="skipped" id="screenshot-grafana">Grafana: not taken, no Chromium &lt;found&gt;.</p>' in page
    assert '<img src="productpage.png" alt="productpage">' in page
    off = _report.build_summary(None)
    assert off["screenshots"] == {"enabled": False, "browser": None, "shots": []}
    assert "they are off (mesh_report_screenshots: true" in _report.render_html(off)


# -- the real browser ----------------------------------------------------------------------------------------------

def test_chromium_signs_in_as_jason_and_the_pictures_differ(tmp_path, bookinfo):
    urls = {"productpage": bookinfo + "/productpage", "grafana": bookinfo + "/down", "kiali": "http://127.0.0.1:%d/kiali" % closed_port()}
    taken = _browser.take(_browser.pages(urls), str(tmp_path), binary=chromium.binary(), settle=0.2)
    by_name = {t["name"]: t for t in taken}
    assert by_name["productpage"]["file"] == "productpage.png" and by_name["productpage-jason"]["file"] == "productpage-jason.png", taken
    # The sign-in was the page's own form, posted to /login with username=jason.
    assert Bookinfo.posted == [("/login", {"username": ["jason"], "passwd": [""]})]
    signed_out = (tmp_path / "productpage.png").read_bytes()
    signed_in = (tmp_path / "productpage-jason.png").read_bytes()
    assert signed_out != signed_in
    assert pixel(signed_out, 600, 120) == (255, 255, 255) and pixel(signed_in, 600, 120) == SIGNED_IN_RGB
    # A page that answers an error, and one that does not answer at all, are skipped with the reason.
    assert by_name["grafana"]["file"] is None and "answered HTTP 503" in by_name["grafana"]["skipped"]
    assert by_name["kiali"]["file"] is None and "net::ERR_CONNECTION_REFUSED" in by_name["kiali"]["skipped"]


def run_module(tmp_path, **args):
    args = dict(args, dest=str(tmp_path / "report"), generated_at="t")
    done = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "ansible_collections.istiolab.mesh.plugins.modules.mesh_report"],
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": args}), capture_output=True, text=True,
                          cwd=REPO / "collections", check=False)
    return json.loads(done.stdout)


def test_the_module_shows_the_pictures_in_the_page(tmp_path, bookinfo):
    urls = {"productpage": bookinfo + "/productpage"}
    planned = run_module(tmp_path, urls=urls, screenshots=True, browser=chromium.binary(), _ansible_check_mode=True)
    assert not (tmp_path / "report").exists() and {s["skipped"] for s in planned["screenshots"][:2]} == {"check mode takes no screenshot"}
    result = run_module(tmp_path, urls=urls, screenshots=True, browser=chromium.binary())
    report = tmp_path / "report"
    assert [s["file"] for s in result["screenshots"]] == ["productpage.png", "productpage-jason.png", None, None], result
    assert str(report / "productpage-jason.png") in result["written"]
    summary = json.loads((report / "summary.json").read_text())
    jsonschema.Draft202012Validator(_report.load_schema()).validate(summary)
    assert summary["screenshots"]["browser"] == chromium.binary()
    # The page, opened from its file in the same browser, shows both PNGs under its Content-Security-Policy.
    with _browser.Browser(chromium.binary()) as browser:
        browser.open_tab()
        browser.navigate((report / "index.html").as_uri())
        loaded = browser.evaluate("Array.from(document.images).map(function(i){return [i.getAttribute('src'), i.naturalWidth];})")
    assert [src for src, _width in loaded] == ["productpage.png", "productpage-jason.png"]
    assert all(width > 0 for _src, width in loaded), loaded


def test_the_module_without_a_browser_writes_the_report_that_says_so(tmp_path):
    result = run_module(tmp_path, urls={"productpage": "http://127.0.0.1:18080/productpage"}, screenshots=True,
                        browser="/nonexistent/chrome")
    assert [s["skipped"] for s in result["screenshots"][:2]] == ["the browser /nonexistent/chrome is not there"] * 2
    page = (tmp_path / "report" / "index.html").read_text()
    assert "Bookinfo productpage, signed in as jason: not taken, the browser /nonexistent/chrome is not there." in page
