# -*- coding: utf-8 -*-
"""observability_check against local stubs answering with each tool's API shapes.

Every check passes on a good answer and fails, saying what was expected and what was found, on an
empty or wrong one.
"""

from __future__ import annotations

from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.istiolab.mesh.plugins.module_utils import _observability
from ansible_collections.istiolab.mesh.plugins.modules import observability_check
from api_stub import ApiStub
from cli_cases import ModuleExit, exit_json, fail_json

BOOKINFO = ["productpage.bookinfo", "reviews.bookinfo", "ratings.bookinfo", "details.bookinfo"]
EDGES = [["productpage", "reviews"], ["reviews", "ratings"]]


def check(stub, name, params, expect=None, base=""):
    args = dict(check=name, url=stub.url + base, params=params, expect=expect or {},
                _ansible_check_mode=True)
    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json):
        with pytest.raises(ModuleExit) as caught:
            observability_check.main()
    return caught.value.result


# --- Prometheus ------------------------------------------------------------------------------------

REQUESTS = dict(query='istio_requests_total{destination_app="productpage"}')
DOUBLE = dict(query='istio_double_request_count{destination="productpage-v1"}')
DOUBLE_EXPECT = dict(required_labels=["reporter", "source", "destination"], labels={"message": "twice the fun!"})


def test_prometheus_passes_on_the_request_count_and_sends_the_query():
    with ApiStub({"/api/v1/query": "prometheus_requests_total.json"}) as stub:
        result = check(stub, "prometheus", REQUESTS, dict(required_labels=["reporter", "source_app"]))
    assert result["failed"] is False and result["passed"] is True and result["changed"] is False
    assert result["msg"] == 'Prometheus has 1 series for istio_requests_total{destination_app="productpage"} with the expected labels.'
    assert stub.requests[0][1:3] == ("/api/v1/query", REQUESTS)


def test_prometheus_passes_on_the_double_request_count_with_its_message():
    with ApiStub({"/api/v1/query": "prometheus_double_request_count.json"}) as stub:
        result = check(stub, "prometheus", DOUBLE, DOUBLE_EXPECT)
    assert result["passed"] is True, result["msg"]
    assert result["observed"]["labels"] == ["__name__", "destination", "message", "reporter", "source"]


def test_prometheus_fails_when_the_message_dimension_is_missing():
    with ApiStub({"/api/v1/query": "prometheus_double_without_message.json"}) as stub:
        result = check(stub, "prometheus", DOUBLE, DOUBLE_EXPECT)
    assert result["failed"] is True and result["passed"] is False
    assert "has 1 series" in result["msg"] and "none as expected: labels missing message" in result["msg"]


def test_prometheus_fails_on_a_wrong_label_value():
    with ApiStub({"/api/v1/query": "prometheus_double_request_count.json"}) as stub:
        result = check(stub, "prometheus", DOUBLE, dict(labels={"message": "once is enough"}))
    assert result["passed"] is False
    assert "message='twice the fun!' (expected 'once is enough')" in result["msg"]


def test_prometheus_fails_on_no_series_and_says_to_send_traffic():
    with ApiStub({"/api/v1/query": "prometheus_empty.json"}) as stub:
        result = check(stub, "prometheus", DOUBLE, DOUBLE_EXPECT)
    assert result["passed"] is False and result["observed"] == {"series": 0}
    assert "has no series for istio_double_request_count" in result["msg"] and "send traffic and retry" in result["msg"]


def test_prometheus_fails_on_a_value_not_above_the_minimum():
    with ApiStub({"/api/v1/query": "prometheus_requests_total.json"}) as stub:
        result = check(stub, "prometheus", REQUESTS, dict(min_value=100))
    assert result["passed"] is False and "value [1767225600.123, '42'] not above 100.0" in result["msg"]


def test_prometheus_error_status_is_quoted():
    with ApiStub({"/api/v1/query": (400, "prometheus_error.json")}) as stub:
        result = check(stub, "prometheus", REQUESTS)
    assert result["failed"] is True and result["passed"] is False
    assert result["msg"].startswith("The prometheus check could not read an answer: GET http://127.0.0.1:")
    assert "HTTP Error 400" in result["msg"] and "parse error" in result["msg"]


def test_prometheus_needs_a_query():
    with ApiStub({}) as stub:
        result = check(stub, "prometheus", {})
    assert result["failed"] is True and "the prometheus check needs params.query" in result["msg"]


# --- Grafana ---------------------------------------------------------------------------------------


def test_grafana_passes_when_the_mesh_dashboard_is_listed():
    with ApiStub({"/api/search": "grafana_search.json"}) as stub:
        result = check(stub, "grafana", {"query": "Istio"}, {"dashboards": ["Istio Mesh Dashboard"]})
    assert result["passed"] is True and result["msg"] == "Grafana lists Istio Mesh Dashboard."
    # The folder is not a dashboard.
    assert result["observed"]["dashboards"] == ["Istio Mesh Dashboard", "Istio Service Dashboard"]
    assert stub.requests[0][2] == {"query": "Istio", "type": "dash-db"}


