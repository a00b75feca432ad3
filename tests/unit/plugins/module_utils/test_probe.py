# -*- coding: utf-8 -*-
"""_probe's sending (client, sign-in, timeouts, redirects, proxy) against the local probe server."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from ansible_collections.istiolab.mesh.plugins.module_utils import _probe
from probe_server import ProbeServer

REVIEWS = r"Reviews served by:\s*reviews-(v\d+)-"
JASON = {"username": "jason", "passwd": ""}


@pytest.fixture
def server():
    with ProbeServer(seed=5) as running:
        yield running


def by_version(status, headers, body):
    return _probe.Classifier([], REVIEWS).label(status, headers, body)


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- sending ----------------------------------------------------------------------------------


def test_send_all_sends_count_requests_as_asked(server):
    client = _probe.Client(timeout=5)
    outcomes, duration = client.send_all(server.url("/productpage"), 5, 2, by_version, method="POST",
                                         headers={"end-user": "nobody", "x-n": 7}, body="ü", cookie="a=1; b=2")
    # The probe server serves productpage to GET only; its 404 shows the method went as asked.
    assert [(o.status, o.label, o.error) for o in outcomes] == [(404, "unmatched", None)] * 5
    assert all(o.latency_ms > 0 for o in outcomes) and duration > 0
    received = server.requests
    assert len(received) == 5
    assert all(r["method"] == "POST" and r["path"] == "/productpage" for r in received)
    assert all(r["headers"]["end-user"] == "nobody" and r["headers"]["x-n"] == "7" for r in received)
    assert all(r["headers"]["cookie"] == "a=1; b=2" for r in received)
    # The body goes as UTF-8: two bytes for the one character.
    assert all(r["headers"]["content-length"] == "2" for r in received)


def test_a_plain_get_sends_no_cookie_and_no_body(server):
    outcomes, dummy = _probe.Client(timeout=5).send_all(server.url("/weighted?v1=100"), 2, 1, by_version)
    assert [o.label for o in outcomes] == ["v1", "v1"]
    assert all(r["method"] == "GET" and "cookie" not in r["headers"] and "content-length" not in r["headers"]
               for r in server.requests)


def test_an_http_error_status_is_an_answer_not_a_failure(server):
    outcomes, dummy = _probe.Client(timeout=5).send_all(server.url("/status?503=100"), 3, 3, lambda s, h, b: h["x-version"])
    assert [(o.status, o.label, o.error) for o in outcomes] == [(503, "httpbin-v1", None)] * 3


def test_concurrency_sets_how_many_requests_are_in_flight(server):
    url = server.url("/delay?fast_ms=200&slow_ms=200&slow=0")
    dummy, serial = _probe.Client(timeout=5).send_all(url, 4, 1, by_version)
    dummy, parallel = _probe.Client(timeout=5).send_all(url, 4, 4, by_version)
    # One at a time, four 200 ms answers take at least 0.8 s; four at once about 0.2 s.
    assert serial >= 0.8
    assert parallel < 0.7


def test_a_request_over_the_timeout_fails_with_the_time_it_took(server):
    outcomes, dummy = _probe.Client(timeout=0.2).send_all(server.url("/delay?fast_ms=700&slow_ms=700&slow=0"), 1, 1,
                                                          by_version)
    assert (outcomes[0].status, outcomes[0].label, outcomes[0].error) == (0, "error", "timed out")
    assert 200 <= outcomes[0].latency_ms < 700


def test_a_dropped_connection_and_a_refused_one_are_failures(server):
    client = _probe.Client(timeout=5)
    dropped, dummy = client.send_all(server.url("/drop"), 1, 1, by_version)
    assert (dropped[0].status, dropped[0].label) == (0, "error")
    assert dropped[0].error == "Remote end closed connection without response"
    refused, dummy = client.send_all("http://127.0.0.1:%d/" % _closed_port(), 1, 1, by_version)
    assert (refused[0].status, refused[0].label) == (0, "error")
    assert "Connection refused" in refused[0].error


def test_redirects_are_followed_or_answered():
    with ProbeServer() as server:
        url = server.url("/redirect?to=/weighted?v1=100")
        followed, dummy = _probe.Client(timeout=5).send_all(url, 1, 1, by_version)
        kept, dummy = _probe.Client(timeout=5, follow_redirects=False).send_all(url, 1, 1, by_version)
        assert (followed[0].status, followed[0].label) == (200, "v1")
        assert (kept[0].status, kept[0].label) == (302, "unmatched")
        assert server.count("/weighted") == 1


def test_the_cookie_follows_a_redirect_to_the_same_host_only(server):
    client = _probe.Client(timeout=5)
    client.send_all(server.url("/redirect?to=/productpage"), 1, 1, by_version, cookie="session=x")
    elsewhere = server.url("/productpage").replace("127.0.0.1", "localhost")
    client.send_all(server.url("/redirect?to=" + elsewhere), 1, 1, by_version, cookie="session=x")
    pages = [r["headers"].get("cookie") for r in server.requests if r["path"] == "/productpage"]
    assert pages == ["session=x", None]


def test_the_proxy_environment_is_ignored_unless_use_proxy(server, monkeypatch):
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:%d" % _closed_port())
    direct, dummy = _probe.Client(timeout=5).send_all(server.url("/weighted?v1=100"), 1, 1, by_version)
    assert direct[0].label == "v1"
    # Through the probe server as the proxy: it gets the absolute URL of a host that does not exist.
    monkeypatch.setenv("http_proxy", server.url(""))
    through_proxy = _probe.Client(timeout=5, use_proxy=True)
    proxied, dummy = through_proxy.send_all("http://probe.invalid/weighted?v1=100", 1, 1, by_version)
    assert proxied[0].label == "v1"
    assert server.count("/weighted") == 2


def test_validate_certs_false_turns_tls_verification_off():
    assert _probe.Client(timeout=5).handlers[0]._context.verify_mode == ssl.CERT_REQUIRED
    unchecked = _probe.Client(timeout=5, validate_certs=False).handlers[0]._context
    assert unchecked.verify_mode == ssl.CERT_NONE and unchecked.check_hostname is False


# --- sign-in ----------------------------------------------------------------------------------


def test_sign_in_posts_the_form_and_returns_the_session_cookie(server):
    url = server.url("/productpage?signed_in=v2")
    assert _probe.Client(timeout=5).sign_in(server.url("/login"), {"username": "jason", "passwd": None}, url) == "session=s0000"
    login = server.requests[0]
    assert (login["method"], login["path"]) == ("POST", "/login")
    assert login["form"] == JASON
    assert login["headers"]["referer"] == url
    assert login["headers"]["content-type"] == "application/x-www-form-urlencoded"
    # The sign-in's own redirect (to the Referer) is not followed.
    assert server.count("/productpage") == 0


def test_cookie_header_puts_the_session_before_the_given_cookies(server):
    client = _probe.Client(timeout=5)
    url = server.url("/productpage")
    assert client.cookie_header(url, dict(url=server.url("/login"), fields=JASON), {"flavour": "plain", "n": 1}) \
        == "session=s0000; flavour=plain; n=1"
    assert client.cookie_header(url, None, {"flavour": "plain"}) == "flavour=plain"
    assert client.cookie_header(url, None, {}) == ""
    assert server.count("/login") == 1


def test_sign_in_failures_say_what_to_check(server):
    client = _probe.Client(timeout=5)
    url = server.url("/productpage")
    with pytest.raises(_probe.ProbeError, match=r"^Sign-in at %s answered HTTP 404: not found\. Check login\.url and "
                       r"login\.fields\.$" % server.url("/nowhere")):
        client.sign_in(server.url("/nowhere"), JASON, url)
    with pytest.raises(_probe.ProbeError, match="answered HTTP 302 but set no cookie that applies to %s "
                       r"\(cookies set: 0\)" % url):
        client.sign_in(server.url("/login-nocookie"), JASON, url)
    closed = "http://127.0.0.1:%d/login" % _closed_port()
    with pytest.raises(_probe.ProbeError, match=r"^Sign-in at %s failed: .*Connection refused.*\. Check login\.url "
                       "and that the gateway answers" % closed):
        client.sign_in(closed, JASON, url)


def test_sign_in_gives_up_after_the_timeout():
    # A listening socket that never answers: the sign-in must not hang past its timeout. Closing the
    # socket after 3 s resets the connection, so a client without a timeout fails this test, not hangs.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        login = "http://127.0.0.1:%d/login" % silent.getsockname()[1]
        closer = threading.Timer(3, silent.close)
        closer.start()
        started = time.monotonic()
        try:
            with pytest.raises(_probe.ProbeError, match="failed: timed out"):
                _probe.Client(timeout=0.3).sign_in(login, JASON, "http://127.0.0.1/productpage")
        finally:
            closer.cancel()
        assert time.monotonic() - started < 3


# --- labels -----------------------------------------------------------------------------------


def test_the_first_matching_rule_labels_then_the_regex_then_unmatched():
    classifier = _probe.Classifier([dict(status=[503], label="overflow"),
                                    dict(header="X-Served-By", regex=r"httpbin-(?P<label>v\d+)"),
                                    dict(body_regex="maintenance", label="down")], REVIEWS)
    assert classifier.label(503, {}, "Reviews served by: reviews-v2-x") == "overflow"
    assert classifier.label(200, {"X-Served-By": "httpbin-v7"}, "maintenance") == "v7"
    assert classifier.label(200, {}, "maintenance Reviews served by: reviews-v2-x") == "down"
    assert classifier.label(200, {}, "Reviews served by: reviews-v2-x") == "v2"
    assert classifier.label(200, {}, "nothing") == "unmatched"
