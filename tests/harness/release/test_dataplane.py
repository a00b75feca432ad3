"""The gateway stand-in answers the way the stored Istio objects say: routes, faults, rate limits, RBAC, mirrors."""

import collections
import http.client
import json
import sys
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.harness import dataplane
from tests.harness.apiserver.lifecycle import REPO
from tests.harness.dataplane import DataPlane

NS = "bookinfo"
VS_PATH = "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices"
DR_PATH = "/apis/networking.istio.io/v1/namespaces/bookinfo/destinationrules"
EF_PATH = "/apis/networking.istio.io/v1alpha3/namespaces/istio-system/envoyfilters"
AP_PATH = "/apis/security.istio.io/v1/namespaces/istio-system/authorizationpolicies"
PODS_PATH = "/api/v1/namespaces/bookinfo/pods"


def rule(host, *versions):
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": host},
            "spec": {"host": host, "subsets": [{"name": v, "labels": {"version": v}} for v in versions]}}


SUBSETS = rule("reviews", "v1", "v2", "v3")


class StoredObjects:
    """What the emulator's GET answers, keyed by path; lists are {"items": [...]}; pod logs appended."""

    def __init__(self):
        self.paths = {}
        self.logs = collections.defaultdict(list)

    def append_log(self, namespace, pod, container, lines):
        self.logs[(namespace, pod, container)].extend(lines)

    def request(self, method, path, body=None):
        """The stand-in registers itself as the emulator's exec backend; nothing here execs."""
        assert path == "/_harness/exec-backend", (method, path, body)

    def get(self, path):
        base = path.split("?")[0]
        items = self.paths.get(base)
        if items is None:
            return None
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        selector = dict(p.split("=") for p in query.get("labelSelector", [""])[0].split(",") if p)
        return {"items": [i for i in items if selector.items() <= i["metadata"].get("labels", {}).items()]}


def routes(*http, host="reviews"):
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": host},
            "spec": {"hosts": [host], "http": list(http)}}


def to(host, subset, **extra):
    return dict({"route": [{"destination": {"host": host, "subset": subset}}]}, **extra)


def for_user(user, host, subset, **extra):
    return dict(to(host, subset, **extra), match=[{"headers": {"end-user": {"exact": user}}}])


Answer = collections.namedtuple("Answer", "status headers body seconds")


def fetch(url, path="/productpage", opener=None, headers=None):
    """The Answer to one request; HTTP errors are answers too."""
    request = urllib.request.Request(url + path, headers=headers or {})
    started = time.monotonic()
    try:
        with (opener or urllib.request.build_opener()).open(request) as answer:
            return Answer(answer.status, dict(answer.headers), answer.read().decode(), time.monotonic() - started)
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read().decode(), time.monotonic() - started)


def fetch_many(count, url, **kwargs):
    return [fetch(url, **kwargs) for _request in range(count)]


def served(url, count, opener=None):
    opener = opener or urllib.request.build_opener()
    versions = collections.Counter()
    for _request in range(count):
        with opener.open(url + "/productpage") as answer:
            assert answer.status == 200
            body = answer.read().decode()
        found = re.search(r"Reviews served by:</dt><dd><u>reviews-(v\d)-", body)
        versions[found.group(1) if found else "unavailable"] += 1
    return versions


def signed_in(url, user):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    opener.open(url + "/login", data=urllib.parse.urlencode({"username": user, "passwd": "password"}).encode())
    return opener


@pytest.fixture
def stored():
    return StoredObjects()


@pytest.fixture
def plane(stored):
    with DataPlane(stored, NS) as server:
        yield server


def test_listens_on_loopback_only(plane):
    assert plane.url.startswith("http://127.0.0.1:")


def test_without_virtual_service_versions_take_turns(plane):
    assert served(plane.url, 9) == {"v1": 3, "v2": 3, "v3": 3}


def test_all_to_v1_serves_only_v1_and_names_the_emulator_pod(plane, stored):
    stored.paths[VS_PATH] = [routes({"route": [{"destination": {"host": "reviews", "subset": "v1"}}]})]
    stored.paths[DR_PATH] = [SUBSETS]
    stored.paths["/api/v1/namespaces/bookinfo/pods"] = [
        {"metadata": {"name": "reviews-v1-5d8f9-abcde", "labels": {"app": "reviews", "version": "v1"}}}]
    assert served(plane.url, 20) == {"v1": 20}
    with urllib.request.urlopen(plane.url + "/productpage") as answer:
        assert "reviews-v1-5d8f9-abcde" in answer.read().decode()


