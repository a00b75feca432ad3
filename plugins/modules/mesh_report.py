#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mesh_report
short_description: Write the proof report of a demo run, summary.json and a self-contained index.html
version_added: 0.1.0
description:
  - Writes O(dest)/summary.json, the run's facts for machines (CI, comparing two runs), and O(dest)/index.html, one page drawn
    from that JSON for a presenter. It shows versions, cluster and URLs, each check with its result, and per scenario what was applied,
    what was sent and what came back (the shares as bars against the expected value and the interval the test allows,
    the status histogram, the latency percentiles against their bounds, and the verdict with the test and its numbers).
  - The page works offline, from a file. Its style and pictures are inline (SVG), it runs no script and names no external
    resource. Every text from the results is escaped.
  - The schema of summary.json is the collection's C(plugins/module_utils/report_schema.json) (JSON Schema 2020-12).
  - A scenario's full result is read from O(artifacts_dir)/scenarios/<scenario>.json when the file is there; O(results) adds
    the scenarios of this run that wrote no such file (a recorded verdict that was not played again, a scenario applied with
    its verification off), and its entry wins for the verdict.
  - With O(screenshots), a headless Chromium or Chrome (O(browser), else C(chromium), C(chromium-browser), C(google-chrome),
    C(google-chrome-stable) on PATH, else Google Chrome or Chromium in C(/Applications) on macOS) takes PNG screenshots of the run's
    pages into O(dest), shown in the page and listed in summary.json. The pages are Bookinfo's productpage signed out and signed
    in as O(screenshot_user) (its sign-in form, posted to C(/login)), Grafana's Istio Mesh Dashboard and Kiali's graph of
    O(screenshot_namespace), at the URLs of O(urls) (C(productpage), C(grafana), C(kiali)). The browser is driven with the
    DevTools protocol over a pipe (C(--remote-debugging-pipe)), so it opens no debugging port. A page without a URL, a page that
    does not answer, or a machine without a browser skips that screenshot and the report says why.
  - A file is rewritten only when its content changes.
