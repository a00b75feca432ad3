"""Request counting and fault injection (each test has an emulator of its own)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from tests.harness.client import HarnessClient, HarnessError


def test_stats_count_requests_by_verb_resource_and_client(fresh_harness):
    client = fresh_harness.client
    client.reset_stats()
    fresh_harness.kubectl("get", "namespaces")
    client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}})
    client.get("/api/v1/namespaces/default/configmaps/c")
    client.request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "d"}}, params={"dryRun": "All"})
    stats = client.stats()
    assert stats["by_resource"]["v1/namespaces"] == {"list": 1}
    assert stats["by_resource"]["v1/configmaps"] == {"create": 2, "get": 1}
    # The client looks the ConfigMap kind up in discovery once before its first create.
    assert stats["by_agent"]["kubectl"] >= 2 and stats["by_agent"]["harness-client"] == 4
    assert stats["by_verb"]["discovery"] >= 1
    assert (stats["writes"], stats["dry_run"]) == (1, 1)
    assert stats["total"] == sum(stats["by_verb"].values()) == sum(stats["by_agent"].values())
    client.reset_stats()
    assert client.stats()["total"] == 0


def test_injected_errors_fail_the_next_requests_then_stop(fresh_harness):
    client = fresh_harness.client
    client.set_fault(status=500, count=2)
    for _attempt in range(2):
        with pytest.raises(HarnessError) as failed:
            client.get("/api/v1/namespaces/default")
        assert failed.value.status == 500
        assert failed.value.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                     "message": "harness: injected fault (HTTP 500 InternalError)", "reason": "InternalError", "code": 500}
    assert client.get("/api/v1/namespaces/default")["metadata"]["name"] == "default"
    assert client.stats()["faults_injected"] == 2
    assert client.request("GET", "/_harness/faults") == {"fault": None}


def test_faults_can_target_some_paths(fresh_harness):
    client = fresh_harness.client
    client.set_fault(status=503, count=1, match="/apis/apps/")
    assert client.get("/api/v1/namespaces/default") is not None
    with pytest.raises(HarnessError) as failed:
        client.list("/apis/apps/v1/deployments")
    assert (failed.value.status, failed.value.body["reason"]) == (503, "ServiceUnavailable")
    assert client.list("/apis/apps/v1/deployments") == []


def test_kubectl_reports_a_server_error_clearly(fresh_harness):
    fresh_harness.kubectl("get", "namespaces")
    fresh_harness.client.set_fault(status=500, count=50)
    result = fresh_harness.kubectl("get", "namespace", "default", check=False)
    assert result.returncode == 1
    assert "harness: injected fault (HTTP 500 InternalError)" in result.stderr
    fresh_harness.client.clear_faults()
    assert fresh_harness.kubectl("get", "namespace", "default", "-o", "name").stdout.strip() == "namespace/default"


def test_delays_hang_requests_until_the_client_gives_up(fresh_harness):
    client = fresh_harness.client
    client.set_fault(delay=2, count=1)
    impatient = HarnessClient.from_env(fresh_harness.dir, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(HarnessError) as timed_out:
        impatient.get("/api/v1/namespaces/default")
    assert timed_out.value.status is None and time.monotonic() - started < 1.5
    assert client.get("/api/v1/namespaces/default") is not None


def test_control_endpoints_refuse_bad_input(fresh_harness):
    with pytest.raises(HarnessError) as refused:
        fresh_harness.client.request("POST", "/_harness/faults", {"count": 3})
    assert refused.value.status == 400
    with pytest.raises(HarnessError) as unknown:
        fresh_harness.client.request("GET", "/_harness/nothing")
    assert unknown.value.status == 404


def test_wrong_credentials_are_refused(fresh_harness):
    request = urllib.request.Request(fresh_harness.server + "/api/v1/namespaces", headers={"Authorization": "Bearer wrong"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        # The CA only, no client certificate: a bearer token is then the only credential, and the emulator knows none.
        HarnessClient(fresh_harness.server, ca=fresh_harness.client.ca).urlopen(request, timeout=5)
    assert refused.value.code == 401 and json.loads(refused.value.read())["reason"] == "Unauthorized"