def test_weights_split_traffic_in_their_shares(plane, stored):
    stored.paths[VS_PATH] = [routes({"route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
                                               {"destination": {"host": "reviews", "subset": "v3"}, "weight": 50}]})]
    stored.paths[DR_PATH] = [SUBSETS]
    assert served(plane.url, 200) == {"v1": 100, "v3": 100}
    stored.paths[VS_PATH] = [routes({"route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 70},
                                               {"destination": {"host": "reviews", "subset": "v2"}, "weight": 30}]})]
    assert served(plane.url, 10) == {"v1": 7, "v2": 3}


def test_end_user_header_match_follows_the_session(plane, stored):
    stored.paths[VS_PATH] = [routes(
        {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "route": [{"destination": {"host": "reviews", "subset": "v2"}}]},
        {"route": [{"destination": {"host": "reviews", "subset": "v1"}}]})]
    stored.paths[DR_PATH] = [SUBSETS]
    assert served(plane.url, 10, signed_in(plane.url, "jason")) == {"v2": 10}
    assert served(plane.url, 10, signed_in(plane.url, "alice")) == {"v1": 10}
    assert served(plane.url, 10) == {"v1": 10}


def test_v2_and_v3_draw_their_star_colours(plane, stored):
    stored.paths[VS_PATH] = [routes({"route": [{"destination": {"host": "reviews", "subset": "v3"}}]})]
    stored.paths[DR_PATH] = [SUBSETS]
    with urllib.request.urlopen(plane.url + "/productpage") as answer:
        body = answer.read().decode()
    assert "text-red-500" in body and "text-black-500" not in body


def test_subset_without_destination_rule_makes_reviews_unavailable(plane, stored):
    stored.paths[VS_PATH] = [routes({"route": [{"destination": {"host": "reviews", "subset": "v1"}}]})]
    assert served(plane.url, 3) == {"unavailable": 3}


def test_unknown_paths_are_404(plane):
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(plane.url + "/nothing")
    assert missing.value.code == 404


# -- Faults on the user's calls to ratings (Istio's fault injection task) ---------------------------
@pytest.fixture
def fault_plane(stored):
    """Bookinfo with jason on reviews v2 (which calls ratings) and productpage waiting 0.1 s per try."""
    stored.paths[DR_PATH] = [SUBSETS, rule("ratings", "v1")]
    reviews = routes(for_user("jason", "reviews", "v2"), to("reviews", "v1"))
    stored.paths[VS_PATH] = [reviews]
    with DataPlane(stored, NS, productpage_timeout=0.1) as server:
        yield server


def ratings_fault(stored, fault):
    stored.paths[VS_PATH] = [stored.paths[VS_PATH][0],
                             routes(for_user("jason", "ratings", "v1", fault=fault), to("ratings", "v1"), host="ratings")]


def test_delay_beyond_productpage_wait_leaves_the_page_without_reviews_after_both_tries(fault_plane, stored):
    ratings_fault(stored, {"delay": {"percentage": {"value": 100}, "fixedDelay": "2s"}})
    jason = fetch(fault_plane.url, opener=signed_in(fault_plane.url, "jason"))
    assert jason.status == 200
    assert "Sorry, product reviews are currently unavailable for this book." in jason.body
    assert 0.2 <= jason.seconds < 1.5
    anonymous = fetch(fault_plane.url)
    assert "reviews-v1-" in anonymous.body and anonymous.seconds < 0.2


def test_delay_within_productpage_wait_slows_the_page_that_still_shows_ratings(stored):
    stored.paths[DR_PATH] = [SUBSETS, rule("ratings", "v1")]
    stored.paths[VS_PATH] = [routes(for_user("jason", "reviews", "v2"), to("reviews", "v1")),
                             routes(for_user("jason", "ratings", "v1", fault={"delay": {"fixedDelay": "0.15s"}}),
                                    to("ratings", "v1"), host="ratings")]
    with DataPlane(stored, NS, productpage_timeout=5) as server:
        jason = fetch(server.url, opener=signed_in(server.url, "jason"))
    assert "reviews-v2-" in jason.body and "text-black-500" in jason.body
    assert 0.15 <= jason.seconds < 1.0


