"""The gateway stand-in routes reviews the way the stored VirtualService and DestinationRule say."""

import collections
import random
import re
import urllib.parse
import urllib.request

import pytest

from tests.harness.dataplane import DataPlane

NS = "bookinfo"
VS_PATH = "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices"
DR_PATH = "/apis/networking.istio.io/v1/namespaces/bookinfo/destinationrules"
SUBSETS = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "reviews"},
           "spec": {"host": "reviews", "subsets": [{"name": v, "labels": {"version": v}} for v in ("v1", "v2", "v3")]}}


class StoredObjects:
    """What the emulator's GET answers, keyed by path; lists are {"items": [...]}."""

    def __init__(self):
        self.paths = {}

    def get(self, path):
        base = path.split("?")[0]
        items = self.paths.get(base)
        if items is None:
            return None
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        selector = dict(p.split("=") for p in query.get("labelSelector", [""])[0].split(",") if p)
        return {"items": [i for i in items if selector.items() <= i["metadata"].get("labels", {}).items()]}


def routes(*http):
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "reviews"},
            "spec": {"hosts": ["reviews"], "http": list(http)}}


def served(url, count, opener=None):
    opener = opener or urllib.request.build_opener()
    versions = collections.Counter()
    for _ in range(count):
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
    with DataPlane(stored, NS, rng=random.Random(7)) as server:
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


def test_weights_split_traffic(plane, stored):
    stored.paths[VS_PATH] = [routes({"route": [{"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
                                               {"destination": {"host": "reviews", "subset": "v3"}, "weight": 50}]})]
    stored.paths[DR_PATH] = [SUBSETS]
    counts = served(plane.url, 200)
    assert set(counts) == {"v1", "v3"}
    assert 70 <= counts["v1"] <= 130


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