author:
  - istiolab.mesh contributors (@istiolab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  dest:
    description:
      - The report's directory; created when missing.
    type: path
    required: true
  artifacts_dir:
    description:
      - The run's artifacts directory, where the scenarios wrote C(scenarios/<scenario>.json).
    type: path
  results:
    description:
      - The scenarios' results of this run, as the play's C(routing_scenario_results) holds them.
      - When given, a scenario found only in O(artifacts_dir) was not run in this run and is shown as measured in an earlier
        run, at the time its file says. Without it, every file in O(artifacts_dir) is taken as this run's.
    type: dict
  checks:
    description:
      - The roles' verifications, each with C(name), C(passed) and C(detail).
    type: list
    elements: dict
    default: []
  versions:
    description:
      - 'Component versions to show, for example C({istio: 1.31.1, minikube: v1.37.0}).'
    type: dict
    default: {}
  cluster:
    description:
      - The cluster to show, for example its provider, kube context and Kubernetes version.
    type: dict
    default: {}
  urls:
    description:
      - The URLs the run opened, by name.
    type: dict
    default: {}
  applied:
    description:
      - Per scenario, the Kubernetes objects it applied, shown collapsed in its section.
    type: dict
    default: {}
  graph_file:
    description:
      - The service graph the telemetry role drew. An SVG file is inlined in the page (unless it holds a script or a link,
        then it is named only); another file, such as the DOT text without Graphviz, is named.
    type: path
  generated_at:
    description:
      - When the report was written, as shown. Without it the module's current time (UTC) is used.
    type: str
  screenshots:
    description:
      - Take headless browser screenshots of the run's pages (see the description). Off, the report says they are off.
    type: bool
    default: false
  browser:
    description:
      - The Chromium or Chrome to take the screenshots with, a path or a name on PATH. Without it one is looked for.
    type: str
  screenshot_user:
    description:
      - The Bookinfo user the signed-in productpage screenshot signs in as.
    type: str
    default: jason
  screenshot_namespace:
    description:
      - The namespace whose graph the Kiali screenshot shows.
    type: str
    default: bookinfo
  screenshot_timeout:
    description:
      - Seconds the browser may take to answer one step (start, load a page, sign in, capture) before that screenshot is skipped.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    details: Builds the report and says which files it would write; writes nothing and takes no screenshot.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: istiolab.mesh.mesh_graph
  - module: istiolab.mesh.traffic_probe
"""

EXAMPLES = r"""
- name: Write the proof report
  istiolab.mesh.mesh_report:
    dest: artifacts/report
    artifacts_dir: artifacts
    results: "{{ routing_scenario_results | default({}) }}"
    checks: "{{ telemetry_verifications | default([]) }}"
    versions: {istio: "{{ mesh_istio_version }}"}
    urls: "{{ telemetry_urls | default({}) }}"
    graph_file: "{{ telemetry_graph_file | default(omit) }}"
  register: report

- name: Write the proof report with screenshots of productpage, Grafana and Kiali
  istiolab.mesh.mesh_report:
    dest: artifacts/report
    urls:
      productpage: http://127.0.0.1:18080/productpage
      grafana: http://127.0.0.1:3000
      kiali: http://127.0.0.1:20001/kiali
    screenshots: true
"""

RETURN = r"""
summary_file:
  description: The JSON summary.
  returned: always
  type: str
  sample: artifacts/report/summary.json
html_file:
  description: The HTML page.
  returned: always
  type: str
  sample: artifacts/report/index.html
written:
  description: The files written (in check mode, that would be written) because their content changed.
  returned: always
  type: list
  elements: str
screenshots:
  description: Each screenshot with its PNG file in O(dest), or why it was skipped; empty when O(screenshots) is false.
  returned: always
  type: list
  elements: dict
  sample: [{name: productpage, file: productpage.png, skipped: null}, {name: kiali, file: null, skipped: no Kiali URL in this run}]
scenarios:
  description: Each scenario in the report with its state and verdict.
  returned: always
  type: list
  elements: dict
  sample: [{name: canary, state: measured, passed: true}, {name: mirror, state: recorded, passed: true}]
"""

import datetime
import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.istiolab.mesh.plugins.module_utils import _browser
from ansible_collections.istiolab.mesh.plugins.module_utils._report import ReportError, build_summary, render_html


def _read(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def _artifacts(module, artifacts_dir):
    found = {}
    if not artifacts_dir:
        return found
    for path in sorted(glob.glob(os.path.join(artifacts_dir, "scenarios", "*.json"))):
        try:
            with open(path) as handle:
                content = json.load(handle)
        except (OSError, ValueError) as exc:
            module.fail_json(msg="Cannot read the scenario result %s: %s; remove the file or run the scenario again." % (path, exc))
        if not isinstance(content, dict):
            module.fail_json(msg="The scenario result %s is not a JSON object; remove it or run the scenario again." % path)
        found[content.get("scenario") or os.path.splitext(os.path.basename(path))[0]] = content
    return found


def _graph(graph_file):
    if not graph_file:
        return None
    if not os.path.exists(graph_file):
        return {"file": graph_file, "note": "the file %s is missing" % graph_file}
    if graph_file.endswith(".svg"):
        with open(graph_file) as handle:
            return {"file": graph_file, "svg": handle.read()}
    return {"file": graph_file, "note": "Graphviz dot did not draw an SVG; install graphviz to see the picture here"}


def _makedirs(module, dest):
    if not os.path.isdir(dest):
        try:
            os.makedirs(dest)
        except OSError as exc:
            module.fail_json(msg="Cannot create the report directory %s: %s; choose a writable dest." % (dest, exc))


def _screenshots(module, dest):
    """``{browser, shots}`` for the summary, the PNGs taken into ``dest``; None when screenshots are off."""
    p = module.params
    if not p["screenshots"]:
        return None
    shots = _browser.pages(p["urls"], p["screenshot_user"], p["screenshot_namespace"])
    found = _browser.find_browser(p["browser"])[0]
    if module.check_mode:
        for shot in shots:
            shot["skipped"] = shot["skipped"] or "check mode takes no screenshot"
        return {"browser": found, "shots": shots}
    _makedirs(module, dest)
    taken = _browser.take(shots, dest, p["browser"], timeout=p["screenshot_timeout"])
    for shot in taken:
        stale = os.path.join(dest, "%s.png" % shot["name"])
        if not shot["file"] and os.path.exists(stale):
            os.remove(stale)  # an earlier run's picture is not this run's page
    return {"browser": found, "shots": taken}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            artifacts_dir=dict(type="path"),
            results=dict(type="dict"),
            checks=dict(type="list", elements="dict", default=[]),
            versions=dict(type="dict", default={}),
            cluster=dict(type="dict", default={}),
            urls=dict(type="dict", default={}),
            applied=dict(type="dict", default={}),
            graph_file=dict(type="path"),
            generated_at=dict(type="str"),
            screenshots=dict(type="bool", default=False),
            browser=dict(type="str"),
            screenshot_user=dict(type="str", default="jason"),
            screenshot_namespace=dict(type="str", default="bookinfo"),
            screenshot_timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    p = module.params
    generated_at = p["generated_at"] or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    dest = p["dest"]
    screenshots = _screenshots(module, dest)
    try:
        summary = build_summary(p["results"], _artifacts(module, p["artifacts_dir"]), p["applied"], p["checks"], p["versions"],
                                p["cluster"], p["urls"], _graph(p["graph_file"]), generated_at, screenshots)
        page = render_html(summary)
    except (ReportError, KeyError, TypeError, ValueError) as exc:
        module.fail_json(msg="Cannot build the report: %s. Check the results passed in results and artifacts_dir." % exc)

    files = [(os.path.join(dest, "summary.json"), to_bytes(json.dumps(summary, indent=2, sort_keys=True) + "\n")),
             (os.path.join(dest, "index.html"), to_bytes(page))]
    written = [path for path, content in files if _read(path) != content]
    shots = summary["screenshots"]["shots"]
    if written and not module.check_mode:
        _makedirs(module, dest)
        for path, content in files:
            if path in written:
                tmp = "%s.tmp-%d" % (path, os.getpid())
                with open(tmp, "wb") as handle:
                    handle.write(content)
                module.atomic_move(tmp, path)
    # A new picture is a new file each run: it counts as written.
    written += [os.path.join(dest, shot["file"]) for shot in shots if shot["file"]]
    module.exit_json(changed=bool(written), summary_file=files[0][0], html_file=files[1][0], written=written,
                     screenshots=[dict(name=s["name"], file=s["file"], skipped=s["skipped"]) for s in shots],
                     scenarios=[dict(name=s["name"], state=s["state"], passed=s["passed"]) for s in summary["scenarios"]])


if __name__ == "__main__":
    main()
