"""The resilience and policy roles: rendered objects against Istio's documented ones, input validation,
and the decisions their scenarios take from fortio's report, Envoy's counters and the probe's answers.

Renders run the roles' real ``render`` entry points with ``ansible-playbook`` (no cluster); the routing
tests' helpers compare objects field by field. Recorded outputs are in tests/fixtures/resilience/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.istiolab.mesh.plugins.filter.circuit_breaking_verdict import (
    circuit_breaking_verdict, envoy_counter, fortio_codes, fortio_report)
from ansible_collections.istiolab.mesh.plugins.filter.rate_limit_verdict import duration_seconds, rate_limit_verdict
from tests.unit.scenarios._scenarios import REPO, assert_refused, by_identity, differences, load, meaning, run_role, strict_schema_problems

FIXTURES = REPO / "tests" / "fixtures" / "resilience"
HOST = "httpbin.bookinfo.svc.cluster.local"

RENDERS = {
    "resilience": ("resilience", {}),
    "policy": ("policy", {}),
    # Other values, to see that every number follows its variable, and both policies.
    "resilience-custom": ("resilience", {"resilience_cb_max_connections": 2, "resilience_cb_http1_max_pending_requests": 3,
                                         "resilience_cb_concurrency": 8, "resilience_rl_max_tokens": 5,
                                         "resilience_rl_tokens_per_fill": "2", "resilience_rl_fill_interval": "1m",
                                         "resilience_rl_requests": 30}),
    "policy-both": ("policy", {"policy_allow_cidrs": ["192.168.49.0/24", "2001:db8::/32"], "policy_deny_cidrs": ["192.168.49.7"]}),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("resilience-policy-render")
    with ThreadPoolExecutor(len(RENDERS)) as pool:
        runs = pool.map(lambda item: run_role(base / item[0], item[1][0], "render", item[1][1]), RENDERS.items())
        results = dict(zip(RENDERS, runs))
    for name, result in results.items():
        assert result.returncode == 0, f"render ({name}) failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    return {name: base / name / "rendered" for name in RENDERS}


def test_render_writes_one_file_per_scenario(rendered):
    assert sorted(p.name for p in rendered["resilience"].iterdir()) == ["circuit_breaking.yml", "rate_limit.yml"]
    assert sorted(p.name for p in rendered["policy"].iterdir()) == ["access_control.yml"]


def test_every_object_is_labelled_for_scenario_reset(rendered):
    for name in ("resilience", "policy"):
        for path in rendered[name].iterdir():
            for obj in load(path):
                labels = obj["metadata"].get("labels") or {}
                assert labels.get("app.kubernetes.io/managed-by") == "istiolab.mesh", (path.name, obj["metadata"]["name"])
                assert labels.get("istiolab.mesh/scenario") == path.stem, (path.name, obj["metadata"]["name"])


def test_rendered_objects_pass_the_strict_schemas(rendered):
    assert strict_schema_problems(rendered) == []


def test_circuit_breaker_is_istios_task(rendered):
    ours = by_identity(load(rendered["resilience"] / "circuit_breaking.yml"))
    upstream = load(FIXTURES / "circuit-breaking-task.yaml")[0]
    assert differences(meaning(ours[("DestinationRule", "httpbin")]), meaning(upstream)) == []


def test_circuit_breaker_numbers_follow_the_variables(rendered):
    rule = by_identity(load(rendered["resilience-custom"] / "circuit_breaking.yml"))[("DestinationRule", "httpbin")]
    pool = rule["spec"]["trafficPolicy"]["connectionPool"]
    assert pool == {"tcp": {"maxConnections": 2}, "http": {"http1MaxPendingRequests": 3, "maxRequestsPerConnection": 1}}


def test_circuit_breaking_workloads(rendered):
    ours = by_identity(load(rendered["resilience"] / "circuit_breaking.yml"))
    service = ours[("Service", "httpbin")]["spec"]
    # fortio calls http://httpbin:8000/get, the verdict reads outbound|8000||httpbin.<namespace>.
    assert service["ports"] == [{"name": "http", "port": 8000, "targetPort": 8080}]
    fortio = ours[("Deployment", "fortio")]["spec"]["template"]
    assert fortio["spec"]["containers"][0]["image"] == "docker.io/fortio/fortio:1.69.5"
    # Without cluster.outbound in the proxy's stats inclusion, the overflow counter is not reported at all.
    stats = yaml.safe_load(fortio["metadata"]["annotations"]["proxy.istio.io/config"])
    assert "cluster.outbound" in stats["proxyStatsMatcher"]["inclusionPrefixes"]


def _local_rate_limit(envoy_filter: dict) -> dict:
    return envoy_filter["spec"]["configPatches"][0]["patch"]["value"]


def test_rate_limit_is_istios_local_rate_limit_at_the_gateway(rendered):
    ours = load(rendered["resilience"] / "rate_limit.yml")
    assert len(ours) == 1
    envoy_filter = ours[0]
    upstream = load(FIXTURES / "local-rate-limit-task.yaml")[0]
    assert envoy_filter["apiVersion"] == "networking.istio.io/v1alpha3"
    assert envoy_filter["metadata"]["namespace"] == "istio-system"
    assert envoy_filter["spec"]["workloadSelector"] == {"labels": {"istio": "ingressgateway"}}
    patch = envoy_filter["spec"]["configPatches"][0]
    assert patch["applyTo"] == "HTTP_FILTER"
    assert patch["match"] == {"context": "GATEWAY", "listener": {"filterChain": {"filter": {
        "name": "envoy.filters.network.http_connection_manager"}}}}
    assert patch["patch"]["operation"] == upstream["spec"]["configPatches"][0]["patch"]["operation"] == "INSERT_BEFORE"
    ours_value = _local_rate_limit(envoy_filter)
    up_value = _local_rate_limit(upstream)
    assert ours_value["name"] == up_value["name"] == "envoy.filters.http.local_ratelimit"
    # The task wraps the config in a TypedStruct; the typed message itself is the same configuration.
    typed = dict(ours_value["typed_config"])
    assert typed.pop("@type") == up_value["typed_config"]["type_url"]
    expected = yaml.safe_load(yaml.safe_dump(up_value["typed_config"]["value"]))
    expected["token_bucket"] = {"max_tokens": 10, "tokens_per_fill": 10, "fill_interval": "10s"}
    # HeaderValueOption.append is deprecated in Envoy; append_action OVERWRITE_IF_EXISTS_OR_ADD is append: false.
    expected["response_headers_to_add"][0].pop("append")
    expected["response_headers_to_add"][0]["append_action"] = "OVERWRITE_IF_EXISTS_OR_ADD"
    assert differences(typed, expected) == []


def test_rate_limit_bucket_follows_the_variables(rendered):
    value = _local_rate_limit(load(rendered["resilience-custom"] / "rate_limit.yml")[0])
    assert value["typed_config"]["token_bucket"] == {"max_tokens": 5, "tokens_per_fill": 2, "fill_interval": "1m"}


def test_access_control_defaults_deny_the_pod_network_only(rendered):
    ours = by_identity(load(rendered["policy"] / "access_control.yml"))
    assert set(ours) == {("AuthorizationPolicy", "access-control-deny"), ("Deployment", "access-control-client")}
    deny = ours[("AuthorizationPolicy", "access-control-deny")]
    assert deny["apiVersion"] == "security.istio.io/v1"
    assert deny["metadata"]["namespace"] == "istio-system"
    assert deny["spec"] == {"selector": {"matchLabels": {"istio": "ingressgateway"}}, "action": "DENY",
                            "rules": [{"from": [{"source": {"remoteIpBlocks": ["10.244.0.0/16"]}}]}]}


def test_access_control_allow_and_deny_lists(rendered):
    ours = by_identity(load(rendered["policy-both"] / "access_control.yml"))
    allow = ours[("AuthorizationPolicy", "access-control-allow")]["spec"]
    deny = ours[("AuthorizationPolicy", "access-control-deny")]["spec"]
    assert (allow["action"], allow["rules"]) == ("ALLOW", [{"from": [{"source": {"remoteIpBlocks": ["192.168.49.0/24", "2001:db8::/32"]}}]}])
    assert (deny["action"], deny["rules"]) == ("DENY", [{"from": [{"source": {"remoteIpBlocks": ["192.168.49.7"]}}]}])


# -- Input validation: render validates first, so a bad value writes nothing ----------------------------------

BAD_INPUT = {
    "cidr-malformed": ("policy", {"policy_deny_cidrs": ["10.0.0.0/33", "10.1.0.0/16", "gateway"]},
                       ['policy_deny_cidrs has malformed entries ["10.0.0.0/33", "gateway"]']),
    "cidr-allow-malformed": ("policy", {"policy_allow_cidrs": ["300.1.2.3"]}, ['policy_allow_cidrs has malformed entries ["300.1.2.3"]']),
    # The role's argument spec refuses it first, naming the variable too.
    "cidr-not-a-list": ("policy", {"policy_allow_cidrs": {"a": 1}}, ["argument 'policy_allow_cidrs' is of type dict"]),
    "no-lists": ("policy", {"policy_deny_cidrs": []}, ["policy_allow_cidrs and policy_deny_cidrs are both empty"]),
    "probe-source-block": ("policy", {"policy_probe_source": "192.168.49.0/24"}, ['policy_probe_source is "192.168.49.0/24"']),
    "client-requests-zero": ("policy", {"policy_client_requests": 0}, ["policy_client_requests is 0"]),
    "cb-zero-connections": ("resilience", {"resilience_cb_max_connections": 0}, ["resilience_cb_max_connections is 0", "at least 1"]),
    "cb-negative-pending": ("resilience", {"resilience_cb_http1_max_pending_requests": -1},
                            ["resilience_cb_http1_max_pending_requests is -1"]),
    "cb-ejection-above-100": ("resilience", {"resilience_cb_max_ejection_percent": 101}, ["resilience_cb_max_ejection_percent is 101"]),
    "cb-bad-interval": ("resilience", {"resilience_cb_interval": "1 second"}, ['resilience_cb_interval is "1 second"']),
    "cb-load-within-pool": ("resilience", {"resilience_cb_concurrency": 2},
                            ["resilience_cb_concurrency is 2, which the pool admits"]),
    "rl-zero-tokens": ("resilience", {"resilience_rl_max_tokens": 0}, ["resilience_rl_max_tokens is 0"]),
    "rl-negative-fill": ("resilience", {"resilience_rl_tokens_per_fill": -5}, ["resilience_rl_tokens_per_fill is -5"]),
    "rl-fill-too-fast": ("resilience", {"resilience_rl_fill_interval": "10ms"}, ['resilience_rl_fill_interval is "10ms"', "at least 50ms"]),
    "rl-too-few-requests": ("resilience", {"resilience_rl_requests": 20}, ["resilience_rl_requests is 20, which one bucket lets through"]),
    "unknown-scenario": ("resilience", {"resilience_scenarios": ["rate_limit", "retries"]}, ["resilience_scenarios", "retries"]),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("resilience-policy-bad")
    with ThreadPoolExecutor(4) as pool:
        results = pool.map(lambda case: (case, run_role(base / case, BAD_INPUT[case][0], "render", BAD_INPUT[case][1])), BAD_INPUT)
    return {case: (result, base / case / "rendered") for case, result in results}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_fails_before_anything_naming_the_variable(bad_runs, case):
    result, render_dir = bad_runs[case]
    assert_refused(case, result, render_dir, BAD_INPUT[case][2])


# -- circuit_breaking: fortio's report and Envoy's counters ------------------------------------------------

def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def fortio_run(name: str) -> dict:
    """What k8s_exec registers for ``fortio load``: the report on stderr, nothing on stdout (fortio_main.go writes to os.Stderr)."""
    return {"rc": 0, "return_code": 0, "stdout": "", "stdout_lines": [], "stderr": fixture(name),
            "stderr_lines": fixture(name).splitlines()}


def test_fortio_codes_reads_the_status_histogram():
    assert fortio_codes(fixture("fortio-load-tripped.stderr.txt")) == {200: 19, 503: 11}
    assert fortio_codes(fixture("fortio-load-all-ok.stderr.txt")) == {200: 30}
    assert fortio_codes("Code -1 : 3 (10.0 %)\nCode 200 : 27 (90.0 %)\n") == {-1: 3, 200: 27}


def test_fortio_output_without_histogram_is_an_error_quoting_it():
    with pytest.raises(AnsibleFilterError, match="did not finish a load: .*connection refused"):
        fortio_codes("Aborting because of dial tcp 10.96.0.1:8000: connection refused\n")


def test_fortio_report_is_read_from_stderr_or_a_merged_stream():
    stderr = fixture("fortio-load-tripped.stderr.txt")
    assert fortio_codes(fortio_report(fortio_run("fortio-load-tripped.stderr.txt"))) == {200: 19, 503: 11}
    # kubectl exec in a terminal merges the streams, as on Istio's task page.
    assert fortio_codes(fortio_report(stderr)) == {200: 19, 503: 11}
    assert fortio_codes(fortio_report({"stdout": stderr, "stderr": ""})) == {200: 19, 503: 11}
    with pytest.raises(AnsibleFilterError, match="not a list"):
        fortio_report([stderr])


def test_a_failed_load_quotes_fortios_stderr():
    result = {"rc": 1, "stdout": "", "stderr": "Aborting because of dial tcp 10.96.0.1:8000: connection refused\n"}
    with pytest.raises(AnsibleFilterError, match="did not finish a load: .*connection refused"):
        circuit_breaking_verdict(result, fixture("envoy-stats-before.txt"), fixture("envoy-stats-after.txt"), HOST, 8000, 30)


def test_the_role_concludes_from_the_k8s_exec_result_with_the_report_on_stderr():
    """The role's own expression, rendered by Ansible's templar with results shaped as k8s_exec registers them."""
    tasks = yaml.safe_load((REPO / "roles" / "resilience" / "tasks" / "circuit_breaking.yml").read_text())
    block = next(task["block"] for task in tasks if "block" in task)
    expression = next(task["vars"]["__resilience_result"] for task in block
                      if task.get("ansible.builtin.include_tasks") == "conclude.yml")
    variables = {"__resilience_fortio": fortio_run("fortio-load-tripped.stderr.txt"),
                 "__resilience_stats_before": {"stdout": fixture("envoy-stats-before.txt"), "stderr": ""},
                 "__resilience_stats_after": {"stdout": fixture("envoy-stats-after.txt"), "stderr": ""},
                 "__resilience_host": HOST, "resilience_cb_requests": "30"}
    # A child process, so the collection finder the templar needs is not installed in this one.
    script = (
        "import json, sys\n"
        "from ansible.parsing.dataloader import DataLoader\n"
        "from ansible.template import Templar, trust_as_template\n"
        "from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder\n"
        "_AnsibleCollectionFinder(paths=[sys.argv[1]])._install()\n"
        "data = json.load(sys.stdin)\n"
        "verdict = Templar(loader=DataLoader(), variables=data['variables']).template(trust_as_template(data['expression']))\n"
        "print(json.dumps(verdict))\n")
    run = subprocess.run([sys.executable, "-c", script, str(REPO / "collections")], input=json.dumps(
        {"expression": expression, "variables": variables}), capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    verdict = json.loads(run.stdout)
    assert verdict["passed"], verdict["detail"]
    assert (verdict["codes"], verdict["overflow"]) == ({"200": 19, "503": 11}, 11)


def test_envoy_counter_reads_one_cluster_in_both_spellings():
    assert envoy_counter(fixture("envoy-stats-after.txt"), HOST, 8000, "upstream_rq_pending_overflow") == 15
    assert envoy_counter(fixture("envoy-stats-legacy.txt"), HOST, 8000, "upstream_rq_pending_overflow") == 12
    # Another namespace's httpbin and another port are other clusters.
    assert envoy_counter(fixture("envoy-stats-after.txt"), "httpbin.other.svc.cluster.local", 8000, "upstream_rq_pending_overflow") == 95
    assert envoy_counter(fixture("envoy-stats-after.txt"), HOST, 9080, "upstream_rq_pending_overflow") is None
    assert envoy_counter(fixture("envoy-stats-trimmed.txt"), HOST, 8000, "upstream_rq_pending_overflow") is None


def test_envoy_counter_sums_the_subsets_of_a_host():
    stats = ("cluster.outbound|8000|v1|httpbin.bookinfo.svc.cluster.local;.upstream_rq_pending_overflow: 2\n"
             "cluster.outbound|8000|v2|httpbin.bookinfo.svc.cluster.local;.upstream_rq_pending_overflow: 3\n")
    assert envoy_counter(stats, HOST, 8000, "upstream_rq_pending_overflow") == 5


def test_a_tripped_breaker_passes():
    verdict = circuit_breaking_verdict(fortio_run("fortio-load-tripped.stderr.txt"), fixture("envoy-stats-before.txt"),
                                       fixture("envoy-stats-after.txt"), HOST, 8000, 30)
    assert verdict["passed"], verdict["detail"]
    assert (verdict["codes"], verdict["share_503"], verdict["overflow"]) == ({200: 19, 503: 11}, 36.7, 11)


def test_no_503_fails():
    verdict = circuit_breaking_verdict(fortio_run("fortio-load-all-ok.stderr.txt"), fixture("envoy-stats-before.txt"),
                                       fixture("envoy-stats-after.txt"), HOST, 8000, 30)
    assert not verdict["passed"]
    assert "no request was refused with 503" in verdict["detail"]


def test_503s_without_overflow_fail():
    """503s the proxy did not count as overflow came from somewhere else, not from the breaker."""
    before = fixture("envoy-stats-before.txt")
    verdict = circuit_breaking_verdict(fortio_run("fortio-load-tripped.stderr.txt"), before, before, HOST, 8000, 30)
    assert not verdict["passed"]
    assert "did not rise (4 before, 4 after)" in verdict["detail"]


def test_trimmed_stats_say_how_to_keep_the_counter():
    trimmed = fixture("envoy-stats-trimmed.txt")
    verdict = circuit_breaking_verdict(fortio_run("fortio-load-tripped.stderr.txt"), trimmed, trimmed, HOST, 8000, 30)
    assert not verdict["passed"]
    assert "keep cluster.outbound" in verdict["detail"]


def test_missing_requests_and_other_codes_fail():
    verdict = circuit_breaking_verdict("Code 200 : 10 (50.0 %)\nCode 503 : 5 (25.0 %)\nCode -1 : 5 (25.0 %)\n",
                                       fixture("envoy-stats-before.txt"), fixture("envoy-stats-after.txt"), HOST, 8000, 30)
    assert not verdict["passed"]
    assert "fortio reported 20 of the 30 requests" in verdict["detail"]
    assert "statuses other than 200 and 503 (-1)" in verdict["detail"]


# -- rate_limit: the probe's answers against the token bucket ---------------------------------------------

def probe(status: dict, duration: float, requests: int | None = None, marked: int | None = None) -> dict:
    counts = {"served": status.get("200", 0)}
    if marked is not None:
        counts["rate_limited"] = marked
    return {"requests": requests if requests is not None else sum(status.values()), "status": status,
            "duration_s": duration, "counts": counts}


def test_duration_units():
    assert [duration_seconds(v) for v in ("10s", "500ms", "1m", "1h", "1.5s")] == [10, 0.5, 60, 3600, 1.5]
    for bad in ("10", "0s", "1 m", "-1s"):
        with pytest.raises(AnsibleFilterError, match="not a positive duration"):
            duration_seconds(bad)


def test_answers_within_the_bucket_pass():
    # 40 requests in 2 s against 10 tokens + 10 per 10 s: at most 10 + 10 * (0 + 1) = 20 may pass.
    verdict = rate_limit_verdict(probe({"200": 18, "429": 22}, 2.0, marked=22), 10, 10, "10s", 1)
    assert verdict["passed"], verdict["detail"]
    assert (verdict["allowed_max"], verdict["min_limited"], verdict["share_429"]) == (20, 20, 55.0)


def test_more_passing_than_the_bucket_allows_fails():
    verdict = rate_limit_verdict(probe({"200": 30, "429": 10}, 2.0, marked=10), 10, 10, "10s", 1)
    assert not verdict["passed"]
    assert "only 10 answers were 429 where the bucket allows at most 20 of 40" in verdict["detail"]


def test_a_longer_window_allows_more_fills():
    # 25 s at one fill per 10 s: floor(25 / 10) + 1 = 3 fills, 10 + 30 = 40 may pass, so 40 requests prove nothing.
    verdict = rate_limit_verdict(probe({"200": 40}, 25.0), 10, 10, "10s", 1)
    assert not verdict["passed"]
    assert "cannot exceed what 1 bucket(s) allow (40)" in verdict["detail"]


def test_each_gateway_instance_has_its_own_bucket():
    answers = probe({"200": 35, "429": 25}, 2.0, marked=25)
    assert not rate_limit_verdict(answers, 10, 10, "10s", 1)["passed"]
    two = rate_limit_verdict(answers, 10, 10, "10s", 2)
    assert two["passed"], two["detail"]
    assert two["allowed_max"] == 40
    with pytest.raises(AnsibleFilterError, match="no gateway instance"):
        rate_limit_verdict(answers, 10, 10, "10s", 0)


def test_an_empty_bucket_at_the_start_fails():
    verdict = rate_limit_verdict(probe({"200": 3, "429": 37}, 2.0, marked=37), 10, 10, "10s", 1)
    assert not verdict["passed"]
    assert "only 3 answers were 200 where a full bucket lets the first 10 through" in verdict["detail"]


def test_429s_from_another_limiter_and_other_statuses_fail():
    verdict = rate_limit_verdict(probe({"200": 10, "429": 28, "503": 2}, 2.0, marked=20), 10, 10, "10s", 1)
    assert not verdict["passed"]
    assert "28 answers were 429 but 20 carried x-local-rate-limit" in verdict["detail"]
    assert "other statuses (503)" in verdict["detail"]


def test_a_result_that_is_not_a_probe_is_an_error():
    with pytest.raises(AnsibleFilterError, match="needs the result of istiolab.mesh.traffic_probe"):
        rate_limit_verdict({"status": {}}, 10, 10, "10s", 1)