def test_grafana_fails_when_the_dashboard_is_missing():
    with ApiStub({"/api/search": "grafana_search_other.json"}) as stub:
        result = check(stub, "grafana", {}, {"dashboards": ["Istio Mesh Dashboard"]})
    assert result["passed"] is False
    assert result["msg"] == "Grafana does not list Istio Mesh Dashboard; it lists Node Exporter Full."


def test_grafana_fails_on_an_empty_list_and_names_the_addon():
    with ApiStub({"/api/search": "prometheus_empty.json"}) as stub:
        wrong = check(stub, "grafana", {}, {"dashboards": ["Istio Mesh Dashboard"]})
    assert wrong["passed"] is False and "not a list of dashboards" in wrong["msg"]


# --- Jaeger ----------------------------------------------------------------------------------------


def test_jaeger_traces_pass_when_they_span_the_services():
    with ApiStub({"/jaeger/api/traces": "jaeger_traces.json"}) as stub:
        result = check(stub, "jaeger_traces", {"service": "productpage.bookinfo"}, {"services": BOOKINFO}, base="/jaeger")
    assert result["passed"] is True, result["msg"]
    assert result["observed"] == {"traces": 1, "services": sorted(BOOKINFO), "most_services_in_one_trace": 4}
    assert stub.requests[0][2] == {"service": "productpage.bookinfo", "lookback": "1h", "limit": "20"}


def test_jaeger_traces_fail_when_empty_and_name_the_sampling():
    with ApiStub({"/api/traces": "jaeger_empty.json"}) as stub:
        result = check(stub, "jaeger_traces", {"service": "productpage.bookinfo"}, {"services": BOOKINFO})
    assert result["passed"] is False
    assert "Jaeger has no traces for productpage.bookinfo" in result["msg"] and "samples 100%" in result["msg"]


def test_jaeger_traces_fail_when_they_never_leave_productpage():
    with ApiStub({"/api/traces": "jaeger_traces_single_service.json"}) as stub:
        result = check(stub, "jaeger_traces", {"service": "productpage.bookinfo"}, {"services": BOOKINFO})
    assert result["passed"] is False
    assert "never reach details.bookinfo, ratings.bookinfo, reviews.bookinfo" in result["msg"]
    with ApiStub({"/api/traces": "jaeger_traces_single_service.json"}) as stub:
        alone = check(stub, "jaeger_traces", {"service": "productpage.bookinfo"}, {})
    assert alone["passed"] is False and "each stay within 1 service(s), expected one across 2" in alone["msg"]


def test_jaeger_dependencies_pass_with_the_edges_and_send_end_ts_in_ms():
    edges = [["productpage.bookinfo", "reviews.bookinfo"], ["reviews.bookinfo", "ratings.bookinfo"]]
    with ApiStub({"/api/dependencies": "jaeger_dependencies.json"}) as stub:
        result = check(stub, "jaeger_dependencies", {}, {"edges": edges})
    assert result["passed"] is True, result["msg"]
    query = stub.requests[0][2]
    assert len(query["endTs"]) == 13 and query["lookback"] == "3600000"


def test_jaeger_dependencies_fail_on_a_missing_edge_and_list_the_found_ones():
    with ApiStub({"/api/dependencies": "jaeger_dependencies.json"}) as stub:
        result = check(stub, "jaeger_dependencies", {}, {"edges": [["ratings.bookinfo", "mongodb.bookinfo"]]})
    assert result["passed"] is False
    assert result["msg"].startswith("Jaeger's graph lacks ratings.bookinfo->mongodb.bookinfo; its edges are ")
    with ApiStub({"/api/dependencies": "jaeger_empty.json"}) as stub:
        empty = check(stub, "jaeger_dependencies", {}, {})
    assert empty["passed"] is False and "no dependency links yet" in empty["msg"]


# --- Kiali -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["kiali_graph_app.json", "kiali_graph_service_nodes.json"])
def test_kiali_passes_with_the_edges_with_or_without_service_nodes(answer):
    with ApiStub({"/kiali/api/namespaces/graph": answer}) as stub:
        result = check(stub, "kiali", {"namespaces": "bookinfo"}, {"edges": EDGES}, base="/kiali")
    assert result["passed"] is True, result["msg"]
    assert result["msg"] == "Kiali's graph holds productpage->reviews, reviews->ratings."
    assert stub.requests[0][2] == {"namespaces": "bookinfo", "graphType": "app", "duration": "600s", "injectServiceNodes": "false"}


