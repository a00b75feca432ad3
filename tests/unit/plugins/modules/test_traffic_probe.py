# -*- coding: utf-8 -*-
"""traffic_probe against a local threaded HTTP server with seeded, known behaviour (probe_server)."""

from __future__ import annotations

import socket
from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.istiolab.mesh.plugins.module_utils import _stats
from ansible_collections.istiolab.mesh.plugins.modules import traffic_probe
from cli_cases import ModuleExit, exit_json, fail_json
from probe_server import ProbeServer

REVIEWS = r"Reviews served by:\s*reviews-(v\d+)-"


def probe(params, check_mode=False):
    """Run the module; return its result (``failed`` tells exit_json from fail_json)."""
    args = dict(params)
    args["_ansible_check_mode"] = check_mode
    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json):
        with pytest.raises(ModuleExit) as caught:
            traffic_probe.main()
    return caught.value.result


@pytest.fixture
def server():
    with ProbeServer(seed=20240611) as running:
        yield running


# --- shares -----------------------------------------------------------------------------------


def test_a_true_50_50_split_passes(server):
    result = probe(dict(url=server.url("/weighted?v1=50&v3=50"), label_from_regex=REVIEWS,
                        expect_shares={"v1": 50, "v3": 50}, concurrency=8))
    assert result["failed"] is False and result["passed"] is True, result["msg"]
    # 197 = ceil(lambda*(df=1) / w^2) = ceil(7.849 / 0.04) for 10 points at 95% and power 0.8.
    assert result["sample_size"] == {"count": 197, "computed": True, "needed": {"shares": 197}}
    assert server.count("/weighted") == 197 == result["requests"]
    assert sum(result["counts"].values()) == 197 and set(result["counts"]) == {"v1", "v3"}
    assert result["checks"][0]["test"] == "chi-square"
    deviation = (result["counts"]["v1"] - 98.5) ** 2 * 2 / 98.5
    assert result["checks"][0]["p_value"] == pytest.approx(_stats.chi2_sf(deviation, 1))
    assert "consistent with v1 50 / v3 50 at 95% confidence (chi-square p=" in result["msg"]
    assert result["changed"] is False


def test_70_30_served_where_50_50_is_expected_fails(server):
    result = probe(dict(url=server.url("/weighted?v1=70&v3=30"), label_from_regex=REVIEWS,
                        expect_shares={"v1": 50, "v3": 50}))
    assert result["failed"] is True and result["passed"] is False
    assert result["checks"][0]["p_value"] < 1e-4
    assert "not consistent with v1 50 / v3 50 at 95% confidence" in result["msg"]
    # The measured table comes with the failure.
    assert result["table"][0].split() == ["label", "count", "share", "expected"]
    assert result["table"][1].split()[:2] == ["v1", str(result["counts"]["v1"])]
    assert "\n".join(result["table"]) in result["msg"]


def test_fail_on_mismatch_false_reports_without_failing(server):
    result = probe(dict(url=server.url("/weighted?v1=70&v3=30"), label_from_regex=REVIEWS,
                        expect_shares={"v1": 50, "v3": 50}, count=100, fail_on_mismatch=False))
    assert result["failed"] is False and result["passed"] is False
    assert result["msg"].startswith("Probe failed (100 requests to ")


def test_all_v1_passes_when_every_response_is_v1(server):
    result = probe(dict(url=server.url("/weighted?v1=100"), label_from_regex=REVIEWS, expect_shares={"v1": 100}))
    assert result["passed"] is True, result["msg"]
    # ceil(ln(0.05) / ln(0.9)) = 29 responses, none of another version.
    assert server.count("/weighted") == 29
    assert result["counts"] == {"v1": 29}
    assert "all 29 responses v1: any other at 9.8% or more would have shown up with 95% confidence" in result["msg"]


def test_all_v1_fails_when_5_percent_go_to_v2(server):
    result = probe(dict(url=server.url("/weighted?v1=95&v2=5"), label_from_regex=REVIEWS,
                        expect_shares={"v1": 100}, tolerance=5))
    assert server.count("/weighted") == 59
    assert result["failed"] is True
    assert result["counts"]["v2"] >= 1
    assert "seen v2 %d of 59 where 0%% was expected" % result["counts"]["v2"] in result["msg"]


