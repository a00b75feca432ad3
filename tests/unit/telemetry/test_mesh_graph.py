# -*- coding: utf-8 -*-
"""The service-graph builder: edges, direction and rates from a Prometheus answer; DOT escaping; SVG only with dot."""

from __future__ import annotations

import os
import stat
from unittest import mock

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.istiolab.mesh.plugins.module_utils import _graph
from ansible_collections.istiolab.mesh.plugins.modules import mesh_graph
from api_stub import fixture
from cli_cases import ModuleExit, exit_json, fail_json

RATES = fixture("prometheus_edge_rates.json")


def run_module(params, check_mode=False, diff=False):
    args = dict(params, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json):
        with pytest.raises(ModuleExit) as caught:
            mesh_graph.main()
    return caught.value.result


def test_edges_are_directed_summed_per_pair_and_sorted():
    edges = _graph.edges_from_vector(RATES)
    assert [(e.source, e.destination) for e in edges] == [
        ("istio-ingressgateway", "productpage"),
        ("productpage", "details"),
        ("productpage", "reviews"),
        ("reviews", "ratings"),
    ]
    rates = {(e.source, e.destination): e.rate for e in edges}
    # productpage -> reviews is two series (200 and 503), summed.
    assert rates[("productpage", "reviews")] == pytest.approx(1.5)
    assert rates[("reviews", "ratings")] == pytest.approx(0.99666, rel=1e-4)
    # Direction is kept: reviews calls ratings, never the reverse.
    assert ("ratings", "reviews") not in rates


def test_unknown_zero_nan_and_unlabelled_series_are_left_out_unless_asked():
    edges = _graph.edges_from_vector(RATES, skip_unknown=False)
    pairs = {(e.source, e.destination) for e in edges}
    assert ("unknown", "productpage") in pairs
    assert ("details", "ratings") not in pairs  # rate 0
    assert ("ratings", "details") not in pairs  # NaN: no samples in the window
    assert len(pairs) == 5


def test_min_rate_drops_slow_edges():
    edges = _graph.edges_from_vector(RATES, min_rate=1.0)
    assert {(e.source, e.destination) for e in edges} == {
        ("istio-ingressgateway", "productpage"), ("productpage", "details"), ("productpage", "reviews")}


def test_custom_labels_name_the_nodes():
    answer = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"source_workload": "productpage-v1", "destination_workload": "reviews-v2"}, "value": [1, "2"]}]}}
    edges = _graph.edges_from_vector(answer, "source_workload", "destination_workload")
    assert edges == [_graph.Edge("productpage-v1", "reviews-v2", 2.0)]


@pytest.mark.parametrize("answer, message", [
    ({"status": "error", "errorType": "bad_data", "error": "parse error"}, "Prometheus answered status 'error': bad_data parse error"),
    ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "not an instant vector"),
    ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {"source_app": "a", "destination_app": "b"}}]}},
     "has no [timestamp"),
    (["not", "a", "dict"], "is a list"),
])
def test_a_wrong_answer_is_refused_with_the_reason(answer, message):
    with pytest.raises(_graph.GraphError, match=None) as caught:
        _graph.edges_from_vector(answer)
    assert message in str(caught.value)


def test_dot_has_one_node_per_service_and_rates_as_edge_labels():
    dot = _graph.to_dot(_graph.edges_from_vector(RATES), name="bookinfo")
    lines = dot.splitlines()
    assert lines[0] == 'digraph "bookinfo" {' and lines[-1] == "}"
    assert '  "productpage" -> "reviews" [label="1.50 req/s"];' in lines
    assert '  "productpage" -> "details" [label="1.50 req/s"];' in lines
    assert '  "reviews" -> "ratings" [label="1.00 req/s"];' in lines
    assert sorted(line for line in lines if line.startswith('  "') and "->" not in line) == [
        '  "details";', '  "istio-ingressgateway";', '  "productpage";', '  "ratings";', '  "reviews";']
    assert dot == _graph.to_dot(list(reversed(_graph.edges_from_vector(RATES))), name="bookinfo")