def test_abort_at_a_percentage_shows_ratings_unavailable_on_that_share_of_pages(fault_plane, stored):
    ratings_fault(stored, {"abort": {"percentage": {"value": 50}, "httpStatus": 500}})
    jason = signed_in(fault_plane.url, "jason")
    answers = fetch_many(200, fault_plane.url, opener=jason)
    assert {a.status for a in answers} == {200}
    assert sum("Ratings service is currently unavailable" in a.body for a in answers) == 100
    assert all("reviews-v2-" in a.body for a in answers)
    assert not any("Ratings service is currently unavailable" in a.body for a in fetch_many(20, fault_plane.url))


def test_ratings_subset_without_destination_rule_makes_ratings_unavailable(stored):
    stored.paths[DR_PATH] = [SUBSETS]
    stored.paths[VS_PATH] = [routes(to("reviews", "v3")), routes(to("ratings", "v1"), host="ratings")]
    with DataPlane(stored, NS) as server:
        body = fetch(server.url).body
    assert "reviews-v3-" in body and "Ratings service is currently unavailable" in body


# -- Local rate limit at the gateway -----------------------------------------------------------------
def rate_limit(max_tokens, fill_interval="3600s", selector=None, enforced=100):
    fraction = {"default_value": {"numerator": enforced, "denominator": "HUNDRED"}}
    return {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
            "metadata": {"name": "ingress-local-rate-limit", "uid": "u-%s-%s" % (max_tokens, fill_interval), "resourceVersion": "1"},
            "spec": {"workloadSelector": {"labels": selector or {"istio": "ingressgateway"}}, "configPatches": [{
                "applyTo": "HTTP_FILTER", "patch": {"operation": "INSERT_BEFORE", "value": {
                    "name": "envoy.filters.http.local_ratelimit", "typed_config": {
                        "token_bucket": {"max_tokens": max_tokens, "tokens_per_fill": max_tokens, "fill_interval": fill_interval},
                        "filter_enabled": fraction, "filter_enforced": fraction,
                        "response_headers_to_add": [{"header": {"key": "x-local-rate-limit", "value": "true"}}]}}}}]}}


def test_local_rate_limit_answers_429_beyond_the_token_bucket(plane, stored):
    stored.paths[EF_PATH] = [rate_limit(5)]
    answers = fetch_many(8, plane.url)
    assert [a.status for a in answers] == [200] * 5 + [429] * 3
    assert answers[-1].headers.get("x-local-rate-limit") == "true" and answers[-1].body == "local_rate_limited"
    assert fetch(plane.url, dataplane.HEALTH_PATH).status == 200


def test_local_rate_limit_refills_every_fill_interval(plane, stored):
    stored.paths[EF_PATH] = [rate_limit(2, "0.3s")]
    assert [a.status for a in fetch_many(3, plane.url)] == [200, 200, 429]
    time.sleep(0.35)
    assert fetch(plane.url).status == 200


def test_rate_limit_of_another_workload_or_not_enforced_does_not_limit_the_gateway(plane, stored):
    stored.paths[EF_PATH] = [rate_limit(1, selector={"app": "productpage"}), dict(rate_limit(1, enforced=0), metadata={"name": "b"})]
    assert {a.status for a in fetch_many(4, plane.url)} == {200}


# -- AuthorizationPolicy with IP blocks at the gateway -----------------------------------------------
def policy(action, **source):
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "p-" + action.lower()},
            "spec": {"selector": {"matchLabels": {"istio": "ingressgateway"}}, "action": action,
                     "rules": [{"from": [{"source": source}]}]}}


