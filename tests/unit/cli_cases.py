# -*- coding: utf-8 -*-
"""Data-driven tests for modules that wrap a CLI.

A case file is YAML: a list of cases, each with

``id``            the test id;
``params``        the module arguments;
``check_mode``    run in check mode (default false);
``diff``          run with ``--diff`` (default false);
``bin``           ``{name: path}`` the fake ``get_bin_path`` answers (default: every name found as
                  ``/usr/bin/<name>``; ``null`` for "not found");
``calls``         the exact commands the module must run, in order, each with the ``rc``, ``out``
                  and ``err`` the fake returns: ``{command: [argv...], rc: 0, out: "", err: ""}``;
                  ``timed_out: true`` on a call the module bounds with a timeout means the command
                  did not return in time (``out``/``err`` are what it printed until it was stopped);
``expect``        keys of the module result that must be equal (``changed``, ``failed``, ...);
``expect_in``     ``{key: text}``: ``text`` must occur in ``str(result[key])``.

A module that runs a command the case does not list, runs them in another order, or stops before
running all of them fails the test: the command line is part of the contract.
"""

from __future__ import annotations

import copy
import json
from unittest import mock

import pytest
import yaml

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.istiolab.mesh.plugins.module_utils import _cli


class ModuleExit(Exception):
    """Raised instead of exiting: ``result`` is what the module returned."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


def exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    kwargs["failed"] = False
    raise ModuleExit(kwargs)


def fail_json(self, msg, **kwargs):
    kwargs["msg"] = msg
    kwargs["failed"] = True
    raise ModuleExit(kwargs)


def load_cases(path):
    """Load the cases of one YAML file as pytest params, each with its ``id``.

    Entries without an ``id`` only hold YAML anchors (recorded outputs shared by several cases).
    """
    with open(path, encoding="utf-8") as handle:
        cases = yaml.safe_load(handle)
    return [pytest.param(case, id=case["id"]) for case in cases if "id" in case]


def run_case(module_main, case):
    """Run ``module_main`` against the fake CLI of ``case``; return (result, commands run)."""
    calls = copy.deepcopy(case.get("calls") or [])
    ran = []
    bins = case.get("bin") or {}

    def answer(args, env, data, bounded):
        ran.append(list(args))
        assert calls, "unexpected command (the case lists no more calls): %s" % args
        call = calls.pop(0)
        assert list(args) == [str(word) for word in call["command"]], "command differs:\n  ran:      %s\n  expected: %s" % (args, call["command"])
        if "data" in call:
            assert data == call["data"]
        assert (env or {}).get("LC_ALL") == "C", "CLIs must run with LC_ALL=C"
        assert bounded or not call.get("timed_out"), "the case says %s times out, but the module ran it without a timeout" % args
        out = call.get("out", "")
        if not isinstance(out, str):
            out = json.dumps(out)
        return (None if call.get("timed_out") else call.get("rc", 0)), out, call.get("err", ""), bool(call.get("timed_out"))

    def run_command(self, args, **kwargs):
        return answer(args, kwargs.get("environ_update"), kwargs.get("data"), False)[:3]

    def run_bounded(argv, environ_update, timeout, data=None):
        assert timeout and timeout > 0, "a bounded call needs a positive timeout, not %r" % timeout
        return answer(argv, environ_update, data, True)

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return bins.get(name, "/usr/bin/%s" % name)

    args = dict(case.get("params") or {})
    args["_ansible_check_mode"] = bool(case.get("check_mode"))
    args["_ansible_diff"] = bool(case.get("diff"))
    with patch_module_args(args), mock.patch.object(_cli, "run_bounded", run_bounded), mock.patch.multiple(
        basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json, run_command=run_command, get_bin_path=get_bin_path
    ):
        with pytest.raises(ModuleExit) as caught:
            module_main()
    assert not calls, "commands the module did not run: %s" % [c["command"] for c in calls]
    return caught.value.result, ran


def check_case(module_main, case):
    """Run a case and assert its expectations."""
    result, ran = run_case(module_main, case)
    for key, value in (case.get("expect") or {}).items():
        assert key in result, "result has no %r: %s" % (key, result)
        assert result[key] == value, "result[%r] = %r, expected %r (msg: %s)" % (key, result[key], value, result.get("msg"))
    for key, text in (case.get("expect_in") or {}).items():
        assert key in result, "result has no %r: %s" % (key, result)
        assert text in str(result[key]), "%r not in result[%r] = %r" % (text, key, result[key])
    return result
