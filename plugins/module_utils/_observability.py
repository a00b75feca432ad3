# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks that each observability tool shows the mesh's traffic, through the tool's own HTTP API.

Each check is two parts: ``request_<check>`` says which requests to make (path and query parameters
under the tool's base URL), and ``judge_<check>`` decides from the decoded JSON answers whether the
expectations hold. The judges are pure functions so they can be tested on recorded answer shapes; a
judge returns ``(passed, message, observed)``, where the message says what was expected and what was
found, in the tool's own terms, when the check fails.

Answer shapes (from each project's API documentation):

* Prometheus ``GET /api/v1/query``: ``{"status": "success", "data": {"resultType": "vector",
  "result": [{"metric": {labels}, "value": [ts, "v"]}]}}``.
* Grafana ``GET /api/search``: ``[{"uid", "title", "type": "dash-db", "tags", "url", ...}]``.
* Jaeger query ``GET /api/traces``: ``{"data": [{"traceID", "spans": [{"processID", ...}],
  "processes": {"p1": {"serviceName"}}}], "errors": null}``; ``GET /api/dependencies``:
  ``{"data": [{"parent", "child", "callCount"}]}``.
* Kiali ``GET /api/namespaces/graph``: ``{"elements": {"nodes": [{"data": {"id", "nodeType", "app",
  "service", "workload"}}], "edges": [{"data": {"source", "target"}}]}}``.
* Elasticsearch ``GET /<index>/_count``: ``{"count": n}``; ``GET /<index>/_search``:
  ``{"hits": {"hits": [{"_source": {...}}]}}``.
* Kibana ``GET /api/data_views/data_view/<id>``: ``{"data_view": {"id", "title", "timeFieldName"}}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible.module_utils.six.moves.urllib.parse import quote, urlencode
from ansible.module_utils.urls import open_url

CHECKS = ("prometheus", "grafana", "jaeger_traces", "jaeger_dependencies", "kiali", "elasticsearch", "kibana")


class CheckError(Exception):
    """A request of a check failed (no answer, an HTTP error, or an answer that is not JSON)."""


# -- Requests --------------------------------------------------------------------------------------


def requests_for(check, params, now=None):
    """The ``(path, query)`` pairs a check asks for, in order, built from its ``params``."""
    params = params or {}
    if check == "prometheus":
        return [("/api/v1/query", {"query": _required(params, "query", check)})]
    if check == "grafana":
        return [("/api/search", {"query": params.get("query", ""), "type": "dash-db"})]
    if check == "jaeger_traces":
        return [("/api/traces", {"service": _required(params, "service", check),
                                 "lookback": params.get("lookback", "1h"), "limit": params.get("limit", 20)})]
    if check == "jaeger_dependencies":
        # endTs and lookback are milliseconds.
        now_ms = int((now if now is not None else time.time()) * 1000)
        return [("/api/dependencies", {"endTs": params.get("end_ts", now_ms),
                                       "lookback": params.get("lookback_ms", 3600000)})]
    if check == "kiali":
        return [("/api/namespaces/graph", {"namespaces": _required(params, "namespaces", check),
                                           "graphType": params.get("graph_type", "app"),
                                           "duration": params.get("duration", "600s"),
                                           "injectServiceNodes": str(params.get("inject_service_nodes", False)).lower()})]
    if check == "elasticsearch":
        index = quote(_required(params, "index", check), safe="*,-_.")
        query = {"q": params["q"]} if params.get("q") else {}
        search = dict(query, size=params.get("size", 5))
        return [("/%s/_count" % index, query), ("/%s/_search" % index, search)]
    if check == "kibana":
        return [("/api/data_views/data_view/%s" % quote(_required(params, "id", check), safe=""), {})]
    raise CheckError("unknown check %r; one of %s" % (check, ", ".join(CHECKS)))


def _required(params, name, check):
    value = params.get(name)
    if value in (None, ""):
        raise CheckError("the %s check needs params.%s" % (check, name))
    return value


def fetch_json(url, headers=None, timeout=10, validate_certs=True):
    """GET ``url`` and decode its JSON; CheckError says what went wrong, quoting the answer."""
    try:
        response = open_url(url, method="GET", headers=headers or {}, timeout=timeout,
                            validate_certs=validate_certs, use_proxy=False)
        body = response.read()
    except Exception as exc:  # open_url raises HTTPError, URLError, socket errors and more.
        detail = ""
        if hasattr(exc, "read"):
            try:
                detail = ": " + exc.read().decode("utf-8", "replace")[:300]
            except Exception:  # The error body is only a courtesy; the error itself is reported.
                detail = ""
        raise CheckError("GET %s failed: %s%s" % (url, exc, detail))
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError as exc:
        raise CheckError("GET %s answered something that is not JSON (%s): %s" % (url, exc, body[:200]))


def run(check, base_url, params=None, expect=None, headers=None, timeout=10, validate_certs=True, now=None):
    """Make the check's requests under ``base_url`` and judge the answers: ``(passed, msg, observed, urls)``."""
    urls, answers = [], []
    for path, query in requests_for(check, params, now):
        url = base_url.rstrip("/") + path + ("?" + urlencode(sorted(query.items())) if query else "")
        urls.append(url)
        answers.append(fetch_json(url, headers, timeout, validate_certs))
    passed, msg, observed = JUDGES[check](answers, expect or {}, params or {})
    return passed, msg, observed, urls


# -- Judges ----------------------------------------------------------------------------------------


def judge_prometheus(answers, expect, params):
    """At least one series, each expected label present (``required_labels``) and equal (``labels``), value above ``min_value``."""
    answer = answers[0]
    query = params.get("query")
    if not isinstance(answer, dict) or answer.get("status") != "success":
        return False, "Prometheus did not answer the query %s with success: %s" % (query, _brief(answer)), {}
    result = (answer.get("data") or {}).get("result") or []
    if not result:
        return False, ("Prometheus has no series for %s yet. The metric appears once traffic has flowed through the "
                       "sidecars and Prometheus has scraped them (15 s); send traffic and retry." % query), {"series": 0}
    wanted = expect.get("labels") or {}
    required = list(expect.get("required_labels") or []) + list(wanted)
    min_value = float(expect.get("min_value", 0))
    problems, good = [], []
    for series in result:
        labels = series.get("metric") or {}
        missing = [name for name in required if not labels.get(name)]
        wrong = ["%s=%r (expected %r)" % (k, labels.get(k), v) for k, v in sorted(wanted.items())
                 if labels.get(k) is not None and labels.get(k) != v]
        value = _number(series.get("value"))
        if missing or wrong:
            problems.append("labels %s%s" % ("missing " + ", ".join(missing) + " " if missing else "", "; ".join(wrong)))
        elif value is None or value <= min_value:
            problems.append("value %s not above %s" % (series.get("value"), min_value))
        else:
            good.append(series)
    observed = {"series": len(result), "matching": len(good), "labels": sorted(set(k for s in result for k in s.get("metric", {})))}
    if good:
        return True, "Prometheus has %d series for %s with the expected labels." % (len(good), query), observed
    return False, "Prometheus has %d series for %s but none as expected: %s." % (
        len(result), query, "; ".join(sorted(set(p.strip() for p in problems)))[:600]), observed


def judge_grafana(answers, expect, params):
    """Every dashboard title in ``dashboards`` is in Grafana's search results."""
    answer = answers[0]
    if not isinstance(answer, list):
        return False, "Grafana's /api/search answered %s, not a list of dashboards." % _brief(answer), {}
    titles = sorted(item.get("title", "") for item in answer if isinstance(item, dict) and item.get("type", "dash-db") == "dash-db")
    missing = [title for title in expect.get("dashboards") or [] if title not in titles]
    observed = {"dashboards": titles}
    if not titles:
        return False, ("Grafana lists no dashboards. The Istio dashboards come from the grafana addon's ConfigMaps; "
                       "check that samples/addons/grafana.yaml was applied whole."), observed
    if missing:
        return False, "Grafana does not list %s; it lists %s." % (", ".join(missing), ", ".join(titles)), observed
    return True, "Grafana lists %s." % ", ".join(expect.get("dashboards") or titles), observed


def _trace_services(trace):
    processes = trace.get("processes") or {}
    names = set()
    for span in trace.get("spans") or []:
        process = processes.get(span.get("processID")) or span.get("process") or {}
        if process.get("serviceName"):
            names.add(process["serviceName"])
    return names


def judge_jaeger_traces(answers, expect, params):
    """Traces exist; together they cover ``services``; one trace crosses at least ``min_services_per_trace``."""
    answer = answers[0]
    service = params.get("service")
    if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
        return False, "Jaeger's /api/traces answered %s, not {data: [traces]}." % _brief(answer), {}
    if answer.get("errors"):
        return False, "Jaeger reported errors for service %s: %s" % (service, _brief(answer["errors"])), {}
    traces = answer["data"]
    if not traces:
        return False, ("Jaeger has no traces for %s. Check that the Telemetry resource samples 100%% (Istio's default "
                       "is 1%%), that the tracing provider in meshConfig points at jaeger-collector, then send traffic "
                       "and retry." % service), {"traces": 0}
    per_trace = [_trace_services(trace) for trace in traces]
    seen = set().union(*per_trace)
    widest = max(len(names) for names in per_trace)
    observed = {"traces": len(traces), "services": sorted(seen), "most_services_in_one_trace": widest}
    missing = sorted(set(expect.get("services") or []) - seen)
    least = int(expect.get("min_services_per_trace", 2))
    if missing:
        return False, "Jaeger's %d traces for %s never reach %s; they span %s." % (
            len(traces), service, ", ".join(missing), ", ".join(sorted(seen))), observed
    if widest < least:
        return False, ("Jaeger's %d traces for %s each stay within %d service(s), expected one across %d: the sidecars "
                       "do not propagate the trace context." % (len(traces), service, widest, least)), observed
    return True, "Jaeger has %d traces for %s spanning %s." % (len(traces), service, ", ".join(sorted(seen))), observed


def _edge_problem(tool, expected, found):
    missing = ["%s->%s" % tuple(edge) for edge in expected if tuple(edge) not in found]
    if not missing:
        return None
    return "%s's graph lacks %s; its edges are %s." % (
        tool, ", ".join(missing), ", ".join("%s->%s" % edge for edge in sorted(found)) or "none")


def judge_jaeger_dependencies(answers, expect, params):
    """Every ``[parent, child]`` of ``edges`` is in Jaeger's dependency links."""
    answer = answers[0]
    links = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(links, list):
        return False, "Jaeger's /api/dependencies answered %s, not {data: [links]}." % _brief(answer), {}
    found = set((link.get("parent"), link.get("child")) for link in links if isinstance(link, dict) and link.get("callCount", 1))
    observed = {"edges": sorted("%s->%s" % edge for edge in found)}
    problem = _edge_problem("Jaeger", expect.get("edges") or [], found)
    if problem or not found:
        return False, problem or "Jaeger has no dependency links yet; send traffic and retry.", observed
    return True, "Jaeger links %s." % ", ".join(observed["edges"]), observed


def _kiali_name(node):
    return node.get("app") or node.get("service") or node.get("workload") or node.get("id")


def judge_kiali(answers, expect, params):
    """Every ``[source, target]`` of ``edges`` (app, service or workload names) is an edge of Kiali's graph."""
    answer = answers[0]
    elements = answer.get("elements") if isinstance(answer, dict) else None
    if not isinstance(elements, dict):
        return False, "Kiali's graph API answered %s, not {elements: {nodes, edges}}." % _brief(answer), {}
    names = dict((n["data"]["id"], _kiali_name(n["data"])) for n in elements.get("nodes") or [] if "id" in n.get("data", {}))
    found = set()
    for edge in elements.get("edges") or []:
        data = edge.get("data") or {}
        source, target = names.get(data.get("source")), names.get(data.get("target"))
        # With service nodes injected, app -> service -> app of the same name: the hop inside one service is no edge.
        if source and target and source != target:
            found.add((source, target))
    observed = {"nodes": len(names), "edges": sorted("%s->%s" % edge for edge in found)}
    if not found:
        return False, ("Kiali's graph of %s has no edges. Kiali draws from Prometheus: check that Kiali reaches it "
                       "(external_services.prometheus.url in the kiali ConfigMap) and that traffic flowed in the last %s."
                       % (params.get("namespaces"), params.get("duration", "600s"))), observed
    problem = _edge_problem("Kiali", expect.get("edges") or [], found)
    if problem:
        return False, problem, observed
    return True, "Kiali's graph holds %s." % ", ".join("%s->%s" % tuple(e) for e in expect.get("edges") or []), observed


def _field(source, dotted):
    value = source
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, dict) and dotted in value:
            return value[dotted]
        else:
            return None
    return value


def judge_elasticsearch(answers, expect, params):
    """At least ``min_count`` documents, and one of the first hits has every field of ``fields``."""
    count_answer, search_answer = answers
    index = params.get("index")
    if not isinstance(count_answer, dict) or not isinstance(count_answer.get("count"), int):
        return False, "Elasticsearch's %s/_count answered %s, not {count: n}." % (index, _brief(count_answer)), {}
    count = count_answer["count"]
    least = int(expect.get("min_count", 1))
    hits = ((search_answer or {}).get("hits") or {}).get("hits") or []
    sources = [hit.get("_source") or {} for hit in hits]
    fields = list(expect.get("fields") or [])
    complete = [s for s in sources if all(_field(s, f) not in (None, "") for f in fields)]
    observed = {"count": count, "hits": len(sources),
                "fields": sorted(set(k for s in sources for k in s))[:60]}
    if count < least:
        return False, ("Elasticsearch holds %d documents in %s%s, expected at least %d. Check the Fluent Bit pods' logs "
                       "(they say why a flush to Elasticsearch failed) and that the sidecars write JSON access logs."
                       % (count, index, " matching %s" % params["q"] if params.get("q") else "", least)), observed
    if not complete:
        missing = sorted(set(f for f in fields for s in sources if _field(s, f) in (None, "")))
        return False, ("Elasticsearch's documents in %s lack the fields %s; their fields are %s. The access-log JSON "
                       "was not parsed into fields: check the log shipper's parser." % (
                           index, ", ".join(missing), ", ".join(observed["fields"]) or "none")), observed
    return True, "Elasticsearch holds %d access-log documents in %s with %s." % (count, index, ", ".join(fields)), observed


def judge_kibana(answers, expect, params):
    """The data view exists with the expected ``title`` (index pattern) and ``time_field``."""
    view = (answers[0] or {}).get("data_view") if isinstance(answers[0], dict) else None
    if not isinstance(view, dict):
        return False, "Kibana's data view %s answered %s, not {data_view: {...}}." % (params.get("id"), _brief(answers[0])), {}
    observed = {"id": view.get("id"), "title": view.get("title"), "time_field": view.get("timeFieldName")}
    wrong = ["%s is %r, expected %r" % (name, observed[name], expect[name])
             for name in ("title", "time_field") if expect.get(name) and observed[name] != expect[name]]
    if wrong:
        return False, "Kibana's data view %s differs: %s." % (params.get("id"), "; ".join(wrong)), observed
    return True, "Kibana has the data view %s (%s, time field %s)." % (observed["id"], observed["title"], observed["time_field"]), observed


JUDGES = dict(
    prometheus=judge_prometheus,
    grafana=judge_grafana,
    jaeger_traces=judge_jaeger_traces,
    jaeger_dependencies=judge_jaeger_dependencies,
    kiali=judge_kiali,
    elasticsearch=judge_elasticsearch,
    kibana=judge_kibana,
)


def _number(sample):
    try:
        return float(sample[1])
    except (TypeError, IndexError, ValueError):
        return None


def _brief(value):
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 200 else text[:200] + "..."
