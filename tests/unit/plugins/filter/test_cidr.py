"""The CIDR filters: which entries Istio would reject, and which status a source gets from allow and deny lists."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.filter.access_status import FilterModule as AccessFilters, access_status
from ansible_collections.istiolab.mesh.plugins.filter.cidr import FilterModule as CidrFilters, invalid_cidrs


def test_filters_are_registered_under_their_names():
    assert CidrFilters().filters() == {"invalid_cidrs": invalid_cidrs}
    assert AccessFilters().filters() == {"access_status": access_status}


def test_valid_addresses_and_blocks_pass():
    valid = ["10.0.0.0/8", "192.0.2.7", "192.0.2.0/24", "0.0.0.0/0", "2001:db8::/32", "::1", "10.0.0.1/8"]
    assert invalid_cidrs(valid) == []


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "256.1.1.1", "10.0.0", "localhost", "10.0.0.0/", " 10.0.0.0/8", "", "2001:db8::/129",
                                   "10.0.0.0/8,10.1.0.0/16", 10, None])
def test_each_malformed_entry_is_returned(entry):
    assert invalid_cidrs(["192.0.2.0/24", entry, "10.0.0.0/8"]) == [entry]


def test_malformed_entries_keep_their_order():
    assert invalid_cidrs(["b", "10.0.0.0/8", "a"]) == ["b", "a"]


def test_a_string_is_not_a_list():
    with pytest.raises(AnsibleFilterError, match="expects a list"):
        invalid_cidrs("10.0.0.0/8")


@pytest.mark.parametrize(("source", "allow", "deny", "status", "reason"), [
    ("192.168.49.1", [], ["10.244.0.0/16"], 200, "no deny block and there is no allow list"),
    ("10.244.0.17", [], ["10.244.0.0/16"], 403, "in the deny list (10.244.0.0/16)"),
    ("192.168.49.1", ["192.168.49.0/24"], [], 200, "in the allow list (192.168.49.0/24)"),
    ("10.244.0.17", ["192.168.49.0/24"], [], 403, "in no block of the allow list"),
    # DENY wins over ALLOW, as Istio evaluates DENY policies first.
    ("192.168.49.1", ["192.168.49.0/24"], ["192.168.49.1"], 403, "in the deny list (192.168.49.1)"),
    # An IPv4 source never matches an IPv6 block.
    ("192.168.49.1", ["::/0"], [], 403, "in no block of the allow list"),
])
def test_access_status_follows_istio_order(source, allow, deny, status, reason):
    result = access_status(source, allow, deny)
    assert result["status"] == status
    assert reason in result["reason"]


def test_access_status_rejects_a_bad_source_and_bad_lists():
    with pytest.raises(AnsibleFilterError, match="source IP address"):
        access_status("10.0.0.0/8", [], [])
    with pytest.raises(AnsibleFilterError, match="deny_cidrs has malformed entries: 10.0.0.0/33"):
        access_status("10.0.0.1", [], ["10.0.0.0/33"])