def test_dot_escapes_quotes_backslashes_and_newlines():
    assert _graph.dot_quote('say "hi"\\now\nthen') == '"say \\"hi\\"\\\\now\\nthen"'
    dot = _graph.to_dot([_graph.Edge('a"b', "c\\d", 1.0)])
    assert '  "a\\"b" -> "c\\\\d" [label="1.00 req/s"];' in dot.splitlines()


def test_module_writes_dot_then_reports_no_change(tmp_path):
    path = str(tmp_path / "graph.dot")
    first = run_module(dict(query_result=RATES, path=path, svg=False))
    assert first["changed"] is True and first["svg_file"] is None and first["svg_skipped"] == "svg=false"
    assert open(path).read() == _graph.to_dot(_graph.edges_from_vector(RATES))
    assert first["edges"][2] == {"source": "productpage", "destination": "reviews", "rate": pytest.approx(1.5)}
    second = run_module(dict(query_result=RATES, path=path, svg=False))
    assert second["changed"] is False


def test_check_mode_writes_nothing_and_diff_shows_the_dot(tmp_path):
    path = tmp_path / "graph.dot"
    result = run_module(dict(query_result=RATES, path=str(path)), check_mode=True, diff=True)
    assert result["changed"] is True and not path.exists()
    assert '"reviews" -> "ratings"' in result["diff"]["after"] and result["diff"]["before"] == ""


def test_svg_is_skipped_cleanly_without_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    path = tmp_path / "graph.dot"
    result = run_module(dict(query_result=RATES, path=str(path)))
    assert result["failed"] is False and result["changed"] is True
    assert result["svg_file"] is None and "Graphviz dot was not found on PATH" in result["svg_skipped"]
    assert path.exists() and not (tmp_path / "graph.svg").exists()
    assert result["commands"] == []


def _fake_dot(tmp_path):
    """A stand-in for Graphviz dot that writes an SVG naming the edges it read on stdin."""
    script = tmp_path / "bin" / "dot"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = "-Tsvg" ] || { echo "unexpected args: $*" >&2; exit 2; }\n'
        "printf '<svg>'; grep -c -- '->' ; printf '</svg>\\n'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_svg_is_rendered_with_dot_and_only_again_when_the_graph_changes(tmp_path, monkeypatch):
    dot = _fake_dot(tmp_path)
    monkeypatch.setenv("PATH", "%s%s%s" % (dot.parent, os.pathsep, os.environ["PATH"]))
    path = tmp_path / "graph.dot"
    first = run_module(dict(query_result=RATES, path=str(path)))
    assert first["svg_file"] == str(tmp_path / "graph.svg") and first["svg_skipped"] is None
    assert (tmp_path / "graph.svg").read_text() == "<svg>4\n</svg>\n"
    assert first["commands"] == [[str(dot), "-Tsvg"]]
    again = run_module(dict(query_result=RATES, path=str(path)))
    assert again["changed"] is False and again["commands"] == []


def test_a_failing_dot_fails_with_its_own_words(tmp_path):
    broken = tmp_path / "dot"
    # Like dot, it reads the whole graph before complaining about it.
    broken.write_text("#!/bin/sh\ncat >/dev/null\necho 'Error: <stdin>: syntax error in line 1' >&2\nexit 1\n")
    broken.chmod(0o755)
    result = run_module(dict(query_result=RATES, path=str(tmp_path / "graph.dot"), dot_path=str(broken)))
    assert result["failed"] is True
    assert "syntax error in line 1" in result["msg"] and "Install Graphviz" in result["msg"]


def test_a_wrong_answer_fails_the_module(tmp_path):
    result = run_module(dict(query_result=fixture("prometheus_error.json"), path=str(tmp_path / "g.dot")))
    assert result["failed"] is True
    assert result["msg"].startswith("Cannot draw the service graph: Prometheus answered status 'error': bad_data")
