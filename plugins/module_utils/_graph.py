# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh's call graph, from Prometheus request rates to Graphviz DOT.

This replaces the servicegraph addon of Istio 1.0 (its force and dotviz views): the edges come from
an instant query over ``istio_requests_total`` such as
``sum by (source_app, destination_app) (rate(istio_requests_total{reporter="destination"}[5m]))``,
one series per caller and callee, its value the requests per second. Several series for the same
pair (other labels kept by the query) are summed, so the edge carries the pair's total rate.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
from collections import namedtuple

Edge = namedtuple("Edge", ["source", "destination", "rate"])

# Istio reports "unknown" for a peer it could not identify (no sidecar, no mTLS metadata).
UNKNOWN = "unknown"


class GraphError(Exception):
    """The Prometheus answer cannot be read as a graph; the message says what was wrong with it."""


def edges_from_vector(answer, source_label="source_app", destination_label="destination_app",
                      min_rate=0.0, skip_unknown=True):
    """Read a Prometheus ``/api/v1/query`` answer (``resultType: vector``) as a sorted list of edges.

    Series whose rate is not above ``min_rate`` are left out, so a pair that was called once an hour
    ago does not appear as a live edge; so are series without either label, and with ``skip_unknown``
    those from or to ``unknown``.
    """
    if not isinstance(answer, dict):
        raise GraphError("the Prometheus answer is a %s, not the JSON object /api/v1/query returns" % type(answer).__name__)
    if answer.get("status") != "success":
        raise GraphError("Prometheus answered status %r: %s %s" % (
            answer.get("status"), answer.get("errorType", ""), answer.get("error", "(no error given)")))
    data = answer.get("data") or {}
    if data.get("resultType") != "vector":
        raise GraphError("the query returned a %r, not an instant vector; query /api/v1/query, not query_range"
                         % data.get("resultType"))
    totals = {}
    for series in data.get("result") or []:
        labels = series.get("metric") or {}
        source, destination = labels.get(source_label), labels.get(destination_label)
        if not source or not destination:
            continue
        if skip_unknown and UNKNOWN in (source, destination):
            continue
        rate = _sample_value(series)
        totals[(source, destination)] = totals.get((source, destination), 0.0) + rate
    return sorted(Edge(src, dst, rate) for (src, dst), rate in totals.items() if rate > min_rate)


def _sample_value(series):
    try:
        value = float(series["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        raise GraphError("a series has no [timestamp, \"value\"] pair: %r" % (series,))
    # Prometheus writes NaN for 0/0 (a rate over a window with no samples): no traffic.
    return 0.0 if math.isnan(value) else value


def dot_quote(text):
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as DOT's centred line breaks."""
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % escaped.replace("\r\n", "\\n").replace("\n", "\\n")


def format_rate(rate):
    return "%.2f req/s" % rate


def to_dot(edges, name="mesh"):
    """DOT text of a directed graph: one node per service, one labelled edge per caller and callee.

    The output depends only on the edges (nodes and edges sorted), so the same traffic gives the same file.
    """
    nodes = sorted(set(edge.source for edge in edges) | set(edge.destination for edge in edges))
    lines = [
        "digraph %s {" % dot_quote(name),
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#e8f1fb", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    lines.extend("  %s;" % dot_quote(node) for node in nodes)
    for edge in sorted(edges):
        lines.append("  %s -> %s [label=%s];" % (dot_quote(edge.source), dot_quote(edge.destination), dot_quote(format_rate(edge.rate))))
    lines.append("}")
    return "\n".join(lines) + "\n"
