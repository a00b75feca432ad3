# -*- coding: utf-8 -*-
# Copyright: istiolab.mesh contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One runner for every external CLI the modules wrap (minikube, istioctl).

Arguments are declared as formats, never built as strings (the community.general CmdRunner idea):
a module names the arguments of one call in order, the runner takes each value from the call or, when the
call does not give it, from ``module.params``, turns it into argv words with its format, drops values of
``None``, runs the binary with ``LC_ALL=C`` and keeps every command it ran so the module can return them.
Mutating calls are skipped in check mode. :func:`run_module` is the body of every CLI module's ``main()``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import subprocess

from ansible.module_utils.basic import env_fallback

KUBE_ARG_SPEC = dict(
    kubeconfig=dict(type="path", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
)
"""Cluster connection options, documented once in the ``istiolab.mesh.cli.kube`` fragment."""

BINARY_ARG_SPEC = dict(binary_path=dict(type="path"))
"""The CLI's path, documented once in the ``istiolab.mesh.cli`` fragment."""


def cli_argument_spec(kube=False, **options):
    """The argument spec of a CLI module: its own ``options``, then ``binary_path`` and, with ``kube``, the
    cluster connection options (the fragments ``istiolab.mesh.cli`` and ``istiolab.mesh.cli.kube``)."""
    spec = dict(options)
    spec.update(BINARY_ARG_SPEC)
    if kube:
        spec.update(KUBE_ARG_SPEC)
    return spec


# The environment every CLI runs with: stable, parseable, uncoloured output.
_CLI_ENV = {"LC_ALL": "C", "LANG": "C", "NO_COLOR": "1", "MINIKUBE_IN_STYLE": "false"}


class ModuleError(Exception):
    """A module cannot go on, for a reason of its own (a bad value, a state it will not change, an API error):
    ``hint`` is the next step for a person, ``details`` more keys for the failure (such as findings)."""

    def __init__(self, message, hint=None, **details):
        super(ModuleError, self).__init__(message)
        self.message = message
        self.hint = hint
        self.details = details
        self.result = None

    def fail_kwargs(self):
        """Keyword arguments for ``module.fail_json``: the message, the next step, what the CLI said."""
        msg = self.message
        if self.hint:
            msg = "%s %s" % (msg.rstrip("."), "- " + self.hint) if msg else self.hint
        kwargs = dict(self.details)
        kwargs["msg"] = msg
        if self.result is not None:
            kwargs.update(cmd=self.result.cmd, rc=self.result.rc, stdout=self.result.stdout, stderr=self.result.stderr)
        return kwargs


class CliError(ModuleError):
    """A CLI failed: it could not be run, it exited with an error, or it printed what cannot be read.
    ``result`` (a :class:`CliResult`) holds what it printed, when it ran."""

    def __init__(self, message, result=None, hint=None, **details):
        super(CliError, self).__init__(message, hint=hint, **details)
        self.result = result


class CliResult:
    """What one CLI call returned; ``timed_out`` when it was stopped after its timeout (``rc`` is then None)."""

    def __init__(self, cmd, rc, stdout, stderr, timed_out=False):
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    def json(self):
        """Parse stdout as JSON, or raise a CliError that quotes what was printed instead."""
        text = self.stdout.strip()
        try:
            return json.loads(text) if text else None
        except ValueError as exc:
            raise CliError(
                "%s printed output that is not JSON (%s): %s" % (os.path.basename(self.cmd[0]), exc, text[:300]),
                result=self,
            )


def run_bounded(argv, environ_update, timeout, data=None):
    """Run ``argv`` for at most ``timeout`` seconds: ``(rc, stdout, stderr, timed_out)``.

    The command runs in a session of its own, so on timeout its whole process group is stopped (SIGTERM, then
    SIGKILL): a CLI that started helpers, as ``minikube service --url`` starts an ssh tunnel, leaves none behind.
    What it printed until then is returned. ``AnsibleModule.run_command`` has no timeout, hence this function.
    """
    env = dict(os.environ)
    env.update(environ_update or {})
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, start_new_session=True,
    )
    try:
        out, err = process.communicate(input=data.encode("utf-8") if data is not None else None, timeout=timeout)
        return process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), False
    except subprocess.TimeoutExpired:
        pass
    out, err = b"", b""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except OSError:
            pass  # the group has gone already
        try:
            out, err = process.communicate(timeout=3)
            break
        except subprocess.TimeoutExpired:
            continue
    return None, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), True


