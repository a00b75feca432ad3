#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mesh_graph
short_description: Write the mesh's service graph, with request rates, as Graphviz DOT and SVG
version_added: 0.1.0
description:
  - Reads an answer of Prometheus' C(/api/v1/query) (an instant vector, one series per caller and callee,
    its value the requests per second) and writes the call graph as a Graphviz DOT file at O(path),
    each edge labelled with its rate. This is what the servicegraph addon of Istio 1.0 drew.
  - Series for the same caller and callee are summed; series at or below O(min_rate), without either
    label, or (with O(skip_unknown)) from or to C(unknown) are left out.
  - With O(svg), also writes the picture as SVG next to the DOT file (same name, C(.svg)) when Graphviz's
    C(dot) is found; without it the SVG is skipped and RV(svg_skipped) says why, which is not an error.
  - A file is rewritten only when its content changes; the DOT text depends only on the edges and their rates.
author:
  - istiolab.mesh contributors (@istiolab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  query_result:
    description:
      - The JSON answer of Prometheus' C(/api/v1/query), as M(ansible.builtin.uri) returns it in C(json),
        for a query such as C(sum by (source_app, destination_app) (rate(istio_requests_total{reporter="destination"}[5m]\))).
    type: dict
    required: true
  path:
    description:
      - The DOT file to write. Its directory must exist.
    type: path
    required: true
  name:
    description:
      - The name of the graph, shown by viewers.
    type: str
    default: mesh
  source_label:
    description:
      - The series label that names the caller.
    type: str
    default: source_app
  destination_label:
    description:
      - The series label that names the callee.
    type: str
    default: destination_app
  min_rate:
    description:
      - Requests per second an edge must exceed to be drawn.
    type: float
    default: 0.0
  skip_unknown:
    description:
      - Leave out edges from or to C(unknown), the name Istio reports for a peer it could not identify.
    type: bool
    default: true
  svg:
    description:
      - Also render the graph as SVG with Graphviz's C(dot), when it is found.
    type: bool
    default: true
  dot_path:
    description:
      - The Graphviz C(dot) binary. When not set, C(dot) is looked up on C(PATH), and the SVG is skipped if it is not there.
      - When set, it must be an executable file.
    type: path
attributes:
  check_mode:
    support: full
    details: Builds the graph and reports the files it would write; writes none and runs no C(dot).
  diff_mode:
    support: full
    details: Before and after are the DOT text.
  platform:
    platforms: posix
requirements:
  - Graphviz (C(dot)) for the SVG picture, optional
seealso:
  - name: Istio standard metrics
    description: The labels of C(istio_requests_total).
    link: https://istio.io/latest/docs/reference/config/metrics/
  - name: Kiali
    description: The interactive service graph that replaced servicegraph.
    link: https://kiali.io/
"""

EXAMPLES = r"""
- name: Ask Prometheus for the request rate of every caller and callee
  ansible.builtin.uri:
    url: "http://127.0.0.1:9090/api/v1/query?query={{ query | urlencode }}"
    return_content: true
  vars:
    query: sum by (source_app, destination_app) (rate(istio_requests_total{reporter="destination"}[5m]))
  register: rates

- name: Draw the service graph
  istiolab.mesh.mesh_graph:
    query_result: "{{ rates.json }}"
    path: artifacts/service-graph.dot
  register: graph
"""

RETURN = r"""
edges:
  description: The edges drawn, sorted by caller and callee.
  returned: always
  type: list
  elements: dict
  sample: [{source: productpage, destination: reviews, rate: 1.2}]
dot_file:
  description: The DOT file.
  returned: always
  type: str
  sample: artifacts/service-graph.dot
svg_file:
  description: The SVG file, or null when it was not rendered (see RV(svg_skipped)).
  returned: always
  type: str
  sample: artifacts/service-graph.svg
svg_skipped:
  description: Why no SVG was rendered, or null when it was.
  returned: always
  type: str
  sample: Graphviz dot was not found on PATH; install graphviz to get the SVG picture.
commands:
  description: The C(dot) commands run.
  returned: always
  type: list
  elements: list
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.istiolab.mesh.plugins.module_utils._cli import CliError, CliRunner, Fmt
from ansible_collections.istiolab.mesh.plugins.module_utils._graph import GraphError, edges_from_vector, to_dot

_DOT_FORMATS = {"svg": Fmt.fixed("-Tsvg")}
_DOT_HINT = "Install Graphviz (apt install graphviz, brew install graphviz) or set svg=false."


def _read(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def _write(module, path, content):
    """Write ``content`` (bytes) to ``path`` unless it already holds it; True when it was (or would be) written."""
    if _read(path) == content:
        return False
    if not module.check_mode:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            module.fail_json(msg="The directory %s of %s does not exist; create it first." % (directory, path))
        tmp = "%s.tmp-%d" % (path, os.getpid())
        with open(tmp, "wb") as handle:
            handle.write(content)
        module.atomic_move(tmp, path)
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            query_result=dict(type="dict", required=True),
            path=dict(type="path", required=True),
            name=dict(type="str", default="mesh"),
            source_label=dict(type="str", default="source_app"),
            destination_label=dict(type="str", default="destination_app"),
            min_rate=dict(type="float", default=0.0),
            skip_unknown=dict(type="bool", default=True),
            svg=dict(type="bool", default=True),
            dot_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        edges = edges_from_vector(params["query_result"], params["source_label"], params["destination_label"],
                                  params["min_rate"], params["skip_unknown"])
    except GraphError as exc:
        module.fail_json(msg="Cannot draw the service graph: %s." % exc)

    dot_file = params["path"]
    dot_text = to_dot(edges, params["name"])
    before = _read(dot_file)
    changed = _write(module, dot_file, to_bytes(dot_text))

    svg_file, svg_skipped = os.path.splitext(dot_file)[0] + ".svg", None
    runner = CliRunner(module, "dot", _DOT_FORMATS, _DOT_HINT, binary_path=params["dot_path"])
    if not params["svg"]:
        svg_file, svg_skipped = None, "svg=false"
    elif not params["dot_path"] and not module.get_bin_path("dot"):
        svg_file, svg_skipped = None, "Graphviz dot was not found on PATH; install graphviz to get the SVG picture."
    elif changed or not os.path.exists(svg_file):
        try:
            # dot is deterministic, so a new SVG is needed only when the DOT text changed or the SVG is missing.
            if not module.check_mode:
                result = runner.run(["svg"], data=dot_text, error=None, hint=_DOT_HINT)
                _write(module, svg_file, to_bytes(result.stdout))
            changed = True
        except CliError as exc:
            module.fail_json(commands=runner.commands, **exc.fail_kwargs())

    result = dict(
        changed=changed,
        edges=[dict(source=e.source, destination=e.destination, rate=e.rate) for e in edges],
        dot_file=dot_file,
        svg_file=svg_file,
        svg_skipped=svg_skipped,
        commands=runner.commands,
    )
    if module._diff:
        result["diff"] = dict(before=(before or b"").decode("utf-8", "replace"), after=dot_text,
                              before_header=dot_file, after_header=dot_file)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
