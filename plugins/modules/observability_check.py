#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: observability_check
short_description: Check through a tool's own HTTP API that Prometheus, Grafana, Jaeger, Kiali, Elasticsearch or Kibana shows the mesh
version_added: 0.1.0
description:
  - Asks one observability tool, through its own HTTP API under O(url), whether it shows what the mesh's
    traffic should have produced, and fails with what was expected and what the tool answered when it does not.
  - V(prometheus) - C(GET /api/v1/query?query=) C(params.query); passes when at least one series has every label of
    C(expect.required_labels), the values of C(expect.labels), and a value above C(expect.min_value) (default 0).
  - V(grafana) - C(GET /api/search?type=dash-db); passes when every title of C(expect.dashboards) is listed.
  - V(jaeger_traces) - C(GET /api/traces?service=) C(params.service) (with C(params.lookback), C(params.limit));
    passes when there are traces, they reach every service of C(expect.services), and one of them crosses at
    least C(expect.min_services_per_trace) services (default 2). O(url) includes Jaeger's base path (the addon's is C(/jaeger)).
  - V(jaeger_dependencies) - C(GET /api/dependencies); passes when every C([parent, child]) of C(expect.edges) is linked.
  - V(kiali) - C(GET /api/namespaces/graph?namespaces=) C(params.namespaces) (C(graphType) C(params.graph_type),
    default V(app)); passes when every C([source, target]) of C(expect.edges) is an edge, nodes named by app, service
    or workload. O(url) includes Kiali's web root (C(/kiali)).
  - V(elasticsearch) - C(GET /<index>/_count) and C(/<index>/_search) with C(params.index) and the query string
    C(params.q); passes when at least C(expect.min_count) documents (default 1) match and one hit has every field of
    C(expect.fields) (dotted names reach into objects).
  - V(kibana) - C(GET /api/data_views/data_view/<id>) for C(params.id); passes when it exists with C(expect.title)
    and C(expect.time_field).
  - Use it with C(until) and C(retries) to wait, within a bounded time, for the data to arrive.
author:
  - istiolab.mesh contributors (@istiolab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  check:
    description: The tool and question, see the description.
    type: str
    required: true
    choices: [prometheus, grafana, jaeger_traces, jaeger_dependencies, kiali, elasticsearch, kibana]
  url:
    description: The tool's base URL, for example V(http://127.0.0.1:9090) or V(http://127.0.0.1:20001/kiali).
    type: str
    required: true
  params:
    description: The request's parameters; which ones each check takes is in the description.
    type: dict
    default: {}
  expect:
    description: What the answer must show; which keys each check reads is in the description.
    type: dict
    default: {}
  headers:
    description: Headers sent with every request, for example an C(Authorization) header. Not logged.
    type: dict
    default: {}
  timeout:
    description: Seconds each request may take.
    type: int
    default: 10
  validate_certs:
    description: Verify the TLS certificate of an C(https) URL.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: Only reads; the requests are made in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: istiolab.mesh.traffic_probe
  - name: Prometheus HTTP API
    description: The query API and its answer format.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/
  - name: Kiali graph API
    description: Kiali's REST API, including the namespaces graph.
    link: https://kiali.io/docs/configuration/
  - name: Kibana data views API
    description: Reading and creating data views.
    link: https://www.elastic.co/docs/api/doc/kibana/group/endpoint-data-views
"""

EXAMPLES = r"""
- name: Wait until Prometheus has the request count of productpage
  istiolab.mesh.observability_check:
    check: prometheus
    url: http://127.0.0.1:9090
    params:
      query: istio_requests_total{destination_app="productpage"}
    expect:
      required_labels: [reporter, source_app]
  register: prometheus
  until: prometheus is succeeded
  retries: 12
  delay: 10

- name: Check Kiali's graph
  istiolab.mesh.observability_check:
    check: kiali
    url: http://127.0.0.1:20001/kiali
    params:
      namespaces: bookinfo
    expect:
      edges: [[productpage, reviews], [reviews, ratings]]
"""

RETURN = r"""
passed:
  description: Whether the tool's answer met the expectations (the task fails when it did not).
  returned: always
  type: bool
msg:
  description: What was found, or what was expected and what the tool answered instead.
  returned: always
  type: str
  sample: Kiali's graph lacks reviews->ratings; its edges are productpage->details, productpage->reviews.
observed:
  description: A summary of the answer (counts, names, edges) for the play's report.
  returned: always
  type: dict
urls:
  description: The URLs requested.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.istiolab.mesh.plugins.module_utils._observability import CHECKS, CheckError, run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            check=dict(type="str", required=True, choices=list(CHECKS)),
            url=dict(type="str", required=True),
            params=dict(type="dict", default={}),
            expect=dict(type="dict", default={}),
            headers=dict(type="dict", default={}, no_log=True),
            timeout=dict(type="int", default=10),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        passed, msg, observed, urls = run(p["check"], p["url"], p["params"], p["expect"], p["headers"],
                                          p["timeout"], p["validate_certs"])
    except CheckError as exc:
        module.fail_json(msg="The %s check could not read an answer: %s" % (p["check"], exc), passed=False, observed={}, urls=[])
    result = dict(changed=False, passed=passed, msg=msg, observed=observed, urls=urls)
    if not passed:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