@pytest.mark.parametrize("params, expected", [
    (dict(expect_shares={"v1": 100}, tolerance=5, confidence=0.99), 90),
    (dict(expect_shares={"v1": 50, "v3": 50}, tolerance=20), 50),
    (dict(expect_shares={"v1": 80, "v3": 20}), 126),
    (dict(max_latency_ms={"p50": 1000}), 5),
])
def test_the_module_sends_exactly_the_computed_count(server, params, expected):
    result = probe(dict(url=server.url("/weighted?v1=100"), label_from_regex=REVIEWS, fail_on_mismatch=False, **params))
    assert result["sample_size"]["count"] == expected
    assert server.count("/weighted") == expected == result["requests"]


def test_computed_counts_follow_the_stated_formulas():
    # The module's numbers for the last table, from the formulas themselves.
    assert math_ceil(7.848860 / (0.2 ** 2 * (1 / 0.5 + 1 / 0.5))) == 50
    assert math_ceil(7.848860 / (0.1 ** 2 * (1 / 0.8 + 1 / 0.2))) == 126
    assert _stats.share_sample_size({"v1": 0.8, "v3": 0.2}, 0.1, 0.95, 0.8) == 126


def math_ceil(value):
    return -int(-value // 1)


def test_a_count_given_is_sent_as_given(server):
    result = probe(dict(url=server.url("/weighted?v1=100"), count=7, concurrency=3))
    assert server.count("/weighted") == 7
    assert result["sample_size"] == {"count": 7, "computed": False, "needed": {}}
    assert result["passed"] is True and result["checks"] == []
    assert result["msg"].startswith("Probe measured 7 requests to ")


def test_more_than_max_count_fails_before_sending(server):
    result = probe(dict(url=server.url("/weighted?v1=50&v3=50"), expect_shares={"v1": 50, "v3": 50}, tolerance=1))
    assert result["failed"] is True
    # ceil(7.849 / (0.01^2 (2 + 2))) = 19623 for 1 point.
    assert ("the expectations need 19623 requests (shares 19623) at 95% confidence, 80% power and a tolerance "
            "of 1 points, more than max_count 2000: raise tolerance") in result["msg"]
    assert server.requests == []


# --- status -----------------------------------------------------------------------------------


def test_status_shares_pass_when_served_as_expected(server):
    shares = {200: 70, 500: 10, 503: 10, 429: 5, 403: 5}
    query = "&".join("%d=%d" % item for item in shares.items())
    result = probe(dict(url=server.url("/status?" + query), count=400, concurrency=8, expect_status=shares))
    assert result["passed"] is True, result["msg"]
    assert set(result["status"]) == {"200", "500", "503", "429", "403"}
    assert sum(result["status"].values()) == 400
    assert result["checks"][0]["test"] == "chi-square"


def test_status_shares_fail_when_503s_appear_where_none_are_expected(server):
    result = probe(dict(url=server.url("/status?200=80&503=20"), count=60, expect_status={200: 100}))
    assert result["failed"] is True
    assert "seen 503 %d of 60 where 0%% was expected" % result["status"]["503"] in result["msg"]


def test_status_shares_fail_when_the_split_is_wrong(server):
    result = probe(dict(url=server.url("/status?200=70&429=30"), count=200, expect_status={200: 50, 429: 50}))
    assert result["failed"] is True
    assert result["checks"][0]["p_value"] < 1e-4


def test_classify_rules_label_by_status_header_and_body(server):
    result = probe(dict(url=server.url("/status?200=50&503=30&404=20"), count=100, classify=[
        dict(status=[503], label="overflow"),
        dict(header="x-version", regex=r"httpbin-(?P<label>v\d+)"),
    ]))
    # Every non-503 answer carries X-Version: httpbin-v1; the first rule that matches wins.
    assert set(result["counts"]) == {"overflow", "v1"}
    assert result["counts"]["overflow"] == result["status"]["503"]
    assert result["counts"]["v1"] == result["status"]["200"] + result["status"]["404"]
    body = probe(dict(url=server.url("/status?200=100"), count=3, classify=[
        dict(body_regex="no such text", label="never"),
        dict(body_regex="status (?P<label>2..)")]))
    assert body["counts"] == {"200": 3}
    unmatched = probe(dict(url=server.url("/status?200=100"), count=2, label_from_regex=REVIEWS))
    assert unmatched["counts"] == {"unmatched": 2}


# --- latency ----------------------------------------------------------------------------------


def test_latency_percentiles_match_the_known_delays(server):
    # 30% of requests sleep 250 ms, the others 20 ms; the upper margins allow for a busy machine and
    # still tell a fast request from a slow one.
    result = probe(dict(url=server.url("/delay?fast_ms=20&slow_ms=250&slow=30"), count=40, concurrency=8,
                        max_latency_ms={"p50": 150}, min_latency_ms={"p95": 250}))
    latency = result["latency_ms"]
    assert 20 <= latency["p50"] < 220
    assert 250 <= latency["p90"] < 450
    assert 250 <= latency["p99"] <= latency["max"] < 450
    assert result["passed"] is True, result["msg"]
    assert "at most 150 ms shown at 95% confidence" in result["msg"]
    assert "at least 250 ms shown at 95% confidence" in result["msg"]


def test_a_latency_bound_the_server_breaks_fails(server):
    result = probe(dict(url=server.url("/delay?fast_ms=20&slow_ms=250&slow=30"), count=40, concurrency=8,
                        max_latency_ms={"p90": 150, "max": 400}))
    assert result["failed"] is True
    by_name = dict((check["name"], check) for check in result["checks"])
    assert by_name["max_latency_ms.p90"]["passed"] is False
    assert by_name["max_latency_ms.max"]["passed"] is True
    assert "at most 150 ms not shown at 95% confidence" in result["msg"]


def test_too_few_requests_cannot_show_a_p99_bound(server):
    result = probe(dict(url=server.url("/weighted?v1=100"), count=50, max_latency_ms={"p99": 5000}))
    assert result["failed"] is True
    assert "showing it takes at least 299 requests, all within the bound" in result["msg"]


# --- sign-in, cookies, redirects --------------------------------------------------------------


def test_login_cookie_reaches_every_request_and_proves_the_delay(server):
    result = probe(dict(
        url=server.url("/productpage?signed_in=v2&signed_in_delay_ms=150"),
        login=dict(url=server.url("/login"), fields={"username": "jason", "passwd": ""}),
        label_from_regex=REVIEWS, expect_shares={"v2": 100}, min_latency_ms={"p50": 150}, concurrency=8))
    assert result["passed"] is True, result["msg"]
    logins = [r for r in server.requests if r["path"] == "/login"]
    assert len(logins) == 1
    assert logins[0]["form"] == {"username": "jason", "passwd": ""}
    assert logins[0]["headers"]["referer"] == server.url("/productpage?signed_in=v2&signed_in_delay_ms=150")
    pages = [r for r in server.requests if r["path"] == "/productpage"]
    # The all-v2 expectation sizes the probe (29); the p50 delay bound needs only 5. The sign-in's
    # own redirect is not followed, so every productpage request is a probe request.
    assert len(pages) == 29 == result["requests"]
    assert set(r["headers"].get("cookie") for r in pages) == {"session=s0000"}
    assert result["latency_ms"]["p50"] >= 150
    # 29 requests of 150 ms each take 4.4 s one after the other; 8 threads finish in about 0.6 s.
    assert result["duration_s"] < 2.0


def test_anonymous_requests_see_v1_and_user_cookies_are_sent(server):
    result = probe(dict(url=server.url("/productpage"), label_from_regex=REVIEWS, count=5,
                        cookies={"flavour": "plain"}, headers={"end-user": "nobody"}))
    assert result["counts"] == {"v1": 5}
    pages = [r for r in server.requests if r["path"] == "/productpage"]
    assert all(r["headers"]["cookie"] == "flavour=plain" and r["headers"]["end-user"] == "nobody" for r in pages)


def test_the_session_follows_a_redirect_on_the_same_host(server):
    result = probe(dict(
        url=server.url("/redirect?to=/productpage?signed_in=v3"), count=4, label_from_regex=REVIEWS,
        login=dict(url=server.url("/login"), fields={"username": "jason", "passwd": ""})))
    assert result["counts"] == {"v3": 4}
    redirected = [r for r in server.requests if r["path"] == "/productpage"]
    assert [r["headers"].get("cookie") for r in redirected] == ["session=s0000"] * 4


def test_the_session_does_not_follow_a_redirect_to_another_host(server):
    # Same server, other host name: the session stays behind, so the page is served anonymously.
    elsewhere = server.url("/productpage?signed_in=v3").replace("127.0.0.1", "localhost")
    result = probe(dict(
        url=server.url("/redirect?to=" + elsewhere), count=2, label_from_regex=REVIEWS,
        login=dict(url=server.url("/login"), fields={"username": "jason", "passwd": ""})))
    assert result["counts"] == {"v1": 2}
    assert all("cookie" not in r["headers"] for r in server.requests if r["path"] == "/productpage")


def test_login_failures_stop_before_probing(server):
    missing = probe(dict(url=server.url("/productpage"), count=5,
                         login=dict(url=server.url("/no-such-login"), fields={"username": "jason"})))
    assert missing["failed"] is True
    assert missing["msg"].startswith("Sign-in at %s answered HTTP 404: not found." % server.url("/no-such-login"))
    no_cookie = probe(dict(url=server.url("/productpage"), count=5,
                           login=dict(url=server.url("/login-nocookie"), fields={"username": "jason"})))
    assert no_cookie["failed"] is True
    assert "answered HTTP 302 but set no cookie that applies to" in no_cookie["msg"]
    assert server.count("/productpage") == 0


def test_redirects_are_followed_or_counted(server):
    followed = probe(dict(url=server.url("/redirect?to=/weighted?v1=100"), count=4, label_from_regex=REVIEWS))
    assert followed["counts"] == {"v1": 4} and followed["status"] == {"200": 4}
    kept = probe(dict(url=server.url("/redirect?to=/weighted?v1=100"), count=4, follow_redirects=False))
    assert kept["status"] == {"302": 4}
    assert server.count("/weighted") == 4


# --- failures, check mode, bad input ----------------------------------------------------------


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_failures_count_as_status_0_and_label_error():
    result = probe(dict(url="http://127.0.0.1:%d/productpage" % _closed_port(), count=6, expect_shares={"v1": 100}))
    assert result["failed"] is True
    assert result["errors"] == 6 and result["status"] == {"0": 6} and result["counts"] == {"error": 6}
    assert "Connection refused" in result["error_samples"][0]
    assert "seen error 6 of 6 where 0% was expected" in result["msg"]


def test_a_dropped_connection_is_an_error_too(server):
    result = probe(dict(url=server.url("/drop"), count=3))
    assert result["errors"] == 3 and result["counts"] == {"error": 3}
    assert result["error_samples"] == ["Remote end closed connection without response"]


def test_a_request_over_the_timeout_is_an_error_with_its_time(server):
    result = probe(dict(url=server.url("/delay?fast_ms=600&slow_ms=600&slow=0"), count=2, concurrency=2, timeout=0.2))
    assert result["errors"] == 2 and result["counts"] == {"error": 2}
    assert result["error_samples"] == ["timed out"]
    assert 200 <= result["latency_ms"]["max"] < 600


def test_check_mode_runs_the_probe_and_changes_nothing(server):
    result = probe(dict(url=server.url("/weighted?v1=100"), count=5), check_mode=True)
    assert result["changed"] is False and result["requests"] == 5
    assert server.count("/weighted") == 5


@pytest.mark.parametrize("params, message", [
    (dict(expect_shares={"v1": 60, "v3": 30}), "expect_shares sums to 90 percent, not 100"),
    (dict(expect_status={200: 100, 500: -1}), r"expect_status[500] is -1"),
    (dict(label_from_regex="reviews-(v\\d)-(\\w+)"), "label_from_regex must have exactly one group"),
    (dict(label_from_regex="reviews-(v\\d"), "label_from_regex is not a valid regular expression"),
    (dict(classify=[dict(label="x", body_regex="a", status=[200])]), "classify[0] must have exactly one of"),
    (dict(classify=[dict(body_regex="a")]), "classify[0] needs a label, or a regex with a named group"),
    (dict(classify=[dict(label="x", header="x-version")]), "classify[0]: header 'x-version' needs a regex"),
    (dict(max_latency_ms={"p100": 5}), "max_latency_ms has key 'p100': use pNN with 0 < NN < 100"),
    (dict(min_latency_ms={"p50": "slow"}), "min_latency_ms.p50 is 'slow': give milliseconds as a number"),
    (dict(confidence=95), "confidence is 95.0: it must be between 0 and 1"),
    (dict(tolerance=0), "tolerance is 0.0: give percentage points between 0 and 100"),
    (dict(concurrency=0, count=3), "concurrency is 0: it must be at least 1"),
    (dict(), "count is not set and there is nothing to compute it from"),
])
def test_bad_input_fails_before_sending(server, params, message):
    result = probe(dict(url=server.url("/weighted?v1=100"), **params))
    assert result["failed"] is True
    assert message in result["msg"]
    assert server.requests == []
