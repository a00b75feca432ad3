# -*- coding: utf-8 -*-
"""Parsers of istioctl's JSON output that the CLI cases do not reach on their own."""

from __future__ import annotations

import pytest

from ansible_collections.istiolab.mesh.plugins.module_utils._istioctl import all_json, first_json


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