def fetch_from(source, url, headers=None):
    """The status of GET /productpage sent from the loopback address ``source`` (the TCP peer the gateway sees)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10, source_address=(source, 0))
    connection.request("GET", "/productpage", headers=headers or {})
    status = connection.getresponse().status
    connection.close()
    return status


def test_deny_by_remote_ip_judges_the_tcp_peer_not_forwarded_for(plane, stored):
    # Istio's default is 0 trusted proxies: remoteIpBlocks judge the connection's peer, X-Forwarded-For is the client's claim.
    stored.paths[AP_PATH] = [policy("DENY", remoteIpBlocks=["127.0.0.2/32"])]
    assert fetch_from("127.0.0.2", plane.url) == 403
    assert fetch_from("127.0.0.1", plane.url) == 200
    assert fetch_from("127.0.0.1", plane.url, {"X-Forwarded-For": "127.0.0.2"}) == 200
    assert fetch_from("127.0.0.2", plane.url, {"X-Forwarded-For": "127.0.0.1"}) == 403


def test_allow_list_answers_403_to_every_other_source(plane, stored):
    stored.paths[AP_PATH] = [policy("ALLOW", remoteIpBlocks=["127.0.0.1/32"])]
    assert fetch_from("127.0.0.2", plane.url) == 403
    assert fetch_from("127.0.0.2", plane.url, {"X-Forwarded-For": "127.0.0.1"}) == 403
    assert fetch_from("127.0.0.1", plane.url) == 200


def test_deny_by_peer_ip_block_ignores_forwarded_addresses(plane, stored):
    stored.paths[AP_PATH] = [policy("DENY", ipBlocks=["127.0.0.1"])]
    assert fetch(plane.url, headers={"X-Forwarded-For": "192.168.49.1"}).status == 403


def test_policy_field_not_emulated_answers_500_naming_it(plane, stored):
    stored.paths[AP_PATH] = [policy("DENY", principals=["cluster.local/ns/x/sa/y"])]
    answer = fetch(plane.url)
    assert answer.status == 500 and "principals" in answer.body


# -- httpbin mirroring ---------------------------------------------------------------------------------
@pytest.fixture
def httpbin(stored):
    stored.paths[DR_PATH] = [rule("httpbin", "v1", "v2")]
    stored.paths[PODS_PATH] = [
        {"metadata": {"name": "httpbin-%s-7c9d4-%s" % (v, v * 3), "labels": {"app": "httpbin", "version": v}}} for v in ("v1", "v2")]
    return stored


def httpbin_lines(stored, version):
    return [line for (_namespace, pod, container), lines in stored.logs.items() if pod.startswith("httpbin-%s-" % version)
            for line in lines if container == "httpbin" and "/hostname" in line]


@pytest.mark.parametrize("percentage, copies", [(None, 10), (100, 10), (0, 0)])
def test_mirror_copies_requests_to_v2_whose_log_counts_them_while_v1_answers(plane, httpbin, percentage, copies):
    route = {"route": [{"destination": {"host": "httpbin", "subset": "v1"}, "weight": 100}],
             "mirror": {"host": "httpbin", "subset": "v2"}}
    if percentage is not None:
        route["mirrorPercentage"] = {"value": percentage}
    httpbin.paths[VS_PATH] = [routes(route, host="httpbin")]
    answers = fetch_many(10, plane.url, path="/hostname", headers={"Host": "httpbin:8000"})
    assert [json.loads(a.body)["hostname"] for a in answers] == ["httpbin-v1-7c9d4-v1v1v1"] * 10
    assert len(httpbin_lines(httpbin, "v1")) == 10
    assert len(httpbin_lines(httpbin, "v2")) == copies
    assert 'uri="/hostname"' in httpbin_lines(httpbin, "v1")[0]


def test_httpbin_without_virtual_service_balances_over_its_pods(plane, httpbin):
    hosts = {json.loads(a.body)["hostname"] for a in fetch_many(4, plane.url, path="/hostname", headers={"Host": "httpbin"})}
    assert hosts == {"httpbin-v1-7c9d4-v1v1v1", "httpbin-v2-7c9d4-v2v2v2"}


# -- Command line ----------------------------------------------------------------------------------------
def test_up_keeps_a_running_stand_in_and_restarts_it_when_its_settings_change(harness):
    def up(*extra):
        harness.run([sys.executable, "-m", "tests.harness.dataplane", "up", "--dir", harness.dir, *extra], cwd=REPO)
        with open(f"{harness.dir}/dataplane.json") as handle:
            return json.load(handle)

    try:
        first = up("--productpage-timeout", "0.5")
        assert up("--productpage-timeout", "0.5")["pid"] == first["pid"]
        second = up()
        assert second["pid"] != first["pid"] and second["productpage_timeout"] == 3.0
        assert fetch(second["url"], dataplane.HEALTH_PATH).status == 200
    finally:
        harness.run([sys.executable, "-m", "tests.harness.dataplane", "down", "--dir", harness.dir], cwd=REPO)
