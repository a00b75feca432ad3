"""The source_address lookup: the control node's address on its route to a host, asked from the OS (no `ip`)."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess

import pytest
import yaml
from ansible.errors import AnsibleLookupError

from ansible_collections.istiolab.mesh.plugins.lookup.source_address import source_address

REPO = pathlib.Path(__file__).resolve().parents[4]


def test_loopback_hosts_are_reached_from_loopback():
    assert source_address("127.0.0.1") == "127.0.0.1"
    assert source_address("localhost") in ("127.0.0.1", "::1")


def test_a_remote_host_is_reached_from_an_address_of_this_machine():
    # A documentation address (TEST-NET-3): the UDP connect picks the default route's source and sends nothing.
    try:
        address = source_address("203.0.113.9", 443)
    except AnsibleLookupError as exc:
        pytest.skip("this machine has no default route: %s" % exc)
    assert address not in ("0.0.0.0", "203.0.113.9")
    socket.inet_aton(address)


def test_the_lookup_answers_one_address_per_term():
    expression = "{{ query('istiolab.mesh.source_address', '127.0.0.1', 'localhost', port=8080) }}"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "localhost", "-m", "ansible.builtin.debug", "-a", "msg=" + expression],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    assert answer[0] == "127.0.0.1" and answer[1] in ("127.0.0.1", "::1") and len(answer) == 2


def test_an_unresolvable_host_is_an_error_naming_it():
    with pytest.raises(AnsibleLookupError, match="cannot resolve 'no-such-host.invalid'"):
        source_address("no-such-host.invalid")


def test_no_role_runs_the_ip_command():
    """macOS has no `ip` (issue 10, defect 4): no task may run it."""
    offenders = []
    for path in sorted(REPO.glob("roles/*/tasks/*.yml")):
        for task in _tasks(yaml.safe_load(path.read_text()) or []):
            for action in ("ansible.builtin.command", "ansible.builtin.shell", "command", "shell"):
                args = task.get(action)
                argv = (args.get("argv") or str(args.get("cmd", "")).split()) if isinstance(args, dict) else str(args or "").split()
                if argv and str(argv[0]).rsplit("/", 1)[-1] == "ip":
                    offenders.append("%s: %s" % (path.relative_to(REPO), task.get("name")))
    assert offenders == []


def _tasks(tasks):
    for task in tasks:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _tasks(task.get(key) or [])