def test_kiali_fails_without_the_ratings_edge():
    with ApiStub({"/api/namespaces/graph": "kiali_graph_no_ratings.json"}) as stub:
        result = check(stub, "kiali", {"namespaces": "bookinfo"}, {"edges": EDGES})
    assert result["passed"] is False
    assert result["msg"] == "Kiali's graph lacks reviews->ratings; its edges are productpage->details, productpage->reviews."


def test_kiali_fails_on_an_empty_graph_and_points_at_prometheus():
    with ApiStub({"/api/namespaces/graph": "kiali_graph_empty.json"}) as stub:
        result = check(stub, "kiali", {"namespaces": "bookinfo"}, {"edges": EDGES})
    assert result["passed"] is False and "has no edges" in result["msg"] and "reaches it" in result["msg"]


# --- Elasticsearch and Kibana ----------------------------------------------------------------------

ACCESS_FIELDS = ["response_code", "method", "path", "upstream_cluster", "kubernetes.container_name"]
ES_PARAMS = {"index": "istio-access-*", "q": "kubernetes.container_name:istio-proxy"}


def test_elasticsearch_passes_with_parsed_access_log_documents():
    routes = {"/istio-access-*/_count": "elasticsearch_count.json", "/istio-access-*/_search": "elasticsearch_search.json"}
    with ApiStub(routes) as stub:
        result = check(stub, "elasticsearch", ES_PARAMS, {"fields": ACCESS_FIELDS})
    assert result["passed"] is True, result["msg"]
    assert result["observed"]["count"] == 128
    assert [r[1] for r in stub.requests] == ["/istio-access-*/_count", "/istio-access-*/_search"]
    assert stub.requests[1][2] == {"q": "kubernetes.container_name:istio-proxy", "size": "5"}


def test_elasticsearch_fails_on_zero_documents():
    routes = {"/istio-access-*/_count": "elasticsearch_count_zero.json", "/istio-access-*/_search": "elasticsearch_search.json"}
    with ApiStub(routes) as stub:
        result = check(stub, "elasticsearch", ES_PARAMS, {"fields": ACCESS_FIELDS})
    assert result["passed"] is False
    assert "holds 0 documents in istio-access-* matching kubernetes.container_name:istio-proxy" in result["msg"]
    assert "Fluent Bit" in result["msg"]


def test_elasticsearch_fails_when_the_json_was_not_parsed_into_fields():
    routes = {"/istio-access-*/_count": "elasticsearch_count.json", "/istio-access-*/_search": "elasticsearch_search_unparsed.json"}
    with ApiStub(routes) as stub:
        result = check(stub, "elasticsearch", ES_PARAMS, {"fields": ACCESS_FIELDS})
    assert result["passed"] is False
    assert "lack the fields method, path, response_code, upstream_cluster" in result["msg"]


def test_elasticsearch_missing_index_is_an_error_with_the_answer():
    with ApiStub({}) as stub:
        result = check(stub, "elasticsearch", ES_PARAMS)
    assert result["failed"] is True and "HTTP Error 404" in result["msg"] and "no route" in result["msg"]


def test_kibana_passes_with_the_data_view():
    with ApiStub({"/api/data_views/data_view/istio-access-logs": "kibana_data_view.json"}) as stub:
        result = check(stub, "kibana", {"id": "istio-access-logs"}, {"title": "istio-access-*", "time_field": "@timestamp"})
    assert result["passed"] is True
    assert result["msg"] == "Kibana has the data view istio-access-logs (istio-access-*, time field @timestamp)."


def test_kibana_fails_on_another_time_field_or_a_missing_view():
    with ApiStub({"/api/data_views/data_view/istio-access-logs": "kibana_data_view.json"}) as stub:
        wrong = check(stub, "kibana", {"id": "istio-access-logs"}, {"time_field": "start_time"})
    assert wrong["passed"] is False and "time_field is '@timestamp', expected 'start_time'" in wrong["msg"]
    with ApiStub({"/api/data_views/data_view/istio-access-logs": (404, "kibana_data_view_not_found.json")}) as stub:
        missing = check(stub, "kibana", {"id": "istio-access-logs"}, {})
    assert missing["failed"] is True and "Saved object [index-pattern/istio-access-logs] not found" in missing["msg"]


def test_an_answer_that_is_not_json_is_quoted():
    with mock.patch.object(_observability, "open_url") as fake:
        fake.return_value.read.return_value = b"<html>Kiali login</html>"
        with pytest.raises(_observability.CheckError, match="not JSON .*Kiali login"):
            _observability.run("kiali", "http://127.0.0.1:1/kiali", {"namespaces": "bookinfo"})


def test_an_unreachable_tool_says_so():
    with ApiStub({}) as stub:
        url = stub.url
    result = check(type("Gone", (), {"url": url})(), "grafana", {})
    assert result["failed"] is True and "Connection refused" in result["msg"]
