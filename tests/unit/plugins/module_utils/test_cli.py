# -*- coding: utf-8 -*-
"""The shared CLI runner (module_utils/_cli.py): values from module.params, and run_module's one failure path."""

from __future__ import annotations

import pytest

from ansible_collections.istiolab.mesh.plugins.module_utils import _cli
from ansible_collections.istiolab.mesh.plugins.module_utils._cli import CliError, CliResult, CliRunner, Fmt


class _Exit(Exception):
    def __init__(self, kind, result):
        super().__init__(kind)
        self.kind = kind
        self.result = result


class _Module:
    check_mode = False

    def __init__(self, params):
        self.params = params

    def get_bin_path(self, name):
        return "/usr/bin/" + name

    def exit_json(self, **kwargs):
        raise _Exit("exit", kwargs)

    def fail_json(self, **kwargs):
        raise _Exit("fail", kwargs)


_FORMATS = {"sub": Fmt.fixed("sub"), "revision": Fmt.opt("--revision"), "context": Fmt.opt("--context")}


def test_a_value_the_call_does_not_give_comes_from_module_params():
    runner = CliRunner(_Module({"revision": "canary", "context": "kind"}), "tool", _FORMATS, "install tool")
    assert runner.build(["sub", "revision", "context"], {}) == ["/usr/bin/tool", "sub", "--revision=canary", "--context=kind"]


def test_a_value_the_call_gives_wins_over_module_params_even_when_it_is_none():
    runner = CliRunner(_Module({"revision": "canary", "context": "kind"}), "tool", _FORMATS, "install tool")
    assert runner.build(["sub", "revision", "context"], {"revision": None, "context": "other"}) == ["/usr/bin/tool", "sub", "--context=other"]


class _Client:
    commands = [["/usr/bin/tool", "sub"]]


def _run_module(run, **kwargs):
    with pytest.raises(_Exit) as caught:
        _cli.run_module(_Module({}), _Client(), run, **kwargs)
    return caught.value


def test_run_module_explains_a_cli_error_once_and_fails_with_its_details_and_the_commands():
    explained = []

    def run(module, client):
        raise CliError("tool failed.", result=CliResult(["/usr/bin/tool", "sub"], 1, "", "boom"), findings=[{"code": "X"}])

    def explain(error):
        explained.append(error)
        error.hint = "Do this."

    out = _run_module(run, explain=explain, actions=[])
    assert out.kind == "fail" and len(explained) == 1
    assert out.result["msg"] == "tool failed - Do this."
    assert out.result["findings"] == [{"code": "X"}] and out.result["actions"] == []
    assert out.result["commands"] == _Client.commands and out.result["rc"] == 1 and out.result["stderr"] == "boom"


def test_run_module_returns_a_result_marked_failed_as_a_failure_with_what_was_gathered():
    out = _run_module(lambda module, client: dict(changed=False, failed=True, msg="2 findings.", analysis={}))
    assert out.kind == "fail"
    assert out.result == dict(changed=False, msg="2 findings.", analysis={}, commands=_Client.commands)


def test_run_module_exits_with_the_result_and_the_commands():
    out = _run_module(lambda module, client: dict(changed=True, diff=dict(before={}, after={"a": 1})))
    assert out.kind == "exit"
    assert out.result == dict(changed=True, diff=dict(before={}, after={"a": 1}), commands=_Client.commands)


def test_run_module_fails_on_a_module_error_without_explaining_it_as_a_cli_failure():
    explained = []
    error = _cli.ModuleError("set.x is a dict.", hint="Put it in overlay.")
    assert not isinstance(error, CliError)

    def run(module, client):
        raise error

    out = _run_module(run, explain=explained.append)
    assert out.kind == "fail" and explained == []
    assert out.result == dict(msg="set.x is a dict - Put it in overlay.", commands=_Client.commands)


def test_cli_argument_spec_adds_binary_path_and_only_on_request_the_cluster_options():
    assert set(_cli.cli_argument_spec(name=dict(type="str"))) == {"name", "binary_path"}
    assert set(_cli.cli_argument_spec(kube=True, name=dict(type="str"))) == {"name", "binary_path", "kubeconfig", "context"}