class Fmt:
    """Argument formats: each takes a value and returns the argv words for it (``[]`` to drop it)."""

    @staticmethod
    def fixed(*words):
        """Words that are always there (a sub-command), whatever the value."""
        return lambda value: list(words)

    @staticmethod
    def flag(name):
        """``--name`` when the value is true, nothing otherwise."""
        return lambda value: [name] if value else []

    @staticmethod
    def opt(name, joined=True):
        """``--name=value`` (or ``--name value``); dropped when the value is ``None``."""

        def fmt(value):
            if value is None:
                return []
            if isinstance(value, bool):
                value = "true" if value else "false"
            return ["%s=%s" % (name, value)] if joined else [name, str(value)]

        return fmt

    @staticmethod
    def mapping(name, joined=False):
        """One ``--name key=value`` per item of a dict, in key order so the command is stable."""

        def fmt(values):
            words = []
            for key in sorted(values or {}):
                value = values[key]
                if isinstance(value, bool):
                    value = "true" if value else "false"
                pair = "%s=%s" % (key, value)
                words.extend(["%s=%s" % (name, pair)] if joined else [name, pair])
            return words

        return fmt

    @staticmethod
    def positional():
        """The value itself (a list of words, or one word); dropped when ``None``."""

        def fmt(value):
            if value is None:
                return []
            if isinstance(value, (list, tuple)):
                return [str(v) for v in value]
            return [str(value)]

        return fmt


class CliRunner:
    """Runs one CLI for one module invocation and remembers the commands it ran.

    :param module: the AnsibleModule.
    :param binary: the CLI's name on PATH (``minikube``, ``istioctl``).
    :param formats: ``{argument name: format}``, see :class:`Fmt`.
    :param install_hint: the sentence that tells a person how to get the binary.
    :param binary_path: an explicit path that wins over PATH.
    """

    def __init__(self, module, binary, formats, install_hint, binary_path=None):
        self.module = module
        self.name = binary
        self.formats = formats
        self.install_hint = install_hint
        self.binary_path = binary_path
        self.commands = []
        self._binary = None

    @property
    def binary(self):
        if self._binary is None:
            if self.binary_path:
                if not (os.path.isfile(self.binary_path) and os.access(self.binary_path, os.X_OK)):
                    raise CliError("%s binary_path %s is not an executable file." % (self.name, self.binary_path), hint=self.install_hint)
                self._binary = self.binary_path
            else:
                found = self.module.get_bin_path(self.name)
                if not found:
                    raise CliError("%s was not found on PATH." % self.name, hint=self.install_hint)
                self._binary = found
        return self._binary

    def build(self, order, values):
        """The argv for the arguments named in ``order``: each value from ``values``, or from the module's
        parameter of that name when ``values`` does not give it (``None`` when there is neither)."""
        argv = [self.binary]
        params = self.module.params or {}
        for name in order:
            if name not in self.formats:
                raise ValueError("unknown argument %r for %s" % (name, self.name))
            argv.extend(self.formats[name](values[name] if name in values else params.get(name)))
        return argv

    def run(self, order, mutating=False, check=True, error=None, hint=None, data=None, timeout=None, **values):
        """Run the CLI with the arguments named in ``order``, valued by ``values`` or ``module.params``.

        :param mutating: the call changes something; in check mode it is neither run nor added to
            ``commands``, and ``None`` is returned (modules report what they would do instead).
        :param check: raise :class:`CliError` when the exit code is not 0.
        :param error: the message for that error (``"<cli> <args> failed"`` by default).
        :param hint: the next step to append to that message.
        :param timeout: seconds after which the call is stopped (see :func:`run_bounded`); the result then has
            ``timed_out`` set and is returned whatever ``check`` says, for the caller to explain.
        """
        argv = self.build(order, values)
        if mutating and self.module.check_mode:
            return None
        env = dict(_CLI_ENV)
        if timeout is None:
            rc, out, err = self.module.run_command(argv, environ_update=env, data=data)
            timed_out = False
        else:
            rc, out, err, timed_out = run_bounded(argv, env, timeout, data=data)
        self.commands.append(argv)
        result = CliResult(argv, rc, out, err, timed_out)
        if timed_out:
            return result
        if check and rc != 0:
            words = " ".join(os.path.basename(w) if i == 0 else w for i, w in enumerate(argv))
            raise CliError(error or ("`%s` failed (exit code %s): %s" % (words, rc, (err or out).strip()[-800:])), result=result, hint=hint)
        return result


def run_module(module, client, run, explain=None, **fail_extra):
    """The body of every CLI module's ``main()``: read state, compare, act, in ``run(module, client)``.

    ``client`` is the module's runner (anything with ``commands``). ``run`` returns the result (with
    ``changed`` and, in diff mode, ``diff``); a result with ``failed`` set is returned as a failure. A
    :class:`ModuleError` becomes a failure that carries the commands run so far and ``fail_extra`` (for example
    an empty ``actions`` list); a :class:`CliError` first goes through ``explain(error)`` (when given), which
    adds the next step for a person.
    """
    try:
        result = run(module, client)
    except ModuleError as exc:
        if explain is not None and isinstance(exc, CliError):
            explain(exc)
        failure = dict(fail_extra)
        failure.update(exc.fail_kwargs())
        failure["commands"] = client.commands
        module.fail_json(**failure)
    result.setdefault("commands", client.commands)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)
