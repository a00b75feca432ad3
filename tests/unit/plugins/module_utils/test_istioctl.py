# -*- coding: utf-8 -*-
"""Parsers of istioctl's JSON output and the control-plane judgement that the CLI cases do not reach on their own."""

from __future__ import annotations

import pytest

from ansible_collections.istiolab.mesh.plugins.module_utils._istioctl import (
    all_json, first_json, judge_control_plane, serving_istiod_versions)


def test_all_json_reads_every_document_after_a_notice():
    text = 'no running Istio pods in "istio-system"\n{\n    "a": 1\n}\n{\n    "a": 2\n}\n'
    assert all_json(text) == [{"a": 1}, {"a": 2}]
    # first_json, used for single-document commands, stops at the first one.
    assert first_json(text) == {"a": 1}


def test_all_json_flattens_list_documents_and_reads_nothing_from_empty_output():
    assert all_json('[{"a": 1}, {"a": 2}]\n{"a": 3}\n') == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert all_json("") == []
    assert all_json(None) == []


def test_all_json_refuses_a_broken_document():
    with pytest.raises(ValueError):
        all_json('{"a": 1}\n{"a": \n')


def _pod(name, version=None, revision="default", ready="True", deleting=False):
    labels = {"app": "istiod", "istio.io/rev": revision}
    if version:
        labels["app.kubernetes.io/version"] = version
    metadata = {"name": name, "namespace": "istio-system", "labels": labels}
    if deleting:
        metadata["deletionTimestamp"] = "2026-09-01T10:00:30Z"
    return {"metadata": metadata, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]}}


ISTIOCTL_SAYS = {"client": "1.31.1", "control_plane": "1.31.0", "control_plane_components": [], "data_plane": []}


def test_only_ready_pods_of_the_revision_that_are_not_deleted_serve():
    pods = [_pod("old", "1.31.0", deleting=True), _pod("new", "1.31.1"), _pod("starting", "1.31.1", ready="False"),
            _pod("canary", "1.32.0", revision="canary")]
    assert serving_istiod_versions(pods) == [{"pod": "new", "version": "1.31.1"}]
    assert serving_istiod_versions(pods, "canary") == [{"pod": "canary", "version": "1.32.0"}]
    judged = judge_control_plane(ISTIOCTL_SAYS, pods)
    assert judged["control_plane"] == "1.31.1"
    assert judged["control_plane_pods"] == [{"pod": "new", "version": "1.31.1"}]


def test_two_serving_versions_mean_the_oldest_and_unlabelled_pods_leave_istioctls_answer():
    both = [_pod("a", "1.31.1"), _pod("b", "1.31.0")]
    assert judge_control_plane(dict(ISTIOCTL_SAYS, control_plane="1.31.1"), both)["control_plane"] == "1.31.0"
    # Pods without the chart's version label (another installer): nothing to judge by, istioctl's answer stands.
    assert judge_control_plane(ISTIOCTL_SAYS, [_pod("a")])["control_plane"] == "1.31.0"
    # No control plane according to istioctl stays none.
    assert judge_control_plane(dict(ISTIOCTL_SAYS, control_plane=None), both)["control_plane"] is None
